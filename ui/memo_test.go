package ui

import (
	"testing"
	"time"

	"github.com/strata-obs/strata/topology/graph"
)

// TestMemo: a value is computed once per graph; the graphs of one refresh (a graph and its
// scoped views) are kept together, a newer refresh's drop them, a past graph is not kept.
func TestMemo(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	latest, view, newer, past := graph.New(at), graph.New(at), graph.New(at.Add(time.Minute)), graph.New(at.Add(-time.Hour))
	var m memo
	calls := 0
	f := func() int { calls++; return calls }
	for range 2 {
		cached(&m, latest, "k", f)
		cached(&m, view, "k", f)
	}
	if calls != 2 {
		t.Errorf("%d computations for two graphs asked twice each, want 2", calls)
	}
	cached(&m, newer, "k", f)
	if len(m.graphs) != 1 || m.graphs[0] != newer {
		t.Errorf("after a newer refresh the memo keeps %d graphs", len(m.graphs))
	}
	cached(&m, past, "k", f)
	cached(&m, past, "k", f)
	if calls != 5 || len(m.graphs) != 1 {
		t.Errorf("a past graph: %d computations, %d graphs kept", calls, len(m.graphs))
	}
}
