package query

import (
	"cmp"
	"context"
	"fmt"
	"slices"
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
	// via is, for each step after the first, the entity of the step before that first reached
	// each entity of the step: what Path reads the rows' paths from, when they are asked for.
	via []map[*graph.Entity]*graph.Entity
}

// HasPaths tells whether the rows are entities with a path of more than one step: a one-step
// query's path is its row, and counted rows have none.
func (r *Result) HasPaths() bool { return r.Entities != nil && len(r.via) > 1 }

// Path is the refs (kind/id) of the entities of the query's steps that reached row i, first
// step first (lb/…, service/…, instance/…, host/…); nil when the row is not an entity. A page
// of a hundred rows of a 100,000-row answer makes only its hundred.
func (r *Result) Path(i int) []string {
	if r.Entities == nil || i >= len(r.Entities) {
		return nil
	}
	e := r.Entities[i]
	refs := make([]string, len(r.via))
	for j := len(r.via) - 1; j >= 0 && e != nil; j-- {
		refs[j] = string(e.Kind) + "/" + e.ID
		if j > 0 {
			e = r.via[j][e]
		}
	}
	return refs
}

// Paths is every row's Path; nil when the rows are not entities.
func (r *Result) Paths() [][]string {
	if r.Entities == nil {
		return nil
	}
	out := make([][]string, len(r.Entities))
	for i := range out {
		out[i] = r.Path(i)
	}
	return out
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
	now := at
	if now.IsZero() {
		now = e.now()
	}
	res, err := eval(ctx, g, q, e.Limits, e.Graphs, now)
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

// Eval runs a query's path and stages on one graph. The context's end stops it within a few
// thousand entities, wherever it is.
func Eval(ctx context.Context, g *graph.Graph, q *Query, lim Limits) (*Result, error) {
	return eval(ctx, g, q, lim, nil, time.Time{})
}

// eval is Eval with the stored graphs and the query's time, which compare since reads.
func eval(ctx context.Context, g *graph.Graph, q *Query, lim Limits, graphs Graphs, at time.Time) (*Result, error) {
	w := newWalker(ctx, lim)
	w.g, w.graphs, w.at = g, graphs, at
	w.setPath, w.setTime = setPathOf(q)
	ents, via, err := w.pathVia(g, q.Path)
	if err != nil {
		return nil, err
	}
	t := entityTable(ents, q.Path.Project)
	for _, st := range q.Stages {
		if t, err = t.apply(w, st); err != nil {
			return nil, err
		}
	}
	res, err := t.result(w, q.Path.Steps[0].Pos)
	if err != nil {
		return nil, err
	}
	res.Warnings = append(append(res.Warnings, unknownNames(g, q)...), w.warnings...)
	if res.Entities != nil {
		res.via = via
	}
	return res, nil
}

// walker does the work of one query: it counts what the query visits against
// --query.max-visited and the cells of its answer against --query.max-results, and looks at
// the query's context every checkEvery entities, so that a timeout or a client that went away
// stops it mid-walk rather than after it.
type walker struct {
	ctx   context.Context
	lim   Limits
	left  int // entities it may still visit
	ticks int
	// Room reused by each entity's reach and sort, not made anew for each.
	found []*graph.Entity
	keys  []entityKey
	// What a stage reads beyond the rows (compare: the graph, the query's path) and the
	// warnings it adds to the answer.
	g        *graph.Graph
	setPath  Path   // compare's set as a path, for each row's query
	setTime  string // and its time (" @ …", " offset …"), written after it
	warnings []string
	// The stored graphs and the query's time, for compare since; nil and zero in Eval.
	graphs Graphs
	at     time.Time
}

// warn adds a warning to the answer.
func (w *walker) warn(msg string) { w.warnings = append(w.warnings, msg) }

// checkEvery is how much work a walk does between two looks at its context: an entity visited,
// a matcher tried, a row sorted, counted or written is one. Often enough to stop within a
// millisecond, rarely enough to cost nothing.
const checkEvery = 256

func newWalker(ctx context.Context, lim Limits) *walker {
	left := lim.MaxVisited
	if left <= 0 {
		left = int(^uint(0) >> 1)
	}
	return &walker{ctx: ctx, lim: lim, left: left}
}

// visit counts one entity visited at the step st, whose matchers it is tried on.
func (w *walker) visit(st Step) error { return w.visitN(st.Pos, 1, 1+len(st.Matchers)) }

// visitN counts n entities visited at pos, and units of work for them.
func (w *walker) visitN(pos Pos, n, units int) error {
	if w.left -= n; w.left < 0 {
		return over(pos, FlagMaxVisited, fmt.Sprintf("the query visits more than %d entities", w.lim.MaxVisited), "narrow the selector")
	}
	return w.work(pos, units)
}

// tick counts one unit of work that visits nothing (a row sorted, counted or written).
func (w *walker) tick(pos Pos) error { return w.work(pos, 1) }

func (w *walker) work(pos Pos, units int) error {
	before := w.ticks
	if w.ticks += units; w.ticks/checkEvery != before/checkEvery {
		if err := w.ctx.Err(); err != nil {
			return &Error{Pos: pos, Msg: "query stopped: " + err.Error()}
		}
	}
	return nil
}

// cells refuses an answer of rows × columns cells over --query.max-results.
func (w *walker) cells(pos Pos, rows, columns int) error {
	if w.lim.MaxResults > 0 && rows*columns > w.lim.MaxResults {
		return over(pos, FlagMaxResults, fmt.Sprintf("the answer has more than %d cells, rows × columns", w.lim.MaxResults),
			"narrow the selector, project fewer attributes or add | limit")
	}
	return nil
}

// path selects the first step's entities and walks the others.
func (w *walker) path(g *graph.Graph, path Path) ([]*graph.Entity, error) {
	ents, _, err := w.pathVia(g, path)
	return ents, err
}

// pathVia is path, with, for each step after the first, the entity of the step before that
// first reached each entity of the step: the path an answer's row came through.
func (w *walker) pathVia(g *graph.Graph, path Path) ([]*graph.Entity, []map[*graph.Entity]*graph.Entity, error) {
	var cur []*graph.Entity
	via := make([]map[*graph.Entity]*graph.Entity, len(path.Steps))
	for i, st := range path.Steps {
		if err := w.ctx.Err(); err != nil {
			return nil, nil, &Error{Pos: st.Pos, Msg: "query stopped: " + err.Error()}
		}
		if i == 0 {
			var sel []*graph.Entity
			for e := range g.All(st.Kind) {
				if err := w.visit(st); err != nil {
					return nil, nil, err
				}
				if matchesAll(e, st.Matchers) {
					sel = append(sel, e)
				}
			}
			cur = w.pick(sel, st.Pick)
			continue
		}
		// What each entity reached, then the first to reach each: the map is made once at
		// its size, not grown through a 100,000-entity answer.
		var reached []hop
		for _, prev := range cur {
			found, err := w.reach(g, prev, st)
			if err != nil {
				return nil, nil, err
			}
			for _, e := range w.pick(found, st.Pick) {
				reached = append(reached, hop{e, prev})
			}
		}
		next, from := make([]*graph.Entity, 0, len(reached)), make(map[*graph.Entity]*graph.Entity, len(reached))
		for _, r := range reached {
			if _, seen := from[r.e]; !seen {
				from[r.e] = r.prev
				next = append(next, r.e)
			}
		}
		cur, via[i] = next, from
	}
	return cur, via, nil
}

// hop is an entity reached, and the entity of the step before that reached it.
type hop struct{ e, prev *graph.Entity }

// reach walks from one entity in the step's direction to the entities of the step's kind that
// pass its matchers, through the kinds in between (service -> host goes through instances,
// pods and containers). It never walks past the step's kind. What it answers is the walker's
// until its next reach.
func (w *walker) reach(g *graph.Graph, from *graph.Entity, st Step) ([]*graph.Entity, error) {
	depth := st.Kind.Depth()
	out := w.found[:0]
	defer func() { w.found = out }()
	err := g.Walk(from, st.Dir == Up, func(n *graph.Entity) (bool, error) {
		if err := w.visit(st); err != nil {
			return false, err
		}
		if n.Kind == st.Kind {
			if matchesAll(n, st.Matchers) {
				out = append(out, n)
			}
			return false, nil
		}
		d := n.Kind.Depth()
		return st.Dir == Down && d < depth || st.Dir == Up && d > depth, nil
	})
	return out, err
}

func matchesAll(e *graph.Entity, ms []*Matcher) bool {
	for _, m := range ms {
		if !m.Matches(value(e, m.Name)) {
			return false
		}
	}
	return true
}

// value is an entity's attribute, else its label, by name; graph.OwnAttrs ("kind", "name",
// "id", "stale") are the entity's own.
func value(e *graph.Entity, name string) string {
	if slices.Contains(graph.OwnAttrs, name) {
		return e.Attr(name)
	}
	if v, ok := e.Attrs.Lookup(name); ok {
		return v
	}
	return e.Labels[name]
}

// pick orders entities by position, then name, then id, and takes what the pick says.
func (w *walker) pick(es []*graph.Entity, p *Pick) []*graph.Entity {
	w.sortEntities(es)
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

// sortEntities orders entities by position, then name, then id. Each position is read and
// parsed once, not at every comparison: an answer of 100,000 instances sorts them in groups,
// the instances under each LB.
func (w *walker) sortEntities(es []*graph.Entity) {
	if len(es) < 2 {
		return
	}
	keyed := w.keys[:0]
	for _, e := range es {
		keyed = append(keyed, entityKey{pos: sortValue(e.Attrs.Get("position")), e: e})
	}
	w.keys = keyed
	compare := func(a, b entityKey) int {
		if c := a.pos.compare(b.pos); c != 0 {
			return c
		}
		if a.e.Name != b.e.Name {
			return strings.Compare(a.e.Name, b.e.Name)
		}
		if a.e.Kind != b.e.Kind {
			return strings.Compare(string(a.e.Kind), string(b.e.Kind))
		}
		return strings.Compare(a.e.ID, b.e.ID)
	}
	if slices.IsSortedFunc(keyed, compare) {
		return
	}
	slices.SortFunc(keyed, compare) // no two entities share a kind and an id: the order is whole
	for i, k := range keyed {
		es[i] = k.e
	}
}

// entityKey is an entity with its position read for sorting.
type entityKey struct {
	pos sorted
	e   *graph.Entity
}

// sorted is a value with its number parsed once, for sorting: numbers as numbers, the rest as
// strings, empty last.
type sorted struct {
	s     string
	n     float64
	isNum bool
}

func sortValue(s string) sorted {
	n, err := strconv.ParseFloat(s, 64)
	return sorted{s: s, n: n, isNum: err == nil}
}

func (a sorted) compare(b sorted) int {
	switch {
	case a.s == b.s:
		return 0
	case a.s == "":
		return 1
	case b.s == "":
		return -1
	case a.isNum && b.isNum:
		return cmp.Compare(a.n, b.n)
	}
	return strings.Compare(a.s, b.s)
}

// table is rows in the making. Until a count groups them, its rows are entities and their
// cells are read from the entities only when the answer is written: where and sort can use any
// attribute, projected or not, and a wide projection cut by | limit costs nothing for the rows
// it cuts. The cells are counted against --query.max-results before they are made.
type table struct {
	columns []string
	ents    []*graph.Entity // the rows while they are entities
	rows    [][]string      // the rows once a count made them values; nil before
	grouped bool
}

func entityTable(es []*graph.Entity, project []string) table {
	t := table{columns: append([]string{"kind", "id"}, project...), ents: es}
	if len(project) == 0 {
		t.columns = append(t.columns, "name")
	}
	return t
}

// len is the number of rows.
func (t table) len() int {
	if t.grouped {
		return len(t.rows)
	}
	return len(t.ents)
}

// get is row i's value of name: its column, else (for an entity) its attribute or label.
func (t table) get(i int, name string) string {
	if !t.grouped {
		return value(t.ents[i], name) // an entity's columns are its values by the same names
	}
	if c := slices.Index(t.columns, name); c >= 0 {
		return t.rows[i][c]
	}
	return ""
}

// keep is the table with the rows at idx, in that order.
func (t table) keep(idx []int) table {
	out := table{columns: t.columns, grouped: t.grouped}
	if t.grouped {
		out.rows = make([][]string, len(idx))
		for j, i := range idx {
			out.rows[j] = t.rows[i]
		}
		return out
	}
	out.ents = make([]*graph.Entity, len(idx))
	for j, i := range idx {
		out.ents[j] = t.ents[i]
	}
	return out
}

// apply runs one stage on the table.
func (t table) apply(w *walker, st Stage) (table, error) {
	kind, ok := stageNamed(st.Op)
	if !ok {
		return t, fmt.Errorf("%s: unknown stage %q", st.Pos, st.Op)
	}
	return kind.apply(t, w, st)
}

// result writes the answer, its cells counted before they are made.
func (t table) result(w *walker, pos Pos) (*Result, error) {
	if t.grouped {
		return &Result{Columns: t.columns, Rows: t.rows}, nil
	}
	if err := w.cells(pos, len(t.ents), len(t.columns)); err != nil {
		return nil, err
	}
	res := &Result{Columns: t.columns, Rows: make([][]string, len(t.ents)), Entities: t.ents}
	n := len(t.columns)
	cells := make([]string, len(t.ents)*n) // one block for every row's cells
	for i, e := range t.ents {
		if err := w.tick(pos); err != nil {
			return nil, err
		}
		row := cells[i*n : (i+1)*n : (i+1)*n]
		for c, name := range t.columns {
			row[c] = value(e, name)
		}
		res.Rows[i] = row
	}
	return res, nil
}
