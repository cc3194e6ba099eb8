package auth

import (
	"slices"
	"strings"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/strata-obs/strata/topology/graph"
)

// Scope is what a role may see: the entities any of its matcher sets selects, everything below
// them toward the hardware, and the services and LBs above the instances among those.
type Scope struct {
	entries []string // as written, for whoami and the audit log
	sets    [][]*labels.Matcher
}

// ParseScope reads a role's scope: each entry is a set of PromQL matchers (all must hold), and
// an entity is selected when any set selects it.
func ParseScope(entries []string) (*Scope, error) {
	s := &Scope{entries: entries}
	for _, e := range entries {
		ms, err := parseMatchers(e)
		if err != nil {
			return nil, err
		}
		s.sets = append(s.sets, ms)
	}
	return s, nil
}

// String is the scope as written: `team="payments"; env="prod"`.
func (s *Scope) String() string { return strings.Join(s.entries, "; ") }

// Entries are the scope's entries as written.
func (s *Scope) Entries() []string { return s.entries }

// Selects tells whether one of the scope's matcher sets selects e. A matcher tests an
// attribute, else a label, as the path language's do (graph.OwnAttrs are the entity's own); one the entity lacks reads as empty, as a missing label does in PromQL.
func (s *Scope) Selects(e *graph.Entity) bool {
	for _, set := range s.sets {
		all := true
		for _, m := range set {
			if !m.Matches(valueOf(e, m.Name)) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func valueOf(e *graph.Entity, name string) string {
	if slices.Contains(graph.OwnAttrs, name) {
		return e.Attr(name)
	}
	if v, ok := e.Attrs.Lookup(name); ok {
		return v
	}
	return e.Labels[name]
}

// Visible is the part of g the scope may see, as a graph of its own: every answer built on
// it (a path query, the graph and entity APIs, a diff, the UI) then holds nothing else, and a
// question about anything else answers as if it did not exist.
func (s *Scope) Visible(g *graph.Graph) *graph.Graph {
	seen := map[*graph.Entity]bool{}
	var queue []*graph.Entity
	g.Each("", func(e *graph.Entity) {
		if s.Selects(e) {
			seen[e] = true
			queue = append(queue, e)
		}
	})
	// Everything below, toward the hardware.
	for len(queue) > 0 {
		e := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, edge := range g.DownOf(e) {
			if n := edge.ToEntity(); !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	// The services and LBs of the instances seen: an LB none of whose instances is seen stays
	// out, and so does everything else above (another team's containers on a shared host).
	var instances []*graph.Entity
	for e := range seen {
		if e.Kind == graph.Instance {
			instances = append(instances, e)
		}
	}
	for _, inst := range instances {
		for _, up := range g.UpOf(inst) {
			svc := up.FromEntity()
			if svc.Kind != graph.Service {
				continue
			}
			seen[svc] = true
			for _, up := range g.UpOf(svc) {
				if lb := up.FromEntity(); lb.Kind == graph.LB {
					seen[lb] = true
				}
			}
		}
	}
	return graph.Subgraph(g, func(e *graph.Entity) bool { return seen[e] })
}
