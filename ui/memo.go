package ui

import (
	"sync"

	"github.com/strata-obs/strata/topology/graph"
)

// memo keeps what a page computed over a whole graph (the fleet's distributions, every LB's
// counts, every service's failing instances) until the graph changes, so that on a fleet of
// 10,000 hosts only the first view after a refresh walks it. A graph is never changed once
// made: its pointer is its version. One graph at a time: a page of a past time computes anew.
type memo struct {
	mu   sync.Mutex
	g    *graph.Graph
	vals map[string]any
}

// cached is f's value for the graph and key, computed once per graph. Two requests that miss
// at once both compute: neither waits on the other's lock while walking the fleet.
func cached[T any](m *memo, g *graph.Graph, key string, f func() T) T {
	m.mu.Lock()
	if m.g == g {
		if v, ok := m.vals[key]; ok {
			m.mu.Unlock()
			return v.(T)
		}
	}
	m.mu.Unlock()
	v := f()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.g != g {
		m.g, m.vals = g, map[string]any{}
	}
	m.vals[key] = v
	return v
}

// Prepare computes what the pages keep per graph for the latest graph, so that the first
// request after a refresh finds it ready: the server calls it when the refresh loop makes a
// new graph. It takes what a request would, off the request's path.
func (u *UI) Prepare(g *graph.Graph) {
	u.servicesOf(g, "")
	u.lbRows(g, "")
	u.fleetOf(g, "")
	u.searchIndex(g)
	u.names(g)
}

func (u *UI) searchIndex(g *graph.Graph) *searchIndex {
	return cached(&u.memo, g, "search-index", func() *searchIndex { return newSearchIndex(g) })
}

func (u *UI) names(g *graph.Graph) map[int][]string {
	return cached(&u.memo, g, "names", func() map[int][]string { return namesByLength(g) })
}
