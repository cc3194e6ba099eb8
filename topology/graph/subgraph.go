package graph

// Subgraph is the part of g that keep holds: copies of the entities it keeps (their maps
// shared, never written through a subgraph) and the edges between two of them, with their
// sources and last-seen times. An access scope is one: a team's view of the fleet.
func Subgraph(g *Graph, keep func(*Entity) bool) *Graph {
	out := NewSized(g.At, 0)
	copies := make([]*Entity, len(g.nodes)) // by place in g
	for i, n := range g.nodes {
		if keep(n.entity) {
			c := *n.entity
			c.LastSeen = g.LastSeen(n.entity)
			copies[i] = out.Put(&c)
		}
	}
	for i, n := range g.nodes {
		if copies[i] == nil {
			continue
		}
		for _, e := range n.down {
			p, _ := g.at(e.to) // an edge's ends are in its graph
			to := copies[p]
			if to == nil {
				continue
			}
			out.connectCopy(copies[i], to, e)
		}
	}
	out.singles = g.singles
	return out
}

// connectCopy adds an edge of another graph between two entities of this one, as it was.
func (g *Graph) connectCopy(from, to *Entity, e *Edge) {
	if len(g.slab) == cap(g.slab) {
		g.slab = make([]Edge, 0, 4096)
	}
	g.slab = append(g.slab, Edge{from: from, to: to, Sources: e.Sources, seen: e.seen})
	c := &g.slab[len(g.slab)-1]
	g.nodes[from.place].down = append(g.nodes[from.place].down, c)
	g.nodes[to.place].up = append(g.nodes[to.place].up, c)
	g.edges++
}
