package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/topology"
	"github.com/strata-obs/strata/topology/auth"
	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/lifecycle"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/sourcetest"
)

// planScene is six hosts, h1 and h2 on a banned kernel (lifecycle fail), behind one LB: web
// (team web) on h1, h2, h3; api (team api) on h2 and h4; solo on h5 alone.
func planScene(t *testing.T, view func(context.Context, *graph.Graph) *graph.Graph) *http.ServeMux {
	t.Helper()
	var hosts []source.Host
	for i, zone := range []string{"a", "b", "c", "a", "b", "c"} {
		kernel := "6.1.0-28-amd64"
		if i < 2 {
			kernel = "6.1.0-13-amd64"
		}
		hosts = append(hosts, source.Host{Origin: source.OriginInventory, Name: "h" + string(rune('1'+i)),
			Attrs: map[string]string{"kernel_release": kernel}, Labels: map[string]string{"zone": zone}})
	}
	instances := func(on ...string) []source.Instance {
		var out []source.Instance
		for i, h := range on {
			out = append(out, source.Instance{Name: "s" + string(rune('0'+i)), Address: "192.0.2." + string(rune('1'+i)), Port: 80,
				Position: i, Health: source.HealthUp, Host: h})
		}
		return out
	}
	lbs := sourcetest.Static{SourceName: "edge", LBs: []source.LB{{Name: "edge", Provider: "haproxy", Services: []source.Service{
		{Name: "web", Labels: map[string]string{"team": "web"}, Instances: instances("h1", "h2", "h3")},
		{Name: "api", Labels: map[string]string{"team": "api"}, Instances: instances("h2", "h4")},
		{Name: "solo", Labels: map[string]string{"team": "solo"}, Instances: instances("h5")},
	}}}}
	r := topology.NewRefresher(topology.RefresherOptions{
		LBSources:   []source.LoadBalancers{lbs},
		FactSources: []source.Facts{sourcetest.StaticFacts{SourceName: "inventory", Set: &source.FactSet{Hosts: hosts}}},
		Lifecycle:   &lifecycle.Policy{Rules: []lifecycle.Rule{{Name: "bad-kernel", KernelRelease: regexp.MustCompile(`6\.1\.0-13-.*`), Reason: "CVE-TEST-1"}}},
	}, slog.New(slog.DiscardHandler))
	r.Refresh(context.Background())
	mux := http.NewServeMux()
	NewAPI(r, APIOptions{View: view}).Register(mux)
	return mux
}

type planAnswer struct {
	Status, ErrorType, Error string
	Warnings                 []string
	Data                     json.RawMessage
}

func askPlan(t *testing.T, mux *http.ServeMux, req *http.Request) (int, planAnswer) {
	t.Helper()
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	var a planAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatalf("%s: %d, not JSON: %v: %q", req.URL, rec.Code, err, rec.Body)
	}
	return rec.Code, a
}

// TestPlanAPI: /api/v1/topology/plan plans the hosts failing the lifecycle policy by default, or
// those of q, in the envelope, and answers check=h1,h2 with whether they may go down together.
func TestPlanAPI(t *testing.T) {
	mux := planScene(t, nil)
	for _, c := range []struct{ params, want string }{
		// h1 and h2 fail the policy; web may lose one of three at a time.
		{"", `{"waves":[{"wave":1,"hosts":["h2"]},{"wave":2,"hosts":["h1"]}],"skipped":[]}`},
		{"q=" + url.QueryEscape(`host{lifecycle="fail"}`) + "&max_unavailable=2",
			`{"waves":[{"wave":1,"hosts":["h1","h2"]}],"skipped":[]}`},
		// web keeps 2 of 3, api 1 of 2, solo cannot lose its one; h2 holds the most to patch.
		{"q=" + url.QueryEscape(`host{zone=~"a|b"}`) + "&min_healthy=0.5",
			`{"waves":[{"wave":1,"hosts":["h2"]},{"wave":2,"hosts":["h1","h4"]}],"skipped":[{"host":"h5","reason":"service edge/solo: 1 of 1 instances healthy, 1 required, 1 of them on this host"}]}`},
		// api keeps ceil(0.66 × 2) = 2 of 2: its hosts may not go.
		{"q=" + url.QueryEscape(`host{name=~"h2|h4"}`) + "&min_healthy=0.66",
			`{"waves":[],"skipped":[{"host":"h2","reason":"service edge/api: 2 of 2 instances healthy, 2 required, 1 of them on this host"},` +
				`{"host":"h4","reason":"service edge/api: 2 of 2 instances healthy, 2 required, 1 of them on this host"}]}`},
		{"q=" + url.QueryEscape(`service{name="web"} -> host`),
			`{"waves":[{"wave":1,"hosts":["h2"]},{"wave":2,"hosts":["h1"]},{"wave":3,"hosts":["h3"]}],"skipped":[]}`},
		// A path that reaches no host plans none.
		{"q=" + url.QueryEscape(`host{zone="z"}`), `{"waves":[],"skipped":[]}`},
		{"check=h1,h3", `{"safe":false,"hosts":["h1","h3"],"violations":[{"service":"edge/web","instances":3,"healthy":3,"left":1,"required":2,` +
			`"reason":"service edge/web: 3 of 3 instances healthy, 2 required, 2 of them on these hosts"}],"unknown":[]}`},
		{"check=h1&check=h4", `{"safe":true,"hosts":["h1","h4"],"violations":[],"unknown":[]}`},
		{"check=h1,h9", `{"safe":false,"hosts":["h1"],"violations":[],"unknown":["h9"]}`},
	} {
		code, a := askPlan(t, mux, httptest.NewRequest(http.MethodGet, "/api/v1/topology/plan?"+c.params, nil))
		if code != http.StatusOK || a.Status != "success" || string(a.Data) != c.want {
			t.Errorf("%s: %d %s %s\n%s\nwant\n%s", c.params, code, a.Status, a.Error, a.Data, c.want)
		}
	}
	// A long q comes in a form.
	req := httptest.NewRequest(http.MethodPost, "/api/v1/topology/plan", strings.NewReader(url.Values{"q": {`host{name=~"h3|h4"}`}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if code, a := askPlan(t, mux, req); code != http.StatusOK || string(a.Data) != `{"waves":[{"wave":1,"hosts":["h3","h4"]}],"skipped":[]}` {
		t.Errorf("POST: %d %s %s", code, a.Error, a.Data)
	}
}

func TestPlanAPIRefusals(t *testing.T) {
	mux := planScene(t, nil)
	for _, c := range []struct {
		params, holds string
	}{
		{"max_unavailable=1&min_healthy=0.5", "give max_unavailable or min_healthy, not both"},
		{"max_unavailable=0", `max_unavailable "0": want a whole number of instances, at least 1`},
		{"min_healthy=1.5", `min_healthy "1.5": want a share of instances above 0 and at most 1`},
		{"q=" + url.QueryEscape("host{"), "1:6:"},
		{"q=" + url.QueryEscape("service"), "q reaches service entities, not hosts: end the path with -> host"},
		{"q=" + url.QueryEscape("host | count by (zone)"), "q must reach hosts, not count them"},
		// Refused for what q asks, whatever it reaches: nothing here.
		{"q=" + url.QueryEscape(`service{name="none"}`), "q reaches service entities, not hosts"},
		{"q=" + url.QueryEscape(`host{zone="z"} | count`), "q must reach hosts, not count them"},
		{"q=" + url.QueryEscape("host offset 1h"), "no diff, @ or offset in q"},
		{"q=host&check=h1", "give q (the hosts to plan) or check (the hosts of a wave), not both"},
		{"time=NaN", "out of range"},
	} {
		code, a := askPlan(t, mux, httptest.NewRequest(http.MethodGet, "/api/v1/topology/plan?"+c.params, nil))
		if code != http.StatusBadRequest || a.ErrorType != "bad_data" || !strings.Contains(a.Error, c.holds) {
			t.Errorf("%s: %d %s %q, want 400 bad_data holding %q", c.params, code, a.ErrorType, a.Error, c.holds)
		}
	}
	// The query limits hold as for /api/v1/topology/query.
	lim := query.DefaultLimits
	lim.MaxLength = 10
	r := topology.NewRefresher(topology.RefresherOptions{}, slog.New(slog.DiscardHandler))
	r.Refresh(context.Background())
	small := http.NewServeMux()
	NewAPI(r, APIOptions{Limits: lim}).Register(small)
	if code, a := askPlan(t, small, httptest.NewRequest(http.MethodGet, "/api/v1/topology/plan", nil)); code != 422 || !strings.Contains(a.Error, "--query.max-length") {
		t.Errorf("the default q past --query.max-length=10: %d %q", code, a.Error)
	}
}

// TestPlanAPIScope: a role with a scope plans on its view of the graph, as every endpoint reads
// it: the hosts it may see, the services it may see (none named that it may not), and a warning
// that services outside its scope are not weighed.
func TestPlanAPIScope(t *testing.T) {
	scope, err := auth.ParseScope([]string{`team="api"`})
	if err != nil {
		t.Fatal(err)
	}
	mux := planScene(t, func(ctx context.Context, g *graph.Graph) *graph.Graph {
		if id, ok := auth.FromContext(ctx); ok && !id.Admin {
			return id.Scope.Visible(g)
		}
		return g
	})
	ctx := auth.WithIdentity(context.Background(), auth.Identity{User: "ann", Role: "api-team", Scope: scope})
	req := httptest.NewRequest(http.MethodGet, "/api/v1/topology/plan?q=host", nil).WithContext(ctx)
	code, a := askPlan(t, mux, req)
	// api sees h2 and h4, and api alone: the two may not go together; zone a (h4) first.
	if want := `{"waves":[{"wave":1,"hosts":["h4"]},{"wave":2,"hosts":["h2"]}],"skipped":[]}`; code != http.StatusOK || string(a.Data) != want {
		t.Errorf("scoped plan: %d %s %s, want %s", code, a.Error, a.Data, want)
	}
	if len(a.Warnings) != 1 || !strings.Contains(a.Warnings[0], "role api-team has a scope") {
		t.Errorf("warnings %q, want the scope's", a.Warnings)
	}
	req = httptest.NewRequest(http.MethodGet, "/api/v1/topology/plan?check=h1,h2", nil).WithContext(ctx)
	if _, a := askPlan(t, mux, req); string(a.Data) != `{"safe":false,"hosts":["h2"],"violations":[],"unknown":["h1"]}` {
		t.Errorf("scoped check of a host it may not see: %s", a.Data)
	}
}
