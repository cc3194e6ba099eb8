package server_test

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/server"
	"github.com/strata-obs/strata/topology"
	"github.com/strata-obs/strata/topology/auth"
	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/lifecycle"
	"github.com/strata-obs/strata/topology/plan"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/sourcetest"
)

// TestScopeLeaksNothingOnFleet: on the synthetic fleet, two teams (a and b) whose services
// share LBs and whose instances share the hosts; with team a's token, thousands of generated questions through
// every endpoint (path queries by id and by walks, the entity and graph APIs, the UI's search
// and pages, counts): not one answer names an entity that only b sees, and a question about
// one answers as about something that does not exist.
func TestScopeLeaksNothingOnFleet(t *testing.T) {
	at := time.Now().UTC()
	facts, lbs := sourcetest.Synthetic(at)
	lbs = lbs[:60]
	// Most LBs serve both teams (a's even services, b's odd ones), each b instance in the next
	// container of the host of the a instance before it; every third serves b alone.
	for i := range lbs {
		for j := range lbs[i].Services {
			team := map[bool]string{true: "a", false: "b"}[i%3 != 2 && j%2 == 0]
			lbs[i].Services[j].Labels = map[string]string{"team": team}
			if team == "b" && i%3 != 2 {
				for k := range lbs[i].Services[j].Instances {
					inst, beside := &lbs[i].Services[j].Instances[k], lbs[i].Services[j-1].Instances[k]
					inst.Address, inst.Port = beside.Address, beside.Port+1
				}
			}
		}
	}
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	tokens, err := auth.ParseTokens("tokens.yml", []byte("tokens:\n  - {name: a-ci, sha256: "+sum("a-secret")+"}\n  - {name: root, sha256: "+sum("root-secret")+"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	scope, _ := auth.ParseScope([]string{`team="a"`})
	authn, err := auth.NewAuthenticator(&auth.Config{Roles: []auth.Role{{Name: "a", Tokens: []string{"a-ci"}, Scope: scope},
		{Name: "admin", Tokens: []string{"root"}, Admin: true}}}, tokens, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A third of the hosts run a banned kernel: the patch page lists services of both teams.
	policy := &lifecycle.Policy{Rules: []lifecycle.Rule{{Name: "bad-kernel", KernelRelease: regexp.MustCompile(`^6\.1\.0-13-amd64$`)}}}
	a := startAppWith(t, server.Options{RefreshInterval: time.Hour, LBSources: []source.LoadBalancers{sourcetest.Static{SourceName: "lbs", LBs: lbs}},
		FactSources: []source.Facts{sourcetest.StaticFacts{SourceName: "facts", Set: facts}}, Auth: authn, Lifecycle: policy}, slog.New(slog.DiscardHandler))

	// The truth, independent of the code under test: the whole graph as the refresh makes it,
	// and what a may see of it found by path queries over it (its services, all below them, and
	// the LBs above them).
	r := topology.NewRefresher(topology.RefresherOptions{LBSources: []source.LoadBalancers{sourcetest.Static{SourceName: "lbs", LBs: lbs}},
		FactSources: []source.Facts{sourcetest.StaticFacts{SourceName: "facts", Set: facts}}, Lifecycle: policy}, slog.New(slog.DiscardHandler))
	whole := r.Refresh(context.Background())
	truth := &query.Engine{Graphs: staticGraph{whole}, Limits: query.Limits{MaxVisited: 1 << 30, MaxResults: 1 << 30}.OrDefaults()}
	seen := map[string]bool{}
	for _, q := range []string{`service{team="a"}`, `service{team="a"} <- lb`, `service{team="a"} -> instance`, `service{team="a"} -> pod`,
		`service{team="a"} -> container`, `service{team="a"} -> image`, `service{team="a"} -> host`} {
		res, err := truth.Exec(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range res.Rows {
			seen[row[0]+"/"+row[1]] = true
		}
	}
	view := graph.Subgraph(whole, func(e *graph.Entity) bool { return seen[e.Ref.String()] })
	var bOnly []*graph.Entity
	hidden := map[string]bool{}
	whole.Each("", func(e *graph.Entity) {
		if !seen[e.Ref.String()] {
			bOnly = append(bOnly, e)
			hidden[e.Ref.String()] = true
		}
	})
	if len(bOnly) < 1000 || view.Len() < 1000 {
		t.Fatalf("b alone sees %d entities, a %d: the scene shares too little to test", len(bOnly), view.Len())
	}

	get := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, a.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		return resp.StatusCode, string(b)
	}
	testenv.Eventually(t, pollTimeout, "the fleet's graph", func() error {
		if code, body := get("/api/v1/topology/query?q=lb", "root-secret"); code != http.StatusOK || !strings.Contains(body, "lb-0059") {
			return fmt.Errorf("%d", code)
		}
		return nil
	})
	leaks := 0
	leak := func(what, answer string) {
		if leaks++; leaks <= 10 {
			t.Errorf("%s: %.300s", what, answer)
		}
	}
	// checkRows fails on any row or path naming an entity b alone sees.
	checkRows := func(q, body string) {
		var r struct {
			Data struct {
				Columns []string
				Rows    [][]string
				Paths   [][]string
			}
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			leak(q+": not an answer", body)
			return
		}
		kind, id := -1, -1
		for i, c := range r.Data.Columns {
			switch c {
			case "kind":
				kind = i
			case "id":
				id = i
			}
		}
		for _, row := range r.Data.Rows {
			if kind >= 0 && id >= 0 && hidden[row[kind]+"/"+row[id]] {
				leak(q, strings.Join(row, " "))
			}
		}
		for _, p := range r.Data.Paths {
			for _, ref := range p {
				if hidden[ref] {
					leak(q+" (path)", ref)
				}
			}
		}
	}
	_, missing := get("/api/v1/topology/entity/host/no-such-host", "a-secret")
	rng := rand.New(rand.NewPCG(14, 15))
	asked := 0
	for range 400 {
		e := bOnly[rng.IntN(len(bOnly))]
		sel := fmt.Sprintf(`%s{id=%q}`, e.Kind, e.ID)
		for _, q := range []string{sel, sel + " .name", sel + " -> host", sel + " <- lb", fmt.Sprintf(`%s{name=%q}`, e.Kind, e.Name), sel + " | count"} {
			_, body := get("/api/v1/topology/query?"+url.Values{"q": {q}}.Encode(), "a-secret")
			checkRows(q, body)
			// By id, nothing at all; a name another entity of a's shares finds a's (checkRows).
			if strings.HasPrefix(q, sel) && !strings.HasSuffix(q, "| count") && strings.Contains(body, `"rows":[[`) {
				leak(q+" answers rows", body)
			}
			asked++
		}
		code, body := get("/api/v1/topology/entity/"+string(e.Kind)+"/"+e.ID, "a-secret")
		if code != http.StatusNotFound || strings.ReplaceAll(body, e.ID, "X") != strings.ReplaceAll(missing, "no-such-host", "X") && e.Kind == graph.Host {
			leak("entity "+e.Ref.String(), body)
		}
		if code != http.StatusNotFound {
			leak("entity "+e.Ref.String()+" status", body)
		}
		if _, body := get("/api/v1/topology/graph?"+url.Values{"q": {sel}}.Encode(), "a-secret"); strings.Contains(body, `"id":"`+e.ID+`"`) {
			leak("graph "+sel, body)
		}
		if _, body := get("/search?"+url.Values{"q": {e.ID}}.Encode(), "a-secret"); strings.Contains(body, ">"+e.ID+"</a>") {
			leak("UI search "+e.ID, body)
		}
		// A plan of its hosts and a check of it answer as about an entity that does not exist.
		toHosts := " -> host"
		if e.Kind == graph.Host {
			toHosts = ""
		}
		none := "no-such-" + string(e.Kind)
		for _, ask := range []func(id string) url.Values{
			func(id string) url.Values { return url.Values{"q": {fmt.Sprintf(`%s{id=%q}`, e.Kind, id) + toHosts}} },
			func(id string) url.Values { return url.Values{"check": {id}} },
		} {
			code, body := get("/api/v1/topology/plan?"+ask(e.ID).Encode(), "a-secret")
			noneCode, noneBody := get("/api/v1/topology/plan?"+ask(none).Encode(), "a-secret")
			if code != noneCode || strings.ReplaceAll(body, e.ID, "X") != strings.ReplaceAll(noneBody, none, "X") {
				leak("plan "+ask(e.ID).Encode(), body)
			}
		}
		asked += 5
	}
	// Walks over everything a sees: no row of b's, and counts of a's view alone.
	for _, q := range []string{"lb", "service", "instance", "container", "pod", "host", "image", "lb -> instance", "host <- instance", "container <- service",
		"host <- lb"} {
		_, body := get("/api/v1/topology/query?"+url.Values{"q": {q}}.Encode(), "a-secret")
		checkRows(q, body)
		asked++
	}
	eng := &query.Engine{Graphs: staticGraph{view}, Limits: query.DefaultLimits}
	for _, q := range []string{"container | count", "lb -> host | count by (kernel_release)", "service | count"} {
		want, err := eng.Exec(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		_, body := get("/api/v1/topology/query?"+url.Values{"q": {q}}.Encode(), "a-secret")
		var got struct{ Data struct{ Rows [][]string } }
		_ = json.Unmarshal([]byte(body), &got)
		if fmt.Sprint(got.Data.Rows) != fmt.Sprint(want.Rows) {
			leak(q+" counts", fmt.Sprintf("%v, want a's view's %v", got.Data.Rows, want.Rows))
		}
		asked++
	}
	// Plans and checks are a's view's: on the hosts a shares with b, no wave, skip, reason (a
	// service and its counts) or violation weighs b's services, and a host of b's in a check is
	// unknown, as one that does not exist. The truth is the plan of a's view, of the hosts a's
	// own query reaches (checkRows holds it to a's view).
	hostsOf := func(q string) []string {
		_, body := get("/api/v1/topology/query?"+url.Values{"q": {q}}.Encode(), "a-secret")
		checkRows(q, body)
		var r struct{ Data struct{ Rows [][]string } }
		_ = json.Unmarshal([]byte(body), &r)
		var ids []string
		for _, row := range r.Data.Rows {
			ids = append(ids, row[1])
		}
		return ids
	}
	oneService := hostsOf(`lb{name="lb-0000"} -> service{name="svc-0"} -> host`)
	bHosts, err := truth.Exec(context.Background(), `service{team="b"} -> host`)
	if err != nil {
		t.Fatal(err)
	}
	var bHost string
	for _, row := range bHosts.Rows {
		if hidden["host/"+row[1]] {
			bHost = row[1]
			break
		}
	}
	if len(oneService) < 2 || bHost == "" {
		t.Fatalf("a's service's hosts %q, a host of b's alone %q: the scene has changed", oneService, bHost)
	}
	for _, params := range []url.Values{
		{}, // the hosts failing the lifecycle policy
		{"q": {"host"}},
		{"q": {"host"}, "min_healthy": {"1"}}, // every host skipped, its reason naming a service and its counts
		{"q": {`lb{name="lb-0000"} -> host`}, "max_unavailable": {"2"}},
		{"check": {strings.Join([]string{oneService[0], oneService[1], bHost}, ",")}},
		{"check": {oneService[0] + "," + bHost}, "min_healthy": {"0.5"}},
	} {
		opts, err := plan.ParseOptions(params.Get("max_unavailable"), params.Get("min_healthy"))
		if err != nil {
			t.Fatal(err)
		}
		var want any
		if check := params.Get("check"); check != "" {
			want, err = plan.Check(view, strings.Split(check, ","), opts)
		} else {
			want, err = plan.Make(view, hostsOf(cmp.Or(params.Get("q"), `host{lifecycle="fail"}`)), opts)
		}
		if err != nil {
			t.Fatal(err)
		}
		wantData, _ := json.Marshal(want)
		code, body := get("/api/v1/topology/plan?"+params.Encode(), "a-secret")
		var got struct {
			Data     json.RawMessage
			Warnings []string
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil {
			leak("plan "+params.Encode(), body)
			continue
		}
		if g, w := string(got.Data), string(wantData); g != w {
			i := 0
			for i < min(len(g), len(w)) && g[i] == w[i] {
				i++
			}
			leak("plan "+params.Encode(), fmt.Sprintf("from byte %d: %.200s, want a's view's %.200s", i, g[i:], w[i:]))
		}
		for _, w := range got.Warnings {
			for _, e := range bOnly {
				if strings.Contains(w, e.ID) {
					leak("plan "+params.Encode()+" warns of "+e.Ref.String(), w)
				}
			}
		}
		asked++
	}
	// | compare is a's view's: the set and its baseline (the other instances of its services)
	// and everything beneath them, as a's view holds them; its PromQL set names a's instances
	// alone.
	for _, q := range []string{`lb{name="lb-0000"} -> service{name="svc-0"} -> instance[0:3]`, `host{kernel_release="6.1.0-13-amd64"} <- instance`} {
		parsed, err := query.Parse(q+" | compare", query.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		want, err := query.Eval(context.Background(), view, parsed, query.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		code, body := get("/api/v1/topology/compare?"+url.Values{"q": {q}}.Encode(), "a-secret")
		var got struct{ Data struct{ Rows [][]string } }
		if code != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil || fmt.Sprint(got.Data.Rows) != fmt.Sprint(want.Rows) {
			leak("compare "+q, fmt.Sprintf("%.300s, want a's view's %.300s", body, fmt.Sprint(want.Rows)))
		}
		asked++
	}
	if _, body := get("/api/v1/topology/compare?"+url.Values{"promql": {`strata_topology_path_info{lb="lb-0001"}`}}.Encode(), "a-secret"); true {
		for _, e := range bOnly {
			if e.Kind != graph.LB && strings.Contains(body, `"`+e.ID+`"`) {
				leak("compare promql names "+e.Ref.String(), body)
				break
			}
		}
		asked++
	}
	// PromQL: every series a's token reads names a's entities only.
	hiddenLB, hiddenService, hiddenContainer := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, e := range bOnly {
		switch e.Kind {
		case graph.LB:
			hiddenLB[e.Name] = true
		case graph.Service:
			hiddenService[e.ID] = true
		case graph.Container:
			hiddenContainer[e.ID] = true
		}
	}
	for _, expr := range []string{"strata_topology_instance_info", "strata_topology_service_info", "strata_topology_lb_info", "strata_topology_path_info",
		"strata_topology_container_info", `{__name__=~"strata_topology_.*"}`} {
		code, body := get("/api/v1/query?"+url.Values{"query": {expr}}.Encode(), "a-secret")
		var r struct {
			Data struct {
				Result []struct{ Metric map[string]string }
			}
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &r) != nil {
			leak("PromQL "+expr, body)
			continue
		}
		for _, s := range r.Data.Result {
			m := s.Metric
			if hiddenLB[m["lb"]] || hiddenContainer[m["container_id"]] || (m["service"] != "" && hiddenService[graph.ServiceID(m["lb"], m["namespace"], m["service"])]) {
				leak("PromQL "+expr, fmt.Sprint(m))
			}
		}
		asked++
	}
	// The admin's patch page names b's LBs: a's must not.
	if _, body := get("/patch", "root-secret"); !slices.ContainsFunc(bOnly, func(e *graph.Entity) bool { return e.Kind == graph.LB && strings.Contains(body, ">"+e.ID+"<") }) {
		t.Error("the admin's patch page names none of b's LBs: the page's check below would prove nothing")
	}
	for _, page := range []string{"/", "/lbs", "/fleet", "/patch", "/changes", "/search?q=lb-00"} {
		_, body := get(page, "a-secret")
		for _, e := range bOnly {
			if e.Kind == graph.LB && strings.Contains(body, ">"+e.ID+"<") {
				leak("UI "+page+" names "+e.ID, "")
			}
		}
		asked++
	}
	t.Logf("%d questions with a's token; b alone sees %d entities, a %d", asked, len(bOnly), view.Len())
}

// staticGraph is query.Graphs over one graph.
type staticGraph struct{ g *graph.Graph }

func (s staticGraph) GraphAt(context.Context, time.Time) (*graph.Graph, []string, error) {
	return s.g, nil, nil
}
