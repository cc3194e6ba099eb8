package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/strata-obs/strata/internal/store"
	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/query/promql"
	"github.com/strata-obs/strata/topology"
	"github.com/strata-obs/strata/topology/auth"
	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/lifecycle"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/sourcetest"
	"github.com/strata-obs/strata/ui"
)

// fleetInStore is the synthetic fleet refreshed once into an embedded TSDB (closed when the
// benchmark ends), and the refresh's time.
func fleetInStore(b *testing.B) (*tsdb.DB, *topology.Refresher, time.Time) {
	b.Helper()
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	facts, lbs := sourcetest.Synthetic(at)
	db, err := store.Open(store.Options{Path: b.TempDir()}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	r := topology.NewRefresher(topology.RefresherOptions{LBSources: []source.LoadBalancers{sourcetest.Static{SourceName: "fleet-lbs", LBs: lbs}}, FactSources: []source.Facts{sourcetest.StaticFacts{SourceName: "fleet-facts", Set: facts}},
		Sink: db, Now: func() time.Time { return at }}, slog.New(slog.DiscardHandler))
	r.Refresh(context.Background())
	return db, r, at
}

// BenchmarkMissionQueryFleet answers the mission question on the synthetic fleet both ways,
// in one run: strata's path query on the latest graph, and the PromQL join a user would write
// without strata_topology_path_info (instance_info → edge_info → container_info → host_info)
// on the same series in the embedded TSDB. Targets: the path query's p50 < 1 ms, ≥ 100 × faster
// than the join. Both must give the same host, kernel and OS image.
func BenchmarkMissionQueryFleet(b *testing.B) {
	db, r, at := fleetInStore(b)

	const path = `lb{name="lb-0042"} -> service{name="svc-3"} -> instance[0] -> host .kernel_release .os_image`
	const join = `count by (host, kernel_release, os_image) (
	  (
	    (
	      label_replace(strata_topology_edge_info{from_kind="instance", to_kind="container"}, "container_id", "$1", "to", "(.*)")
	      * on (from) group_left ()
	      label_join(strata_topology_instance_info{lb="lb-0042", service="svc-3", position="0"}, "from", "/", "lb", "service", "server")
	    )
	    * on (container_id) group_left (host) strata_topology_container_info
	  )
	  * on (host) group_left (kernel_release, os_image) strata_topology_host_info
	)`
	eng := &query.Engine{Graphs: graphs{r: r}, Limits: query.DefaultLimits}
	ctx := context.Background()

	b.ResetTimer()
	var pathTimes, joinTimes []time.Duration
	var pathRows [][]string
	var joinAnswer []store.Sample
	for range b.N {
		for range 200 {
			start := time.Now()
			res, err := eng.Exec(ctx, path)
			pathTimes = append(pathTimes, time.Since(start))
			if err != nil {
				b.Fatal(err)
			}
			pathRows = res.Rows
		}
		for range 3 {
			start := time.Now()
			var err error
			joinAnswer, err = promql.EvalInstant(ctx, db, join, at)
			joinTimes = append(joinTimes, time.Since(start))
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	if len(pathRows) != 1 || len(joinAnswer) != 1 {
		b.Fatalf("path rows %v, join answer %v: want one host each", pathRows, joinAnswer)
	}
	ls := joinAnswer[0].Labels
	if got := []string{"host", ls.Get("host"), ls.Get("kernel_release"), ls.Get("os_image")}; !slices.Equal(pathRows[0], got) {
		b.Fatalf("path query %v, PromQL join %v", pathRows[0], got)
	}
	pathP50, joinP50 := p50(pathTimes), p50(joinTimes)
	b.ReportMetric(float64(pathP50.Microseconds()), "path-p50-µs")
	b.ReportMetric(float64(joinP50.Microseconds()), "promql-join-p50-µs")
	b.ReportMetric(float64(joinP50)/float64(pathP50), "join/path")
}

func p50(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkUIPagesFleet serves every UI page on the synthetic fleet: the landing page, the
// LBs, an LB, the fleet, entity pages (a host with its 30 containers and the instances above
// them, up to the LBs; an instance; a service; an LB with all its paths), the mission question
// typed into search, text searches (an exact IP, ip:port, a misspelt name that gets a
// suggestion), the patch page (a third of the hosts on a banned kernel), and the Changes page's last hour from the refresh loop's journal, which holds a
// third of the hosts' kernel upgrades (3,333 changes). First the UI prepares what it keeps per
// graph, as the server has it do after each refresh (prepare-ms). Target (docs/design.md,
// "Targets"): every page < 50 ms server time at that scale.
func BenchmarkUIPagesFleet(b *testing.B) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	now := at
	facts, lbs := sourcetest.Synthetic(at)
	r := topology.NewRefresher(topology.RefresherOptions{LBSources: []source.LoadBalancers{sourcetest.Static{SourceName: "fleet-lbs", LBs: lbs}}, FactSources: []source.Facts{sourcetest.StaticFacts{SourceName: "fleet-facts", Set: facts}},
		Now: func() time.Time { return now },
		// A third of the hosts run a banned kernel: the patch page lists most services.
		Lifecycle: &lifecycle.Policy{Rules: []lifecycle.Rule{{Name: "bad-kernel", KernelRelease: regexp.MustCompile(`^5\.15\.0-91-generic$`)}}}},
		slog.New(slog.DiscardHandler))
	r.Refresh(context.Background())
	for _, h := range facts.Hosts {
		if h.Attrs["kernel_release"] == "6.1.0-13-amd64" {
			h.Attrs["kernel_release"] = "6.1.0-18-amd64"
		}
	}
	now = at.Add(time.Hour) // the journal covers the last hour from the page's now on
	r.Refresh(context.Background())
	if changes, _ := r.Changes(at, now); len(changes) != 3333 {
		b.Fatalf("the journal holds %d changes, want the 3,333 kernel upgrades", len(changes))
	}
	u, err := ui.New(ui.Options{Graphs: graphs{r: r}, Limits: query.DefaultLimits, Changes: r.Changes,
		Now: func() time.Time { return now.Add(time.Minute) }}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	g, _ := r.Graph()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	u.Prepare(g)
	b.ReportMetric(float64(time.Since(start).Milliseconds()), "prepare-ms")
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "prepared-MiB") // what the UI keeps per graph
	for _, p := range []struct{ name, page, holds string }{
		{"home-page", "/", "Services behind the load balancers"},
		{"lbs-page", "/lbs", "lb-0042"},
		{"lb-page", "/lb/haproxy/lb-0042", "node-"},
		{"fleet-page", "/fleet", "5.15.0-91-generic"},
		{"patch-page", "/patch", "more not listed (at most 500)"},
		{"changes-page", "/changes", "From the refresh loop's journal"},
		{"host-page", "/entity/host/node-00042", "node-00042"},
		{"instance-page", "/entity/instance/lb-0042/svc-3/s0", "node-"},
		{"service-page", "/entity/service/lb-0042/svc-3", "node-"},
		{"lb-entity-page", "/entity/lb/haproxy/lb-0042", "node-"},
		{"search", "/search?q=" + url.QueryEscape(`lb{name="lb-0042"} -> service{name="svc-3"} -> instance[0] -> host .kernel_release .os_image`), "node-"},
		{"search-ip", "/search?q=10.0.0.42", "node-00042"},
		{"search-ip-port", "/search?q=10.0.0.42:20000", "address:port="},
		{"search-no-hit", "/search?q=node-0004x", "did you mean"},
		// The query engine walks all 100,000 instances of the fleet; the page shows a hundred.
		{"search-every-instance", "/search?q=" + url.QueryEscape("lb -> instance"), "rows 1–100 of 100000"},
	} {
		page := p.page
		var times []time.Duration
		for range b.N {
			for range 5 {
				rec := httptest.NewRecorder()
				start := time.Now()
				u.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, page, nil))
				times = append(times, time.Since(start))
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), p.holds) {
					b.Fatalf("%s: %d\n%.500s", page, rec.Code, rec.Body.String())
				}
			}
		}
		b.ReportMetric(float64(p50(times).Microseconds()), p.name+"-p50-µs")
	}
}

// BenchmarkScopeFleet is the cost of a role's scope on the synthetic fleet: its view (a tenth
// of the LBs and everything below them), computed once per graph and role after a refresh
// (view-ms), and the mission question asked through it, against the same question on the whole
// graph in the same run. Target (docs/design.md, "Targets"): the scope adds ≤ 1 ms p99.
func BenchmarkScopeFleet(b *testing.B) {
	db, r, at := fleetInStore(b)
	g, _ := r.Graph()
	scope, err := auth.ParseScope([]string{`kind="lb", name=~"lb-00[0-9][0-9]"`})
	if err != nil {
		b.Fatal(err)
	}
	authn, err := auth.NewAuthenticator(&auth.Config{Roles: []auth.Role{{Name: "tenth", Scope: scope}}}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	authn.Prepare(g)
	viewTime := time.Since(start)
	ctx := auth.WithIdentity(context.Background(), auth.Identity{User: "ci", Role: "tenth", Scope: scope})
	viewLen := authn.View(ctx, g).Len()

	const path = `lb{name="lb-0042"} -> service{name="svc-3"} -> instance[0] -> host .kernel_release .os_image`
	whole := &query.Engine{Graphs: graphs{r: r}, Limits: query.DefaultLimits}
	scoped := &query.Engine{Graphs: graphs{r: r, view: authn.View}, Limits: query.DefaultLimits}
	p99 := func(ds []time.Duration) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[len(s)*99/100]
	}
	// PromQL: the same instant query through the role's series filter and without it.
	series := authn.Queryable(db, func() *graph.Graph { return g })
	const expr = `strata_topology_instance_info{lb="lb-0042"}`
	var promWhole, promScoped []time.Duration
	for range 20 {
		for _, c := range []struct {
			q     storage.Queryable
			ctx   context.Context
			times *[]time.Duration
			want  int
		}{{db, context.Background(), &promWhole, 0}, {series, ctx, &promScoped, 0}} {
			start := time.Now()
			res, err := promql.EvalInstant(c.ctx, c.q, expr, at)
			*c.times = append(*c.times, time.Since(start))
			if err != nil || len(res) == 0 {
				b.Fatalf("%s: %d series, %v", expr, len(res), err)
			}
		}
	}
	b.ResetTimer()
	var wholeTimes, scopedTimes []time.Duration
	for range b.N {
		for range 1000 {
			for _, c := range []struct {
				eng   *query.Engine
				ctx   context.Context
				times *[]time.Duration
			}{{whole, context.Background(), &wholeTimes}, {scoped, ctx, &scopedTimes}} {
				start := time.Now()
				res, err := c.eng.Exec(c.ctx, path)
				*c.times = append(*c.times, time.Since(start))
				if err != nil || len(res.Rows) != 1 {
					b.Fatalf("%v: %v", res, err)
				}
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(p99(wholeTimes).Microseconds()), "whole-p99-µs")
	b.ReportMetric(float64(p99(scopedTimes).Microseconds()), "scoped-p99-µs")
	b.ReportMetric(float64((p99(scopedTimes) - p99(wholeTimes)).Microseconds()), "added-p99-µs")
	b.ReportMetric(float64(viewTime.Milliseconds()), "view-ms") // after ResetTimer, which drops metrics reported before it
	b.ReportMetric(float64(viewLen), "view-entities")
	b.ReportMetric(float64((p50(promScoped) - p50(promWhole)).Microseconds()), "promql-added-p50-µs")
	b.ReportMetric(float64(p50(promWhole).Microseconds()), "promql-whole-p50-µs")
}
