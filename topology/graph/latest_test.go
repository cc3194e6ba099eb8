package graph

import (
	"testing"
	"time"
)

// TestLatest: a value is computed once per graph and key; the graphs of one time are kept
// together, a newer time's drop them, a past graph is computed for and not kept.
func TestLatest(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	latest, view, newer, past := New(at), New(at), New(at.Add(time.Minute)), New(at.Add(-time.Hour))
	var l Latest[string, int]
	calls := 0
	f := func() int { calls++; return calls }
	for range 2 {
		l.Get(latest, "k", f)
		l.Get(view, "k", f)
	}
	if calls != 2 || !l.holds(latest) || !l.holds(view) {
		t.Errorf("%d computations for two graphs asked twice each, want 2", calls)
	}
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
