package ui

import "github.com/strata-obs/strata/topology/graph"

// memo keeps what a page computed over a whole graph (the fleet's distributions, every LB's
// counts, every service's failing instances, the search index) for the latest refresh's graphs
// (graph.Latest), so that on a fleet of 10,000 hosts only the first view after a refresh walks
// it. A page of a past time computes anew.
type memo = graph.Latest[string, any]

// cached is f's value for the graph and key, computed once per graph.
func cached[T any](m *memo, g *graph.Graph, key string, f func() T) T {
	return m.Get(g, key, func() any { return f() }).(T)
}

// Prepare computes what the pages keep per graph for the latest graph, so that the first
// request after a refresh finds it ready: the server calls it when the refresh loop makes a
// new graph. It takes what a request would, off the request's path.
func (u *UI) Prepare(g *graph.Graph) {
	u.Advance(g)
	u.servicesOf(g, "")
	u.lbRows(g, "")
	u.fleetOf(g, "")
	u.patchOf(g, "")
	u.searchIndex(g)
	u.names(g)
}

// Advance says g is the latest refresh's graph, whose pages (and views) the UI keeps from then
// on; a UI whose pages read views of it (a scoped role's) is advanced without preparing.
func (u *UI) Advance(g *graph.Graph) { u.memo.Advance(g) }

func (u *UI) searchIndex(g *graph.Graph) *searchIndex {
	return cached(&u.memo, g, "search-index", func() *searchIndex { return newSearchIndex(g) })
}

func (u *UI) names(g *graph.Graph) map[int][]string {
	return cached(&u.memo, g, "names", func() map[int][]string { return namesByLength(g) })
}
