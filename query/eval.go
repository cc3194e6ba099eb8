package query

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/strata-obs/strata/topology/graph"
)

// Graphs gives the graph at a time: the zero time is the latest graph, any other the graph
// as the storage recorded it then (time travel). The topology implements it.
type Graphs interface {
	GraphAt(ctx context.Context, at time.Time) (*graph.Graph, []string, error)
}

// Result is a query's answer: a table, the time it is about (zero: the latest graph), and the
// warnings of the graphs it read.
type Result struct {
	Columns  []string   `json:"columns"`
	Rows     [][]string `json:"rows"`
	At       time.Time  `json:"at,omitzero"`
	Warnings []string   `json:"-"`
	// Entities are the entities of the rows, in order, when the rows are entities (a path
	// without count or diff): the graph API draws them.
	Entities []*graph.Entity `json:"-"`
}

// Engine runs queries against the graphs.
type Engine struct {
	Graphs Graphs
	Limits Limits
	Now    func() time.Time
}

// Exec parses and runs a query. Every error is an *Error with a position.
func (e *Engine) Exec(ctx context.Context, src string) (*Result, error) {
	q, err := Parse(src, e.Limits)
	if err != nil {
		return nil, err
	}
	return e.Run(ctx, q)
}

// Run runs a parsed query.
func (e *Engine) Run(ctx context.Context, q *Query) (*Result, error) {
	if q.Diff != nil {
		return e.diff(ctx, q)
	}
	at := e.time(q)
	g, warnings, err := e.Graphs.GraphAt(ctx, at)
	if err != nil {
		return nil, fmt.Errorf("graph at %s: %w", describeTime(at), err)
	}
	res, err := Eval(ctx, g, q, e.Limits)
	if err != nil {
		return nil, err
	}
	res.At, res.Warnings = at, append(warnings, res.Warnings...)
	return res, nil
}

// time is the time a query is about: zero (the latest graph) unless @ or offset say otherwise.
func (e *Engine) time(q *Query) time.Time {
	if q.At == nil && q.Offset == 0 {
		return time.Time{}
	}
	at := e.now()
	if q.At != nil {
		at = *q.At
	}
	return at.Add(-q.Offset)
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func describeTime(at time.Time) string {
	if at.IsZero() {
		return "now"
	}
	return at.UTC().Format(time.RFC3339)
}

// Eval runs a query's path and stages on one graph.
func Eval(ctx context.Context, g *graph.Graph, q *Query, lim Limits) (*Result, error) {
	ents, err := walkPath(ctx, g, q.Path, lim)
	if err != nil {
		return nil, err
	}
	t := entityTable(ents, q.Path.Project)
	for _, st := range q.Stages {
		t = t.apply(st)
	}
	if lim.MaxResults > 0 && len(t.rows) > lim.MaxResults {
		return nil, &Error{q.Path.Steps[0].Pos, fmt.Sprintf("the answer has %d rows, more than the limit of %d (--query.max-results): narrow the selector or add | limit", len(t.rows), lim.MaxResults)}
	}
	return t.result(), nil
}

// walkPath selects the first step's entities and walks the others.
func walkPath(ctx context.Context, g *graph.Graph, path Path, lim Limits) ([]*graph.Entity, error) {
	budget := lim.MaxVisited
	if budget <= 0 {
		budget = int(^uint(0) >> 1)
	}
	var cur []*graph.Entity
	for i, st := range path.Steps {
		if err := ctx.Err(); err != nil {
			return nil, &Error{st.Pos, "query stopped: " + err.Error()}
		}
		if i == 0 {
			var sel []*graph.Entity
			g.Each(st.Kind, func(e *graph.Entity) {
				if budget--; matchesAll(e, st.Matchers) {
					sel = append(sel, e)
				}
			})
			if budget < 0 {
				return nil, visitedError(st, lim)
			}
			cur = pick(sel, st.Pick)
			continue
		}
		next, seen := []*graph.Entity{}, map[*graph.Entity]bool{}
		for _, from := range cur {
			reached, err := reach(g, from, st, &budget)
			if err != nil {
				return nil, visitedError(st, lim)
			}
			for _, e := range pick(reached, st.Pick) {
				if !seen[e] {
					seen[e] = true
					next = append(next, e)
				}
			}
		}
		cur = next
	}
	return cur, nil
}

func visitedError(st Step, lim Limits) error {
	return &Error{st.Pos, fmt.Sprintf("the query visits more than %d entities (--query.max-visited): narrow the selector", lim.MaxVisited)}
}

var errBudget = fmt.Errorf("visited too many entities")

// reach walks from one entity in the step's direction to the entities of the step's kind that
// pass its matchers, through the kinds in between (service -> host goes through instances,
// pods and containers). It never walks past the step's kind.
func reach(g *graph.Graph, from *graph.Entity, st Step, budget *int) ([]*graph.Entity, error) {
	depth := st.Kind.Depth()
	var out []*graph.Entity
	seen := map[*graph.Entity]bool{from: true}
	queue := []*graph.Entity{from}
	for len(queue) > 0 {
		e := queue[0]
		queue = queue[1:]
		edges := g.DownOf(e)
		if st.Dir == Up {
			edges = g.UpOf(e)
		}
		for _, edge := range edges {
			n := edge.ToEntity()
			if st.Dir == Up {
				n = edge.FromEntity()
			}
			if seen[n] {
				continue
			}
			seen[n] = true
			if *budget--; *budget < 0 {
				return nil, errBudget
			}
			d := n.Kind.Depth()
			switch {
			case n.Kind == st.Kind:
				if matchesAll(n, st.Matchers) {
					out = append(out, n)
				}
			case st.Dir == Down && d < depth, st.Dir == Up && d > depth:
				queue = append(queue, n)
			}
		}
	}
	return out, nil
}

func matchesAll(e *graph.Entity, ms []*Matcher) bool {
	for _, m := range ms {
		if !m.Matches(value(e, m.Name)) {
			return false
		}
	}
	return true
}

// value is an entity's attribute, else its label, by name; "kind", "name" and "id" are the
// entity's own.
func value(e *graph.Entity, name string) string {
	switch name {
	case "kind":
		return string(e.Kind)
	case "name", "id":
		return e.Attr(name)
	}
	if v, ok := e.Attrs[name]; ok {
		return v
	}
	return e.Labels[name]
}

// pick orders entities by position, then name, then id, and takes what the pick says.
func pick(es []*graph.Entity, p *Pick) []*graph.Entity {
	sortEntities(es)
	if p == nil {
		return es
	}
	n := len(es)
	norm := func(i int) int {
		if i < 0 {
			i += n
		}
		return min(max(i, 0), n)
	}
	if !p.sliceRange {
		i := *p.Index
		if i < 0 {
			i += n
		}
		if i < 0 || i >= n {
			return nil
		}
		return es[i : i+1]
	}
	from, to := 0, n
	if p.From != nil {
		from = norm(*p.From)
	}
	if p.To != nil {
		to = norm(*p.To)
	}
	if from >= to {
		return nil
	}
	return es[from:to]
}

func sortEntities(es []*graph.Entity) {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if c := compareValues(a.Attrs["position"], b.Attrs["position"]); c != 0 {
			return c < 0
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.ID < b.ID
	})
}

// compareValues orders numbers as numbers, the rest as strings; empty last.
func compareValues(a, b string) int {
	if a == b {
		return 0
	}
	if a == "" {
		return 1
	}
	if b == "" {
		return -1
	}
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	if err1 == nil && err2 == nil {
		return cmp.Compare(x, y)
	}
	return strings.Compare(a, b)
}

// table is rows in the making: each row keeps its entity while it has one, so that where
// and sort can use any attribute, projected or not.
type table struct {
	columns []string
	rows    []row
}

type row struct {
	entity *graph.Entity
	values []string
}

func entityTable(es []*graph.Entity, project []string) table {
	t := table{columns: append([]string{"kind", "id"}, project...)}
	if len(project) == 0 {
		t.columns = append(t.columns, "name")
	}
	for _, e := range es {
		r := row{entity: e, values: []string{string(e.Kind), e.ID}}
		if len(project) == 0 {
			r.values = append(r.values, e.Name)
		}
		for _, a := range project {
			r.values = append(r.values, value(e, a))
		}
		t.rows = append(t.rows, r)
	}
	return t
}

func (t table) get(r row, name string) string {
	if i := slices.Index(t.columns, name); i >= 0 {
		return r.values[i]
	}
	if r.entity != nil {
		return value(r.entity, name)
	}
	return ""
}

func (t table) apply(st Stage) table {
	switch st.Op {
	case "where":
		out := table{columns: t.columns}
		for _, r := range t.rows {
			if st.Where.Matches(t.get(r, st.Where.Name)) {
				out.rows = append(out.rows, r)
			}
		}
		return out
	case "sort":
		rows := slices.Clone(t.rows)
		slices.SortStableFunc(rows, func(a, b row) int {
			c := compareValues(t.get(a, st.By[0]), t.get(b, st.By[0]))
			if st.Desc {
				c = -c
			}
			return c
		})
		return table{columns: t.columns, rows: rows}
	case "limit":
		return table{columns: t.columns, rows: t.rows[:min(st.Limit, len(t.rows))]}
	case "count":
		groups := map[string]int{}
		var keys [][]string
		for _, r := range t.rows {
			key := make([]string, len(st.By))
			for i, b := range st.By {
				key[i] = t.get(r, b)
			}
			k := strings.Join(key, "\x00")
			if _, ok := groups[k]; !ok {
				keys = append(keys, key)
			}
			groups[k]++
		}
		slices.SortFunc(keys, func(a, b []string) int { return slices.Compare(a, b) })
		out := table{columns: append(slices.Clone(st.By), "count")}
		if len(st.By) == 0 && len(keys) == 0 {
			keys = [][]string{{}} // count of nothing is a row with 0
		}
		for _, k := range keys {
			out.rows = append(out.rows, row{values: append(slices.Clone(k), strconv.Itoa(groups[strings.Join(k, "\x00")]))})
		}
		return out
	}
	return t
}

func (t table) result() *Result {
	res := &Result{Columns: t.columns, Rows: [][]string{}}
	entities := true
	for _, r := range t.rows {
		res.Rows = append(res.Rows, r.values)
		if r.entity == nil {
			entities = false
		}
	}
	if entities {
		for _, r := range t.rows {
			res.Entities = append(res.Entities, r.entity)
		}
	}
	return res
}
