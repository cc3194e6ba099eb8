package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/topology"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/sourcetest"
)

// TestAPIRefusals: every parameter a client sends is checked before anything runs, and every
// refusal is Prometheus's envelope with the right status: a time that is not one (NaN, before
// 1970: the zero time would silently mean "now") is bad_data; a limit's refusal is execution
// and names its flag, whether the query's text or the answer is over it.
func TestAPIRefusals(t *testing.T) {
	src := sourcetest.Static{SourceName: "edge", LBs: []source.LB{{Name: "edge", Provider: "haproxy", Services: []source.Service{{Name: "c1ps",
		Instances: []source.Instance{{Name: "s0", Address: "192.0.2.7", Port: 80}, {Name: "..", Address: "192.0.2.8", Port: 80}}}}}}}
	r := topology.NewRefresher(topology.RefresherOptions{LBSources: []source.LoadBalancers{src}}, slog.New(slog.DiscardHandler))
	r.Refresh(context.Background())
	mux := http.NewServeMux()
	lim := query.DefaultLimits
	lim.MaxLength, lim.MaxResults = 100, 12
	NewAPI(r, APIOptions{Limits: lim}).Register(mux)

	for _, c := range []struct {
		path    string
		status  int
		errType string
		holds   string
	}{
		{"/api/v1/topology/query?q=instance&time=NaN", 400, "bad_data", `time "NaN" out of range`},
		{"/api/v1/topology/query?q=instance&time=0001-01-01T00:00:00Z", 400, "bad_data", "out of range: want 1970-01-01T00:00:00Z"},
		{"/api/v1/topology/query?q=instance&time=-1", 400, "bad_data", "out of range"},
		{"/api/v1/topology/graph?kind=host&time=NaN", 400, "bad_data", "out of range"},
		{"/api/v1/topology/entity/instance/edge/c1ps/s0?time=0001-01-01T00:00:00Z", 400, "bad_data", "out of range"},
		{"/api/v1/topology/diff?q=instance&from=NaN&to=1795168800", 400, "bad_data", "out of range"},
		{"/api/v1/topology/query?q=" + url.QueryEscape("instance"+strings.Repeat(" .address", 20)), 422, "execution",
			"the query is 188 bytes long, more than the limit of 100 (--query.max-length)"},
		// 2 instances × (kind, id, address, port, health, position, weight) = 14 cells.
		{"/api/v1/topology/query?q=" + url.QueryEscape("instance .address .port .health .position .weight"), 422, "execution",
			"more than 12 cells, rows × columns (--query.max-results)"},
		{"/api/v1/topology/query?q=" + url.QueryEscape("instance .address | limit 1"), 200, "", ""},
		{"/api/v1/topology/graph", 422, "execution", "the answer has more than 12 cells (--query.max-results)"},
		// An id with a ".." segment, which no path carries through a client's cleaning.
		{"/api/v1/topology/entity/instance?id=" + url.QueryEscape("edge/c1ps/.."), 200, "", ""},
		{"/api/v1/topology/entity/instance?id=" + url.QueryEscape("edge/c1ps/nope"), 404, "not_found", `no instance "edge/c1ps/nope"`},
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
		var env struct {
			Status, ErrorType, Error string
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
			t.Errorf("%s: %d, not JSON: %v: %q", c.path, rec.Code, err, rec.Body)
			continue
		}
		if rec.Code != c.status || env.ErrorType != c.errType || !strings.Contains(env.Error, c.holds) {
			t.Errorf("%s: %d %s %q, want %d %s holding %q", c.path, rec.Code, env.ErrorType, env.Error, c.status, c.errType, c.holds)
		}
	}
}

// TestGraphAPIPathQuery: /api/v1/topology/graph?q=PATH answers the entities the path reaches
// and the edges that touch them, as ?kind= does: a path of one kind has no edges among its
// entities, but a drawing needs the ones to their neighbours.
func TestGraphAPIPathQuery(t *testing.T) {
	src := sourcetest.Static{SourceName: "edge", LBs: []source.LB{{Name: "edge", Provider: "haproxy", Services: []source.Service{{Name: "c1ps",
		Instances: []source.Instance{{Name: "s0", Address: "192.0.2.7", Port: 80}}}}}}}
	r := topology.NewRefresher(topology.RefresherOptions{LBSources: []source.LoadBalancers{src}}, slog.New(slog.DiscardHandler))
	r.Refresh(context.Background())
	mux := http.NewServeMux()
	NewAPI(r, APIOptions{}).Register(mux)
	for _, q := range []string{"instance", "lb -> instance"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/topology/graph?q="+url.QueryEscape(q), nil))
		var env struct {
			Data struct {
				Nodes []EntityJSON `json:"nodes"`
				Edges []EdgeJSON   `json:"edges"`
			} `json:"data"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %v: %s", q, rec.Code, err, rec.Body)
		}
		if len(env.Data.Nodes) != 1 || env.Data.Nodes[0].ID != "edge/c1ps/s0" {
			t.Errorf("%s: nodes %+v, want instance edge/c1ps/s0", q, env.Data.Nodes)
		}
		if len(env.Data.Edges) != 1 || env.Data.Edges[0].From != "service/edge/c1ps" || env.Data.Edges[0].To != "instance/edge/c1ps/s0" {
			t.Errorf("%s: edges %+v, want service/edge/c1ps -> instance/edge/c1ps/s0", q, env.Data.Edges)
		}
	}
}
