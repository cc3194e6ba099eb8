package graph

import (
	"testing"
	"time"
)

// TestLatest: a value is computed once per graph and key for the latest refresh's graphs (a
// graph and its views, of its time), a newer refresh drops them, and a graph of another time
// (a past one, or a later one read back from the history) is computed for and not kept.
func TestLatest(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	latest, view, newer, past := New(at), New(at), New(at.Add(time.Minute)), New(at.Add(-time.Hour))
	var l Latest[string, int]
	calls := 0
	f := func() int { calls++; return calls }
	l.Get(latest, "k", f)
	if l.holds(latest) {
		t.Error("a graph is kept before the refresh loop says which is the latest")
	}
	calls = 0
	l.Advance(latest)
	for range 2 {
		l.Get(latest, "k", f)
		l.Get(view, "k", f)
	}
	if calls != 2 || !l.holds(latest) || !l.holds(view) {
		t.Errorf("%d computations for two graphs asked twice each, want 2", calls)
	}
	later := New(at.Add(time.Second)) // a graph "now" read back from the history
	l.Get(later, "k", f)
	if l.holds(later) || !l.holds(latest) {
		t.Error("a later graph of the history is kept, or let the latest refresh's go")
	}
	calls--
	l.Advance(newer)
	l.Get(newer, "k", f)
	if l.holds(latest) || l.holds(view) || !l.holds(newer) {
		t.Error("a newer refresh's graph did not let the last ones go")
	}
	l.Get(past, "k", f)
	l.Get(past, "k", f)
	if calls != 5 || l.holds(past) {
		t.Errorf("a past graph: %d computations, kept %v", calls, l.holds(past))
	}
}
