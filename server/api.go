package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/storage"

	"github.com/strata-obs/strata/internal/httpapi"
	"github.com/strata-obs/strata/internal/store"
	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/query/promql"
	"github.com/strata-obs/strata/topology"
	"github.com/strata-obs/strata/topology/auth"
	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/plan"
)

// The JSON API answers in Prometheus's envelope: {"status":"success","data":…,"warnings":[…]}
// or {"status":"error","errorType":"bad_data","error":"…"} (docs/design.md, "Series and API contract").

// EntityJSON is an entity as the API shows it.
type EntityJSON struct {
	Kind     string            `json:"kind"`
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Attrs    map[string]string `json:"attributes"`
	Labels   map[string]string `json:"labels"`
	Sources  []string          `json:"sources"`
	LastSeen time.Time         `json:"last_seen"`
	Stale    bool              `json:"stale"`
}

// EdgeJSON is an edge as the API shows it.
type EdgeJSON struct {
	From     string    `json:"from"`
	To       string    `json:"to"`
	Sources  []string  `json:"sources"`
	LastSeen time.Time `json:"last_seen"`
}

func entityJSON(g *graph.Graph, e *graph.Entity) EntityJSON {
	return EntityJSON{Kind: string(e.Kind), ID: e.ID, Name: e.Name, Attrs: e.Attrs.Map(), Labels: nonNil(e.Labels),
		Sources: e.Sources, LastSeen: g.LastSeen(e), Stale: e.Stale}
}

func edgeJSON(e *graph.Edge) EdgeJSON {
	return EdgeJSON{From: e.From().String(), To: e.To().String(), Sources: e.Sources, LastSeen: e.LastSeen()}
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// API serves the topology's JSON endpoints.
type API struct {
	r      *topology.Refresher
	graphs graphs
	opts   APIOptions
}

// APIOptions bound the queries the API runs.
type APIOptions struct {
	// View narrows a graph to what the request's identity may see (auth.Authenticator.View);
	// nil: everything.
	View func(ctx context.Context, g *graph.Graph) *graph.Graph
	// History is the storage the topology's series are read from for a past time.
	History storage.Queryable
	// Sites: the history holds many sites' topology (a global strata), each rebuilt on its own.
	Sites   bool
	Limits  query.Limits
	Timeout time.Duration // --query.timeout
	// PromQL evaluates an instant query as the request's identity may read (compare's promql=);
	// nil: none.
	PromQL func(ctx context.Context, expr string, at time.Time) ([]store.Sample, error)
}

// NewAPI serves r's graph, and the graph at a past time from the history.
func NewAPI(r *topology.Refresher, opts APIOptions) *API {
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	opts.Limits = opts.Limits.OrDefaults()
	return &API{r: r, graphs: graphs{r: r, history: opts.History, view: opts.View, sites: opts.Sites}, opts: opts}
}

// Register adds the endpoints to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/topology/graph", a.graph)
	mux.HandleFunc("POST /api/v1/topology/graph", a.graph) // a long q= in a form
	mux.HandleFunc("GET /api/v1/topology/entity/{kind}/{id...}", a.entity)
	mux.HandleFunc("GET /api/v1/topology/entity/{kind}", a.entity) // ?id=
	mux.HandleFunc("GET /api/v1/topology/sources", a.sources)
	mux.HandleFunc("GET /api/v1/auth/whoami", a.whoami)
	for _, m := range []string{"GET", "POST"} {
		mux.HandleFunc(m+" /api/v1/topology/query", a.query)
		mux.HandleFunc(m+" /api/v1/topology/compare", a.compare)
		mux.HandleFunc(m+" /api/v1/topology/diff", a.diff)
		mux.HandleFunc(m+" /api/v1/topology/plan", a.plan)
	}
}

// graphs gives the query engine the latest graph, and for a past time the graph the storage
// recorded then (topology series, GraphAt).
type graphs struct {
	r       *topology.Refresher
	history storage.Queryable
	view    func(ctx context.Context, g *graph.Graph) *graph.Graph // nil: all of it
	sites   bool                                                   // the history is many sites' (topology.GraphAtSites)
}

// GraphAt is the graph at a time as the request may see it: every answer is built on it.
func (g graphs) GraphAt(ctx context.Context, at time.Time) (*graph.Graph, []string, error) {
	gr, w, err := g.graphAt(ctx, at)
	if err != nil || g.view == nil {
		return gr, w, err
	}
	return g.view(ctx, gr), w, nil
}

func (g graphs) graphAt(ctx context.Context, at time.Time) (*graph.Graph, []string, error) {
	if at.IsZero() {
		if !g.r.Refreshed() && g.history != nil {
			// Just started: until the first refresh, the latest graph is the one stored
			// before the restart.
			gr, w, err := g.read(ctx, time.Now())
			return gr, append(w, "the first refresh since the start has not finished: this is the graph as stored before"), err
		}
		gr, w := g.r.Graph()
		return gr, w, nil
	}
	if g.history == nil {
		return nil, nil, errors.New("no storage to read a past graph from")
	}
	return g.read(ctx, at)
}

// read rebuilds the graph of at from the history.
func (g graphs) read(ctx context.Context, at time.Time) (*graph.Graph, []string, error) {
	if g.sites {
		gr, _, w, err := topology.GraphAtSites(ctx, g.history, at, topology.SilentAfter)
		return gr, w, err
	}
	return topology.GraphAt(ctx, g.history, at)
}

// timeParam reads an optional time parameter (RFC 3339 or unix seconds); zero when absent.
func timeParam(r *http.Request, name string) (time.Time, error) {
	v := r.FormValue(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := query.ParseTime(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid parameter %q: %w", name, err)
	}
	return t, nil
}

// graphAt is the graph a request asks for: the latest, or at its time parameter.
func (a *API) graphAt(w http.ResponseWriter, r *http.Request) (*graph.Graph, []string, bool) {
	at, err := timeParam(r, "time")
	if err != nil {
		httpapi.Error(w, httpapi.BadData, err.Error())
		return nil, nil, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.opts.Timeout)
	defer cancel()
	g, warnings, err := a.graphs.GraphAt(ctx, at)
	if err != nil {
		a.failed(w, ctx, err)
		return nil, nil, false
	}
	return g, warnings, true
}

// run runs a parsed query for a request, answering its error if it fails.
func (a *API) run(w http.ResponseWriter, r *http.Request, q *query.Query, now time.Time) (*query.Result, bool) {
	ctx, cancel := context.WithTimeout(r.Context(), a.opts.Timeout)
	defer cancel()
	eng := &query.Engine{Graphs: a.graphs, Limits: a.opts.Limits, Now: func() time.Time {
		if !now.IsZero() {
			return now
		}
		return time.Now()
	}}
	res, err := eng.Run(ctx, q)
	if err != nil {
		a.failed(w, ctx, err)
		return nil, false
	}
	return res, true
}

// failed answers the error of a query that parsed, as Prometheus answers: out of time is
// timeout (503), a client gone is canceled (499, which nobody reads), anything else, a limit's
// refusal included, execution (422).
func (a *API) failed(w http.ResponseWriter, ctx context.Context, err error) {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		httpapi.Error(w, httpapi.Timeout, "query timed out after "+a.opts.Timeout.String()+" (--query.timeout)")
	case ctx.Err() != nil:
		httpapi.Error(w, httpapi.Canceled, "query canceled: "+ctx.Err().Error())
	default:
		httpapi.Error(w, httpapi.Execution, err.Error())
	}
}

func (a *API) parse(w http.ResponseWriter, r *http.Request) (*query.Query, bool) {
	src := r.FormValue("q")
	if src == "" {
		src = r.FormValue("query")
	}
	if src == "" {
		httpapi.Error(w, httpapi.BadData, "missing parameter q: a path query, e.g. service{name=\"c1ps\"} -> instance[0] -> host .kernel_release")
		return nil, false
	}
	return a.parseText(w, src)
}

// parseText parses a query's text, answering its error if it does not parse.
func (a *API) parseText(w http.ResponseWriter, src string) (*query.Query, bool) {
	q, err := query.Parse(src, a.opts.Limits)
	var qe *query.Error
	switch {
	case errors.As(err, &qe) && qe.Limit != "":
		// The query is fine; the server refuses its size.
		httpapi.Error(w, httpapi.Execution, err.Error())
		return nil, false
	case err != nil:
		httpapi.Error(w, httpapi.BadData, err.Error())
		return nil, false
	}
	return q, true
}

// QueryData is the answer of /api/v1/topology/query.
type QueryData struct {
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
	// Time is the time the answer is about; absent for the latest graph.
	Time *time.Time `json:"time,omitempty"`
	// Paths hold, for each row that is an entity, the refs (kind/id) of the path's steps that
	// reached it, first step first; absent when the rows are counts.
	Paths [][]string `json:"paths,omitempty"`
	// PromQL is the equivalent PromQL (explain=promql), or why there is none.
	PromQL      string `json:"promql,omitempty"`
	PromQLError string `json:"promql_error,omitempty"`
}

// query answers GET /api/v1/topology/query?q=…&time=…&explain=promql. time, like
// Prometheus's, is the evaluation time: the query's @ when it has none.
func (a *API) query(w http.ResponseWriter, r *http.Request) {
	q, ok := a.parse(w, r)
	if !ok {
		return
	}
	at, err := timeParam(r, "time")
	if err != nil {
		httpapi.Error(w, httpapi.BadData, err.Error())
		return
	}
	if !at.IsZero() && q.At == nil && q.Diff == nil {
		q.At = &at
	}
	var data QueryData
	switch e := r.FormValue("explain"); e {
	case "":
	case "promql":
		if data.PromQL, err = query.Explain(q); err != nil {
			data.PromQL, data.PromQLError = "", err.Error()
		}
	default:
		httpapi.Error(w, httpapi.BadData, "invalid parameter explain: "+strconv.Quote(e)+", want promql")
		return
	}
	res, ok := a.run(w, r, q, at)
	if ok {
		auditRows(r.Context(), len(res.Rows))
	}
	if !ok {
		return
	}
	data.Columns, data.Rows, data.Paths = res.Columns, res.Rows, res.Paths()
	if !res.At.IsZero() {
		data.Time = &res.At
	}
	httpapi.Success(w, data, res.Warnings)
}

// compare answers GET /api/v1/topology/compare?q=PATH|promql=EXPR[&against=PATH][&since=…][&time=…]:
// what the entities q reaches (or the instances whose series the PromQL expression answers)
// share that the baseline's do not, or what changed beneath them since a time (the path
// language's | compare).
func (a *API) compare(w http.ResponseWriter, r *http.Request) {
	st, ok := a.compareStage(w, r)
	if !ok {
		return
	}
	at, err := timeParam(r, "time")
	if err != nil {
		httpapi.Error(w, httpapi.BadData, err.Error())
		return
	}
	if expr := r.FormValue("promql"); expr != "" {
		a.comparePromQL(w, r, expr, st, at)
		return
	}
	q, ok := a.parse(w, r)
	if !ok {
		return
	}
	if len(q.Stages) > 0 || q.Diff != nil {
		httpapi.Error(w, httpapi.BadData, "q is the set to compare: a path, without stages or diff")
		return
	}
	q.Stages = append(q.Stages, st)
	if !at.IsZero() && q.At == nil {
		q.At = &at
	}
	res, ok := a.run(w, r, q, at)
	if !ok {
		return
	}
	a.compared(w, r, res)
}

// compareStage reads compare's against and since parameters.
func (a *API) compareStage(w http.ResponseWriter, r *http.Request) (query.Stage, bool) {
	st := query.Stage{Op: "compare", Pos: query.Pos{Line: 1, Col: 1}}
	if src := r.FormValue("against"); src != "" {
		against, err := query.Parse(src, a.opts.Limits)
		switch {
		case err != nil:
			httpapi.Error(w, httpapi.BadData, "against: "+err.Error())
			return st, false
		case len(against.Stages) > 0 || against.Diff != nil || against.At != nil || against.Offset != 0 || len(against.Path.Project) > 0:
			httpapi.Error(w, httpapi.BadData, "against: a path, without projections, stages, diff, @ or offset")
			return st, false
		}
		st.Against = &against.Path
	}
	if since := r.FormValue("since"); since != "" {
		if d, err := model.ParseDuration(since); err == nil && d > 0 {
			st.SinceAgo = time.Duration(d)
		} else if t, err := query.ParseTime(since); err == nil {
			st.SinceTime = &t
		} else {
			httpapi.Error(w, httpapi.BadData, "since: want a time (RFC 3339 or unix seconds) or a positive duration (1h): "+err.Error())
			return st, false
		}
	}
	return st, true
}

// comparePromQL is compare of the instances whose series a PromQL expression answers: each
// series names its instance by lb, service (and namespace) and server, as
// strata_topology_path_info's do, so a condition on another metric joins through it.
func (a *API) comparePromQL(w http.ResponseWriter, r *http.Request, expr string, st query.Stage, at time.Time) {
	if r.FormValue("q") != "" {
		httpapi.Error(w, httpapi.BadData, "give q or promql, not both")
		return
	}
	if a.opts.PromQL == nil {
		httpapi.Error(w, httpapi.BadData, "promql: this server evaluates no PromQL")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.opts.Timeout)
	defer cancel()
	now := at
	if now.IsZero() {
		now = time.Now()
	}
	samples, err := a.opts.PromQL(ctx, expr, now)
	var refused *promql.Error
	switch {
	case errors.Is(err, errPromQLScoped):
		httpapi.Error(w, httpapi.Forbidden, err.Error())
		return
	case errors.As(err, &refused):
		httpapi.Error(w, refused.Type, "promql: "+refused.Err.Error())
		return
	case err != nil:
		a.failed(w, ctx, fmt.Errorf("promql: %w", err))
		return
	}
	g, warnings, err := a.graphs.GraphAt(ctx, at)
	if err != nil {
		a.failed(w, ctx, err)
		return
	}
	var set []*graph.Entity
	seen := map[*graph.Entity]bool{}
	for _, s := range samples {
		lb, service, server := s.Labels.Get("lb"), s.Labels.Get("service"), s.Labels.Get("server")
		if lb == "" || service == "" || server == "" {
			httpapi.Error(w, httpapi.BadData, "promql: its series must name their instances by lb, service and server, as strata_topology_path_info's do: "+
				"join through it (… * on (lb, service, server) group_left () strata_topology_path_info), or sum by (lb, namespace, service, server)")
			return
		}
		svc, ok := g.Get(graph.Ref{Kind: graph.Service, ID: graph.ServiceID(lb, s.Labels.Get("namespace"), service)})
		if !ok {
			continue // not in the graph, or outside the request's scope
		}
		for _, inst := range g.Below(svc.Ref, graph.Instance) {
			if (inst.Attrs.Get("server") == server || inst.Name == server) && !seen[inst] {
				seen[inst] = true
				set = append(set, inst)
			}
		}
	}
	slices.SortFunc(set, func(x, y *graph.Entity) int { return strings.Compare(x.ID, y.ID) })
	res, err := query.CompareSet(ctx, g, set, st, a.opts.Limits, a.graphs, now)
	if err != nil {
		a.failed(w, ctx, err)
		return
	}
	res.At, res.Warnings = at, append(warnings, res.Warnings...)
	a.compared(w, r, res)
}

// compared answers compare's table.
func (a *API) compared(w http.ResponseWriter, r *http.Request, res *query.Result) {
	auditRows(r.Context(), len(res.Rows))
	data := QueryData{Columns: res.Columns, Rows: res.Rows}
	if !res.At.IsZero() {
		data.Time = &res.At
	}
	httpapi.Success(w, data, res.Warnings)
}

// diff answers GET /api/v1/topology/diff?q=PATH&from=…&to=…: what changed between the two
// times among what the path reaches.
func (a *API) diff(w http.ResponseWriter, r *http.Request) {
	q, ok := a.parse(w, r)
	if !ok {
		return
	}
	if q.Diff == nil {
		from, err1 := timeParam(r, "from")
		to, err2 := timeParam(r, "to")
		if err := errors.Join(err1, err2); err != nil {
			httpapi.Error(w, httpapi.BadData, err.Error())
			return
		}
		if from.IsZero() || to.IsZero() || !to.After(from) {
			httpapi.Error(w, httpapi.BadData, "parameters from and to are needed, to after from")
			return
		}
		if len(q.Stages) > 0 || q.At != nil || q.Offset != 0 {
			httpapi.Error(w, httpapi.BadData, "diff takes a path: no stages, @ or offset")
			return
		}
		q.Diff = &query.Diff{From: from, To: to}
	}
	res, ok := a.run(w, r, q, time.Time{})
	if ok {
		auditRows(r.Context(), len(res.Rows))
	}
	if !ok {
		return
	}
	httpapi.Success(w, QueryData{Columns: res.Columns, Rows: res.Rows}, res.Warnings)
}

// defaultPlanHosts are the hosts a plan patches when q names none: those failing the lifecycle
// policy.
const defaultPlanHosts = `host{lifecycle="fail"}`

// plan answers GET /api/v1/topology/plan?q=HOST_PATH[&max_unavailable=N|&min_healthy=F][&time=…]:
// the waves in which to patch the hosts the path reaches (topology/plan). With check=h1,h7
// instead of q, whether those hosts may go down together now: a wave of an earlier plan, asked
// again when its turn comes. Both are made on the graph the request may see.
func (a *API) plan(w http.ResponseWriter, r *http.Request) {
	opts, err := plan.ParseOptions(r.FormValue("max_unavailable"), r.FormValue("min_healthy"))
	if err != nil {
		httpapi.Error(w, httpapi.BadData, err.Error())
		return
	}
	var check []string
	for _, v := range r.Form["check"] {
		for h := range strings.SplitSeq(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				check = append(check, h)
			}
		}
	}
	var q *query.Query
	switch src := r.FormValue("q"); {
	case src != "" && len(check) > 0:
		httpapi.Error(w, httpapi.BadData, "give q (the hosts to plan) or check (the hosts of a wave), not both")
		return
	case len(check) == 0:
		var ok bool
		if q, ok = a.parseText(w, cmp.Or(src, defaultPlanHosts)); !ok {
			return
		}
		if q.Diff != nil || q.At != nil || q.Offset != 0 {
			httpapi.Error(w, httpapi.BadData, "the plan endpoint takes a path to hosts and the time parameter: no diff, @ or offset in q")
			return
		}
		// Refused for what q asks, not for what it answers: a path that reaches nothing answers
		// no rows, as a count of nothing does, and plans no host.
		switch last := q.Path.Steps[len(q.Path.Steps)-1]; {
		case slices.ContainsFunc(q.Stages, func(st query.Stage) bool { return st.Op == "count" }):
			httpapi.Error(w, httpapi.BadData, "q must reach hosts, not count them: e.g. "+defaultPlanHosts)
			return
		case last.Kind != graph.Host:
			httpapi.Error(w, httpapi.BadData, "q reaches "+string(last.Kind)+" entities, not hosts: end the path with -> host")
			return
		}
	}
	g, warnings, ok := a.graphAt(w, r)
	if !ok {
		return
	}
	if id, ok := auth.FromContext(r.Context()); ok && !id.Admin {
		warnings = append(warnings, "role "+id.Role+" has a scope: the plan keeps the services it may see at their threshold, not others on the same hosts")
	}
	if q == nil {
		v, err := plan.Check(g, check, opts)
		if err != nil {
			httpapi.Error(w, httpapi.BadData, err.Error())
			return
		}
		auditRows(r.Context(), len(v.Hosts))
		httpapi.Success(w, v, warnings)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.opts.Timeout)
	defer cancel()
	res, err := query.Eval(ctx, g, q, a.opts.Limits)
	if err != nil {
		a.failed(w, ctx, err)
		return
	}
	hosts := make([]string, len(res.Entities))
	for i, e := range res.Entities {
		hosts[i] = e.ID
	}
	p, err := plan.Make(g, hosts, opts)
	if err != nil {
		httpapi.Error(w, httpapi.BadData, err.Error())
		return
	}
	auditRows(r.Context(), len(hosts))
	httpapi.Success(w, p, append(warnings, res.Warnings...))
}

// graph answers the whole graph, or the entities of one kind (kind=host) and their edges,
// or those a path query reaches (q=…), at the latest refresh or a past time (time=…).
func (a *API) graph(w http.ResponseWriter, r *http.Request) {
	g, warnings, ok := a.graphAt(w, r)
	if !ok {
		return
	}
	if r.FormValue("q") != "" {
		a.queryGraph(w, r, g, warnings)
		return
	}
	kind := graph.Kind(r.FormValue("kind"))
	if kind != "" && kind.Depth() < 0 {
		httpapi.Error(w, httpapi.BadData, "unknown kind "+string(kind)+": want one of lb, service, instance, pod, container, image, host")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.opts.Timeout)
	defer cancel()
	ans := a.newGraphAnswer(ctx, g)
	ents := g.Entities(kind)
	for _, e := range ents {
		if !ans.node(e) {
			a.failed(w, ans.ctx, ans.err)
			return
		}
	}
	// The edges that touch them, each once: listed from its upper end when both ends are in.
	for _, e := range ents {
		for _, edge := range g.DownOf(e) {
			ans.edge(edge)
		}
		for _, edge := range g.UpOf(e) {
			if !ans.in[edge.From()] {
				ans.edge(edge)
			}
		}
	}
	if ans.err != nil {
		a.failed(w, ans.ctx, ans.err)
		return
	}
	sort.Slice(ans.edgeOf, func(i, j int) bool {
		a, b := ans.edgeOf[i], ans.edgeOf[j]
		if a.From() != b.From() {
			return a.From().Less(b.From())
		}
		return a.To().Less(b.To())
	})
	auditRows(r.Context(), len(ans.nodes))
	httpapi.Success(w, map[string]any{"time": g.At, "nodes": ans.nodes, "edges": ans.edgesJSON()}, warnings)
}

// graphAnswer is the nodes and edges of an answer in the making, their cells (a node's fields,
// attributes and labels; an edge's ends and sources) counted against --query.max-results, and
// the request's context looked at every so often: the whole graph of a large fleet is
// hundreds of megabytes of JSON.
type graphAnswer struct {
	ctx    context.Context
	g      *graph.Graph // the graph the answer is of: its entities' last-seen times
	left   int
	limit  int
	n      int
	nodes  []EntityJSON
	edgeOf []*graph.Edge
	in     map[graph.Ref]bool
	err    error
}

func (a *API) newGraphAnswer(ctx context.Context, g *graph.Graph) *graphAnswer {
	return &graphAnswer{ctx: ctx, g: g, left: a.opts.Limits.MaxResults, limit: a.opts.Limits.MaxResults,
		nodes: []EntityJSON{}, in: map[graph.Ref]bool{}}
}

func (ans *graphAnswer) edgesJSON() []EdgeJSON {
	out := make([]EdgeJSON, len(ans.edgeOf))
	for i, e := range ans.edgeOf {
		out[i] = edgeJSON(e)
	}
	return out
}

// spend takes n cells; false once the answer is over the limit or out of time.
func (ans *graphAnswer) spend(n int) bool {
	if ans.err != nil {
		return false
	}
	if ans.left -= n; ans.left < 0 {
		ans.err = fmt.Errorf("the answer has more than %d cells (%s): ask for one kind (kind=) or a path (q=)", ans.limit, query.FlagMaxResults)
		return false
	}
	if ans.n++; ans.n%1024 == 0 && ans.ctx.Err() != nil {
		ans.err = ans.ctx.Err()
		return false
	}
	return true
}

func (ans *graphAnswer) node(e *graph.Entity) bool {
	if !ans.spend(4 + len(e.Attrs) + len(e.Labels) + len(e.Sources)) {
		return false
	}
	ans.nodes = append(ans.nodes, entityJSON(ans.g, e))
	ans.in[e.Ref] = true
	return true
}

func (ans *graphAnswer) edge(e *graph.Edge) bool {
	if !ans.spend(3 + len(e.Sources)) {
		return false
	}
	ans.edgeOf = append(ans.edgeOf, e)
	return true
}

// entity answers one entity with its edges both ways, the entities at their ends, and for an
// instance its paths down to the hardware.
func (a *API) entity(w http.ResponseWriter, r *http.Request) {
	kind := graph.Kind(r.PathValue("kind"))
	if kind.Depth() < 0 {
		httpapi.Error(w, httpapi.BadData, "unknown kind "+string(kind)+": want one of lb, service, instance, pod, container, image, host")
		return
	}
	// An id may hold any character, "/.." included, which a path cannot carry past a
	// client's or proxy's cleaning: ?id= takes it whole.
	id := r.PathValue("id")
	if id == "" {
		id = r.FormValue("id")
	}
	g, warnings, ok := a.graphAt(w, r)
	if !ok {
		return
	}
	e, ok := g.Get(graph.Ref{Kind: kind, ID: id})
	if !ok {
		httpapi.Error(w, httpapi.NotFound, "no "+string(kind)+" "+strconv.Quote(id))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.opts.Timeout)
	defer cancel()
	ans := a.newGraphAnswer(ctx, g)
	var up, down []EdgeJSON
	neighbours := map[string]EntityJSON{}
	for _, edge := range g.UpOf(e) {
		if ans.edge(edge) && ans.node(edge.FromEntity()) {
			up = append(up, edgeJSON(edge))
			neighbours[edge.From().String()] = entityJSON(g, edge.FromEntity())
		}
	}
	for _, edge := range g.DownOf(e) {
		if ans.edge(edge) && ans.node(edge.ToEntity()) {
			down = append(down, edgeJSON(edge))
			neighbours[edge.To().String()] = entityJSON(g, edge.ToEntity())
		}
	}
	if ans.err != nil {
		a.failed(w, ctx, ans.err)
		return
	}
	data := map[string]any{"entity": entityJSON(g, e), "up": nonNilEdges(up), "down": nonNilEdges(down), "neighbours": neighbours}
	if e.Kind == graph.Instance {
		var paths []map[string]string
		for _, p := range graph.PathsOf(g, e) {
			row := map[string]string{"instance": p.Instance.ID}
			for k, ent := range map[string]*graph.Entity{"pod": p.Pod, "container": p.Container, "host": p.Host} {
				if ent != nil {
					row[k] = ent.ID
				}
			}
			paths = append(paths, row)
		}
		data["paths"] = paths
	}
	httpapi.Success(w, data, warnings)
}

// queryGraph answers the entities a path query reaches in g and the edges that touch them.
func (a *API) queryGraph(w http.ResponseWriter, r *http.Request, g *graph.Graph, warnings []string) {
	q, ok := a.parse(w, r)
	if !ok {
		return
	}
	if q.Diff != nil || q.At != nil || q.Offset != 0 {
		httpapi.Error(w, httpapi.BadData, "the graph endpoint takes a path and the time parameter: no diff, @ or offset in q")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.opts.Timeout)
	defer cancel()
	res, err := query.Eval(ctx, g, q, a.opts.Limits)
	if err != nil {
		a.failed(w, ctx, err)
		return
	}
	ans := a.newGraphAnswer(ctx, g)
	for _, e := range res.Entities {
		ans.node(e)
	}
	// The edges that touch them, as kind= answers: a path of one kind has no edges among its
	// entities, and their neighbours are what a drawing needs.
	for _, e := range res.Entities {
		for _, edge := range g.DownOf(e) {
			ans.edge(edge)
		}
		for _, edge := range g.UpOf(e) {
			if !ans.in[edge.From()] { // an edge between two of them is listed once, from its upper end
				ans.edge(edge)
			}
		}
	}
	if ans.err != nil {
		a.failed(w, ans.ctx, ans.err)
		return
	}
	auditRows(r.Context(), len(ans.nodes))
	httpapi.Success(w, map[string]any{"time": g.At, "nodes": ans.nodes, "edges": ans.edgesJSON()}, warnings)
}

func nonNilEdges(es []EdgeJSON) []EdgeJSON {
	if es == nil {
		return []EdgeJSON{}
	}
	sort.Slice(es, func(i, j int) bool { return es[i].From+es[i].To < es[j].From+es[j].To })
	return es
}

// whoami is the request's identity: its user, role and scope (empty for an admin); with access
// control off, nobody in particular, seeing everything.
func (a *API) whoami(w http.ResponseWriter, r *http.Request) {
	id, ok := auth.FromContext(r.Context())
	if !ok {
		id = auth.Identity{Admin: true}
	}
	scope := []string{}
	if id.Scope != nil {
		scope = id.Scope.Entries()
	}
	httpapi.Success(w, map[string]any{"user": id.User, "role": id.Role, "admin": id.Admin, "scope": scope}, nil)
}

func (a *API) sources(w http.ResponseWriter, r *http.Request) {
	if id, ok := auth.FromContext(r.Context()); ok && !id.Admin {
		// A source is an LB's or a fleet's name: a scoped role sees none, as if there were none.
		httpapi.Success(w, []topology.SourceStatus{}, nil)
		return
	}
	httpapi.Success(w, a.r.Sources(), nil)
}
