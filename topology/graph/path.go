package graph

import "cmp"

// Path is an instance and what runs it: the row of strata_topology_path_info, of the entity
// API's paths and of the LB page's instance table.
type Path struct {
	Instance, Pod, Container, Host *Entity
}

// Paths walks every instance down to its pod, containers and host, in no particular order.
func Paths(g *Graph) []Path {
	var out []Path
	g.Each(Instance, func(inst *Entity) { out = append(out, PathsOf(g, inst)...) })
	return out
}

// PathsOf walks one instance down to its pod, containers and host: one row per container,
// one row without container when the instance runs on a host directly or is unresolved.
func PathsOf(g *Graph, inst *Entity) []Path {
	var rows []Path
	EachPath(g, inst, func(p Path) { rows = append(rows, p) })
	return rows
}

// EachPath is PathsOf without the slice, for a walk over every instance of a fleet.
func EachPath(g *Graph, inst *Entity, f func(Path)) {
	n := 0
	for _, edge := range g.DownOf(inst) {
		target := edge.ToEntity()
		switch target.Kind {
		case Pod:
			host, containers := g.FirstBelow(target, Host), 0
			for _, e := range g.DownOf(target) {
				if e.To().Kind != Container {
					continue
				}
				c := e.ToEntity()
				f(Path{Instance: inst, Pod: target, Container: c, Host: cmp.Or(g.FirstBelow(c, Host), host)})
				containers++
			}
			n += containers
			if containers == 0 {
				f(Path{Instance: inst, Pod: target, Host: host})
				n++
			}
		case Container:
			f(Path{Instance: inst, Pod: g.FirstAbove(target, Pod), Container: target, Host: g.FirstBelow(target, Host)})
			n++
		case Host:
			f(Path{Instance: inst, Host: target})
			n++
		}
	}
	if n == 0 {
		f(Path{Instance: inst})
	}
}

// FirstBelow and FirstAbove are the first entity of a kind directly below or above r, or nil:
// Below and Above without the slice.
func (g *Graph) FirstBelow(r *Entity, kind Kind) *Entity {
	for _, e := range g.DownOf(r) {
		if e.To().Kind == kind {
			return e.ToEntity()
		}
	}
	return nil
}

func (g *Graph) FirstAbove(r *Entity, kind Kind) *Entity {
	for _, e := range g.UpOf(r) {
		if e.From().Kind == kind {
			return e.FromEntity()
		}
	}
	return nil
}

// Walk visits every entity reachable from from, breadth first, down its edges or up them,
// each once and from itself excluded: the walk behind a path query's steps and an entity page's
// lists. visit says whether to go on past an entity; its error ends the walk and is returned.
func (g *Graph) Walk(from *Entity, up bool, visit func(*Entity) (deeper bool, err error)) error {
	seen := map[*Entity]bool{from: true}
	queue := []*Entity{from}
	for len(queue) > 0 {
		e := queue[0]
		queue = queue[1:]
		edges := g.DownOf(e)
		if up {
			edges = g.UpOf(e)
		}
		for _, edge := range edges {
			n := edge.ToEntity()
			if up {
				n = edge.FromEntity()
			}
			if seen[n] {
				continue
			}
			seen[n] = true
			deeper, err := visit(n)
			if err != nil {
				return err
			}
			if deeper {
				queue = append(queue, n)
			}
		}
	}
	return nil
}
