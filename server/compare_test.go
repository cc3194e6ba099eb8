package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/store"
	"github.com/strata-obs/strata/internal/store/storetest"
	"github.com/strata-obs/strata/query/promql"
	"github.com/strata-obs/strata/topology"
	"github.com/strata-obs/strata/topology/auth"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/sourcetest"
)

// TestCompareAPI: /api/v1/topology/compare?q=SET[&against=BASELINE] answers | compare's table in
// the envelope: the DOWN instances of web, on the hosts of kernel 6.1.0-13, share that kernel;
// against the UP instances on that kernel they share nothing but their hosts. Bad parameters
// are bad_data with the position of the error.
func TestCompareAPI(t *testing.T) {
	var hosts []source.Host
	var instances []source.Instance
	for i := range 12 {
		name := "h" + string(rune('a'+i))
		kernel := "6.1.0-28-amd64"
		if i%3 == 0 {
			kernel = "6.1.0-13-amd64"
		}
		hosts = append(hosts, source.Host{Origin: source.OriginInventory, Name: name, Attrs: map[string]string{"kernel_release": kernel}})
		health := source.HealthUp
		if i%3 == 0 && i < 9 {
			health = source.HealthDown
		}
		instances = append(instances, source.Instance{Name: "s" + name, Address: "192.0.2." + string(rune('1'+i)), Port: 80, Position: i, Health: health, Host: name})
	}
	lbs := sourcetest.Static{SourceName: "edge", LBs: []source.LB{{Name: "edge", Provider: "haproxy", Services: []source.Service{{Name: "web", Instances: instances}}}}}
	r := topology.NewRefresher(topology.RefresherOptions{LBSources: []source.LoadBalancers{lbs},
		FactSources: []source.Facts{sourcetest.StaticFacts{SourceName: "inventory", Set: &source.FactSet{Hosts: hosts}}}}, slog.New(slog.DiscardHandler))
	r.Refresh(context.Background())
	// PromQL over a real TSDB holding the graph's own series, as strata's store does.
	now := time.Now()
	db := storetest.Open(t, t.TempDir())
	app := db.Appender(context.Background())
	for _, smp := range r.Samples() {
		if _, err := app.Append(0, smp.Labels, now.UnixMilli(), smp.Value); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	NewAPI(r, APIOptions{PromQL: func(ctx context.Context, expr string, at time.Time) ([]store.Sample, error) {
		return promql.EvalInstant(ctx, db, expr, at)
	}}).Register(mux)
	get := func(params url.Values) (int, map[string]any) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/topology/compare?"+params.Encode(), nil))
		var env map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
			t.Fatalf("%v: %d, not JSON: %s", params, rec.Code, rec.Body)
		}
		return rec.Code, env
	}
	code, env := get(url.Values{"q": {`instance{health="DOWN"}`}})
	data, _ := env["data"].(map[string]any)
	rows, _ := data["rows"].([]any)
	if code != http.StatusOK || len(rows) == 0 {
		t.Fatalf("compare: %d %v", code, env)
	}
	// Three of three DOWN on 6.1.0-13 against one of nine UP: 3/3 − 1/9.
	first := rows[0].([]any)
	if first[0] != "host" || first[1] != "kernel_release" || first[2] != "6.1.0-13-amd64" || first[3] != "1.000" || first[4] != "0.111" || first[5] != "0.889" {
		t.Errorf("first row %v, want host kernel_release 6.1.0-13-amd64 1.000 0.111 0.889", first)
	}
	if cols := data["columns"].([]any); len(cols) != 8 || cols[6] != "p_value" {
		t.Errorf("columns %v", cols)
	}

	code, env = get(url.Values{"q": {`instance{health="DOWN"}`}, "against": {`host{kernel_release="6.1.0-13-amd64"} <- instance`}})
	data, _ = env["data"].(map[string]any)
	rows, _ = data["rows"].([]any)
	for _, row := range rows {
		if r := row.([]any); r[1] == "kernel_release" {
			t.Errorf("against the other instances on 6.1.0-13, the kernel still ranks: %v", r)
		}
	}
	if code != http.StatusOK {
		t.Errorf("against: %d %v", code, env)
	}

	// The set a PromQL condition selects: the same DOWN instances through path_info; then the
	// instances on the 6.1.0-13 hosts, a condition summed by instance, whose kernel they all share.
	for _, c := range []struct{ expr, first string }{
		{`strata_topology_path_info{health="DOWN"}`, "host kernel_release 6.1.0-13-amd64 1.000 0.111 0.889"},
		{`sum by (lb, service, server) (strata_topology_path_info{kernel_release="6.1.0-13-amd64"})`, "host kernel_release 6.1.0-13-amd64 1.000 0.000 1.000"},
	} {
		code, env := get(url.Values{"promql": {c.expr}})
		data, _ := env["data"].(map[string]any)
		rows, _ := data["rows"].([]any)
		if code != http.StatusOK || len(rows) == 0 {
			t.Errorf("promql=%s: %d %v", c.expr, code, env)
			continue
		}
		var first []string
		for _, v := range rows[0].([]any)[:6] {
			first = append(first, v.(string))
		}
		if strings.Join(first, " ") != c.first {
			t.Errorf("promql=%s: first row %q, want %s", c.expr, first, c.first)
		}
	}

	for _, c := range []struct {
		params url.Values
		holds  string
	}{
		{url.Values{"promql": {`strata_topology_path_info{`}}, `promql: invalid parameter "query": 1:27: parse error`},
		{url.Values{"promql": {`count(strata_topology_path_info)`}}, "promql: its series must name their instances by lb, service and server"},
		{url.Values{"promql": {`strata_topology_path_info`}, "q": {"instance"}}, "give q or promql, not both"},
		{url.Values{"q": {`instance{health="DOWN"} | count`}}, "q is the set to compare: a path, without stages or diff"},
		{url.Values{"q": {`instance{health="DOWN"}`}, "against": {`hots`}}, `against: 1:1: expected kind at the start of the query, got "hots"`},
		{url.Values{"q": {`instance{health="DOWN"}`}, "against": {`instance | limit 3`}}, "against: a path, without projections, stages"},
		{url.Values{"q": {`instance{health="DOWN"`}}, "1:23: "},
		{url.Values{"q": {`instance{health="DOWN"}`}, "since": {"yesterday"}}, "since: want a time (RFC 3339 or unix seconds) or a positive duration"},
	} {
		code, env := get(c.params)
		if msg, _ := env["error"].(string); code != http.StatusBadRequest || env["errorType"] != "bad_data" || !strings.Contains(msg, c.holds) {
			t.Errorf("%v: %d %v, want bad_data holding %q", c.params, code, env, c.holds)
		}
	}
	// An empty set: an empty table and a warning, not an error.
	code, env = get(url.Values{"q": {`instance{health="MAINT"}`}})
	if w, _ := env["warnings"].([]any); code != http.StatusOK || len(w) != 1 || !strings.Contains(w[0].(string), "the set is empty") {
		t.Errorf("an empty set: %d %v", code, env)
	}
}

// TestComparePromQLScope: compare's promql= over the shared store (prometheus.url), which no
// scope narrows, is an admin's: a role with a scope is refused before anything is evaluated;
// over strata's own store, which the scope narrows, it evaluates for anyone.
func TestComparePromQLScope(t *testing.T) {
	db := storetest.Open(t, t.TempDir())
	engine := promql.NewEngine(promql.APIOptions{}, slog.New(slog.DiscardHandler))
	scoped := auth.WithIdentity(context.Background(), auth.Identity{Role: "payments"})
	admin := auth.WithIdentity(context.Background(), auth.Identity{Role: "admin", Admin: true})
	for _, c := range []struct {
		who     string
		ctx     context.Context
		shared  bool
		refused bool
	}{
		{"a scoped role", scoped, true, true},
		{"an admin", admin, true, false},
		{"no auth", context.Background(), true, false},
		{"a scoped role on strata's own store", scoped, false, false},
	} {
		_, err := comparePromQL(engine, db, c.shared)(c.ctx, "vector(1)", time.Now())
		if got := errors.Is(err, errPromQLScoped); got != c.refused || !c.refused && err != nil {
			t.Errorf("%s, shared store %v: %v, want refused %v", c.who, c.shared, err, c.refused)
		}
	}
}
