package topology

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/strata-obs/strata/topology/graph"
)

// The JSON API answers in Prometheus's envelope: {"status":"success","data":…,"warnings":[…]}
// or {"status":"error","errorType":"bad_data","error":"…"} (DESIGN.md §6).

type envelope struct {
	Status    string   `json:"status"`
	Data      any      `json:"data,omitempty"`
	ErrorType string   `json:"errorType,omitempty"`
	Error     string   `json:"error,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, e envelope) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(e)
}

func writeError(w http.ResponseWriter, code int, errType, msg string) {
	writeJSON(w, code, envelope{Status: "error", ErrorType: errType, Error: msg})
}

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

func entityJSON(e *graph.Entity) EntityJSON {
	return EntityJSON{Kind: string(e.Kind), ID: e.ID, Name: e.Name, Attrs: nonNil(e.Attrs), Labels: nonNil(e.Labels),
		Sources: e.Sources, LastSeen: e.LastSeen, Stale: e.Stale}
}

func edgeJSON(e *graph.Edge) EdgeJSON {
	return EdgeJSON{From: e.From().String(), To: e.To().String(), Sources: e.Sources, LastSeen: e.LastSeen}
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// API serves the topology's JSON endpoints.
type API struct{ r *Refresher }

// NewAPI serves r's graph.
func NewAPI(r *Refresher) *API { return &API{r} }

// Register adds the endpoints to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/topology/graph", a.graph)
	mux.HandleFunc("GET /api/v1/topology/entity/{kind}/{id...}", a.entity)
	mux.HandleFunc("GET /api/v1/topology/sources", a.sources)
}

// unsupportedParams refuses parameters that belong to the query engine, rather than
// silently answering about now when a past time was asked.
func unsupportedParams(w http.ResponseWriter, r *http.Request, names ...string) bool {
	for _, n := range names {
		if r.URL.Query().Has(n) {
			writeError(w, http.StatusBadRequest, "bad_data", "parameter "+n+" is not supported yet: the graph API answers about the latest refresh")
			return true
		}
	}
	return false
}

// graph answers the whole graph, or the entities of one kind (kind=host) and their edges.
func (a *API) graph(w http.ResponseWriter, r *http.Request) {
	if unsupportedParams(w, r, "q", "time") {
		return
	}
	g, warnings := a.r.Graph()
	kind := graph.Kind(r.URL.Query().Get("kind"))
	if kind != "" && kind.Depth() < 0 {
		writeError(w, http.StatusBadRequest, "bad_data", "unknown kind "+string(kind)+": want one of lb, service, instance, pod, container, image, host")
		return
	}
	nodes := []EntityJSON{}
	in := map[graph.Ref]bool{}
	for _, e := range g.Entities(kind) {
		nodes = append(nodes, entityJSON(e))
		in[e.Ref] = true
	}
	edges := []EdgeJSON{}
	for _, e := range g.Edges() {
		if in[e.From()] || in[e.To()] {
			edges = append(edges, edgeJSON(e))
		}
	}
	writeJSON(w, http.StatusOK, envelope{Status: "success", Warnings: warnings,
		Data: map[string]any{"time": g.At, "nodes": nodes, "edges": edges}})
}

// entity answers one entity with its edges both ways, the entities at their ends, and for an
// instance its paths down to the hardware.
func (a *API) entity(w http.ResponseWriter, r *http.Request) {
	if unsupportedParams(w, r, "time") {
		return
	}
	kind := graph.Kind(r.PathValue("kind"))
	if kind.Depth() < 0 {
		writeError(w, http.StatusBadRequest, "bad_data", "unknown kind "+string(kind)+": want one of lb, service, instance, pod, container, image, host")
		return
	}
	g, warnings := a.r.Graph()
	e, ok := g.Get(graph.Ref{Kind: kind, ID: r.PathValue("id")})
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "no "+string(kind)+" "+r.PathValue("id"))
		return
	}
	var up, down []EdgeJSON
	neighbours := map[string]EntityJSON{}
	for _, edge := range g.Up(e.Ref) {
		up = append(up, edgeJSON(edge))
		if n, ok := g.Get(edge.From()); ok {
			neighbours[n.Ref.String()] = entityJSON(n)
		}
	}
	for _, edge := range g.Down(e.Ref) {
		down = append(down, edgeJSON(edge))
		if n, ok := g.Get(edge.To()); ok {
			neighbours[n.Ref.String()] = entityJSON(n)
		}
	}
	data := map[string]any{"entity": entityJSON(e), "up": nonNilEdges(up), "down": nonNilEdges(down), "neighbours": neighbours}
	if e.Kind == graph.Instance {
		var paths []map[string]string
		for _, p := range PathsOf(g, e) {
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
	writeJSON(w, http.StatusOK, envelope{Status: "success", Data: data, Warnings: warnings})
}

func nonNilEdges(es []EdgeJSON) []EdgeJSON {
	if es == nil {
		return []EdgeJSON{}
	}
	sort.Slice(es, func(i, j int) bool { return es[i].From+es[i].To < es[j].From+es[j].To })
	return es
}

func (a *API) sources(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, envelope{Status: "success", Data: a.r.Sources()})
}

// Collector exposes the latest graph's series on /metrics, with the refresh's own health.
func (r *Refresher) Collector() prometheus.Collector { return graphCollector{r} }

type graphCollector struct{ r *Refresher }

func (graphCollector) Describe(chan<- *prometheus.Desc) {} // unchecked: label sets vary

func (c graphCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.r.Samples() {
		name := s.Name()
		var names, values []string
		s.Labels.Range(func(l labels.Label) {
			if l.Name != model.MetricNameLabel {
				names, values = append(names, l.Name), append(values, l.Value)
			}
		})
		m, err := prometheus.NewConstMetric(prometheus.NewDesc(name, familyHelp(name), names, nil), prometheus.GaugeValue, s.Value, values...)
		if err == nil {
			ch <- m
		}
	}
	ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("strata_topology_refresh_duration_seconds",
		"How long the last refresh of the graph took.", nil, nil), prometheus.GaugeValue, c.r.LastDuration().Seconds())
}
