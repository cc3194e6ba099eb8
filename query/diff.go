package query

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/strata-obs/strata/topology/graph"
)

// diff answers diff(path, from, to): what changed between the two times among the entities the
// path reaches and everything below them (what they run on), and the edges between those:
// entities and edges added or removed, attributes changed (a kernel upgrade, a new address),
// but not the LB's traffic signals (req_rate, error_ratio, …), which change every refresh. A
// pod moved to another host is its edge to the old host removed and one to the new added.
func (e *Engine) diff(ctx context.Context, q *Query) (*Result, error) {
	var scopes [2]map[graph.Ref]*graph.Entity
	var edges [2]map[[2]graph.Ref]bool
	var warnings []string
	w := newWalker(ctx, e.Limits)
	pos := q.Path.Steps[0].Pos
	for i, t := range []time.Time{q.Diff.From, q.Diff.To} {
		g, ws, err := e.Graphs.GraphAt(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("graph at %s: %w", describeTime(t), err)
		}
		warnings = append(warnings, ws...)
		ents, err := w.path(g, q.Path)
		if err != nil {
			return nil, err
		}
		if scopes[i], edges[i], err = w.below(g, ents, pos); err != nil {
			return nil, err
		}
	}
	res := &Result{Columns: []string{"change", "kind", "id", "attribute", "from", "to"}, Rows: [][]string{}, Warnings: warnings}
	var failed error
	add := func(change string, r graph.Ref, attr, from, to string) {
		if failed == nil {
			failed = w.cells(pos, len(res.Rows)+1, len(res.Columns))
		}
		if failed == nil {
			res.Rows = append(res.Rows, []string{change, string(r.Kind), r.ID, attr, from, to})
		}
	}
	for _, r := range sortedRefs(scopes[0], scopes[1]) {
		if failed == nil {
			failed = w.tick(pos)
		}
		if failed != nil {
			return nil, failed
		}
		old, was := scopes[0][r]
		cur, is := scopes[1][r]
		switch {
		case !was:
			add("added", r, "", "", "")
		case !is:
			add("removed", r, "", "", "")
		default:
			for _, a := range attrNames(old, cur) {
				if x, y := value(old, a), value(cur, a); x != y {
					add("changed", r, a, x, y)
				}
			}
		}
	}
	var edgeRows [][]string
	for i, change := range []string{"removed", "added"} {
		for k := range edges[i] {
			if !edges[1-i][k] {
				if err := w.cells(pos, len(res.Rows)+len(edgeRows)+1, len(res.Columns)); err != nil {
					return nil, err
				}
				edgeRows = append(edgeRows, []string{change, "edge", k[0].String() + " -> " + k[1].String(), "", "", ""})
			}
		}
	}
	if failed != nil {
		return nil, failed
	}
	sort.Slice(edgeRows, func(i, j int) bool { return slices.Compare(edgeRows[i], edgeRows[j]) < 0 })
	res.Rows = append(res.Rows, edgeRows...)
	return res, nil
}

// below is the entities and everything their edges lead down to, and the edges among them.
func (w *walker) below(g *graph.Graph, from []*graph.Entity, pos Pos) (map[graph.Ref]*graph.Entity, map[[2]graph.Ref]bool, error) {
	scope, edges := map[graph.Ref]*graph.Entity{}, map[[2]graph.Ref]bool{}
	queue := slices.Clone(from)
	for _, e := range from {
		scope[e.Ref] = e
	}
	for len(queue) > 0 {
		e := queue[0]
		queue = queue[1:]
		for _, edge := range g.DownOf(e) {
			edges[[2]graph.Ref{edge.From(), edge.To()}] = true
			if n := edge.ToEntity(); scope[n.Ref] == nil {
				if err := w.visit(Step{Pos: pos}); err != nil {
					return nil, nil, err
				}
				scope[n.Ref] = n
				queue = append(queue, n)
			}
		}
	}
	return scope, edges, nil
}

func sortedRefs(a, b map[graph.Ref]*graph.Entity) []graph.Ref {
	var out []graph.Ref
	for r := range a {
		out = append(out, r)
	}
	for r := range b {
		if a[r] == nil {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind.Depth() < out[j].Kind.Depth()
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// attrNames is every attribute and label either entity has, and its name, sorted; not the
// LB's traffic signals (graph.IsSignal), which move with every refresh and would bury what
// changed.
func attrNames(a, b *graph.Entity) []string {
	set := map[string]bool{}
	if a.Name != b.Name {
		set["name"] = true
	}
	for _, e := range []*graph.Entity{a, b} {
		for k := range e.Attrs.All() {
			set[k] = true
		}
		for k := range e.Labels {
			set[k] = true
		}
	}
	maps.DeleteFunc(set, func(k string, _ bool) bool { return graph.IsSignal(k) })
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
