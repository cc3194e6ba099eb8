package ui

import (
	"sync"

	"github.com/strata-obs/strata/topology/graph"
)

// memo keeps what a page computed over a whole graph (the fleet's distributions, every LB's
// counts, every service's failing instances) until the graph changes, so that on a fleet of
// 10,000 hosts only the first view after a refresh walks it. A graph is never changed once
// made: its pointer is its version. The graphs of the latest refresh only (the graph and the
// views of it that roles with a scope see, each its own graph, all of its time), so that two
// teams' pages do not evict each other and a refresh lets the last graph go: a graph of a
// fleet is gigabytes. A page of a past time computes anew.
type memo struct {
	mu     sync.Mutex
	graphs []*graph.Graph // of one time, at most memoGraphs, the first kept first
	vals   map[*graph.Graph]map[string]any
}

// memoGraphs bounds the graphs the memo keeps.
const memoGraphs = 8

// cached is f's value for the graph and key, computed once per graph. Two requests that miss
// at once both compute: neither waits on the other's lock while walking the fleet.
func cached[T any](m *memo, g *graph.Graph, key string, f func() T) T {
	m.mu.Lock()
	if v, ok := m.vals[g][key]; ok {
		m.mu.Unlock()
		return v.(T)
	}
	m.mu.Unlock()
	v := f()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.graphs) > 0 && g.At.Before(m.graphs[0].At) {
		return v // a past graph: not kept
	}
	if len(m.graphs) > 0 && g.At.After(m.graphs[0].At) {
		m.graphs, m.vals = nil, nil // a newer refresh: the last one's graphs go
	}
	if m.vals == nil {
		m.vals = map[*graph.Graph]map[string]any{}
	}
	if m.vals[g] == nil {
		if len(m.graphs) == memoGraphs {
			delete(m.vals, m.graphs[0])
			m.graphs = m.graphs[1:]
		}
		m.graphs = append(m.graphs, g)
		m.vals[g] = map[string]any{}
	}
	m.vals[g][key] = v
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
