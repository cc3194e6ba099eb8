package topology

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/strata-obs/strata/internal/store/storetest"
	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/sourcetest"
)

// writeSite writes steps refreshes, 30 s apart from t0, of a site named cluster into db.
func writeSite(t *testing.T, db *tsdb.DB, cluster string, t0 time.Time, steps int, facts *source.FactSet) {
	t.Helper()
	now := t0
	r := NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{&scriptedLBs{lbs: historyLBs("192.0.2.2")}},
		FactSources: []source.Facts{&scriptedFacts{facts: facts}}, StaleAfter: 5 * time.Minute, Sink: db,
		Now: func() time.Time { return now }, ExternalLabels: labels.FromStrings(ClusterLabel, cluster)}, slog.New(slog.DiscardHandler))
	for step := range steps {
		now = t0.Add(time.Duration(step) * 30 * time.Second)
		r.Refresh(context.Background())
	}
}

// TestGraphAtSites: two sites with the same LB, service, instance and container names and the
// same private addresses, in one store: one graph with each site's entities its own (nothing
// of one joins to the other), a machine both see (the same machine-id) one host in both
// clusters, and two machines of the same name two hosts; a site that stopped sending is named
// in a warning with the time it last sent.
func TestGraphAtSites(t *testing.T) {
	db := storetest.Open(t, t.TempDir())
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	writeSite(t, db, "eu-1", t0, 8, historyFacts())
	us := historyFacts()
	us.Hosts[0].MachineID = "ffffffff000000000000000000000001" // another machine called vm; db is the same machine
	writeSite(t, db, "us-1", t0, 3, us)

	at := t0.Add(3*time.Minute + 30*time.Second)
	g, sites, warnings, err := GraphAtSites(context.Background(), db, at, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(sites) != 2 || sites[0].Cluster != "eu-1" || sites[1].Cluster != "us-1" || !sites[1].Newest.Equal(t0.Add(time.Minute)) {
		t.Errorf("sites %+v", sites)
	}
	if len(warnings) != 1 || warnings[0] != "site us-1: no topology since 2026-11-20T10:01:00Z" {
		t.Errorf("warnings %q, want us-1 silent since 10:01", warnings)
	}
	down := func(id string) []string {
		var out []string
		e, ok := g.Get(graph.Ref{Kind: graph.Instance, ID: id})
		if !ok {
			t.Fatalf("no instance %s", id)
		}
		for _, d := range g.DownOf(e) {
			out = append(out, d.To().String())
			for _, h := range g.DownOf(d.ToEntity()) {
				out = append(out, h.To().String()+" "+h.ToEntity().Attr(ClusterLabel))
			}
		}
		return out
	}
	c1 := "container/" + containerC1
	if got := strings.Join(down("eu-1/edge/c1ps/s0"), "; "); !strings.Contains(got, "eu-1/"+containerC1) || !strings.Contains(got, "host/vm eu-1") {
		t.Errorf("eu-1's s0 runs on %s, want eu-1's own %s", got, c1)
	}
	if got := strings.Join(down("us-1/edge/c1ps/s0"), "; "); !strings.Contains(got, "us-1/"+containerC1) || !strings.Contains(got, "host/vm~ffffffff us-1") {
		t.Errorf("us-1's s0 runs on %s, want us-1's container on its own vm (host vm~ffffffff)", got)
	}
	if h, ok := g.Get(graph.Ref{Kind: graph.Host, ID: "db"}); !ok || h.Attr(ClusterLabel) != "eu-1,us-1" {
		t.Errorf("the machine both see: %v %v", h, ok)
	}
	if h, ok := g.Get(graph.Ref{Kind: graph.Host, ID: "vm"}); !ok || h.Attr(ClusterLabel) != "eu-1" {
		t.Errorf("eu-1's vm: %v %v", h, ok)
	}
	// Nothing of one site points at what only the other has.
	g.EachEdge(func(e *graph.Edge) {
		from, to := e.FromEntity().Attr(ClusterLabel), e.ToEntity().Attr(ClusterLabel)
		if !strings.Contains(to, from) && !strings.Contains(from, to) {
			t.Errorf("edge %s (%s) -> %s (%s) joins two sites", e.From(), from, e.To(), to)
		}
	})
}

// TestGlobalKeepsSilentSite: a site whose strata stopped sending keeps its last graph after
// its series leave the store's lookback, named in a warning, its entities stale after
// StaleAfter; the other site's are not.
func TestGlobalKeepsSilentSite(t *testing.T) {
	db := storetest.Open(t, t.TempDir())
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	writeSite(t, db, "eu-1", t0, 17, historyFacts())
	writeSite(t, db, "us-1", t0, 3, historyFacts())
	gl := &Global{Store: db, StaleAfter: 5 * time.Minute}
	if _, warnings, err := gl.Graph(context.Background(), t0.Add(time.Minute)); err != nil || len(warnings) > 0 {
		t.Fatalf("both sites sending: %v %q", err, warnings)
	}
	g, warnings, err := gl.Graph(context.Background(), t0.Add(7*time.Minute+30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || warnings[0] != "site us-1: no topology since 2026-11-20T10:01:00Z" {
		t.Errorf("warnings %q", warnings)
	}
	for _, c := range []struct {
		id    string
		stale bool
	}{{"us-1/edge/c1ps/s0", true}, {"eu-1/edge/c1ps/s0", false}} {
		e, ok := g.Get(graph.Ref{Kind: graph.Instance, ID: c.id})
		if !ok || e.Stale != c.stale {
			t.Errorf("%s: there %v, stale %v, want stale %v", c.id, ok, e != nil && e.Stale, c.stale)
		}
	}
}

// BenchmarkGlobalFleet: ten sites of 2,000 hosts each (the synthetic fleet's shapes, 200 LBs
// each), written by their strata into one store, read back as the global strata reads them at
// each refresh (GraphAtSites), and the kernel mix per cluster counted on that graph. Peak RSS
// is measured from after the writes: run it alone.
func BenchmarkGlobalFleet(b *testing.B) {
	db := storetest.Open(b, b.TempDir())
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	entities := 0
	for site := range 10 {
		facts, lbs := sourcetest.Sized(t0, 2000, 200)
		for i := range facts.Hosts { // each site's machines its own (the generator numbers them alike)
			facts.Hosts[i].MachineID = fmt.Sprintf("%02d%030x", site, i+1)
		}
		now := t0
		r := NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{sourcetest.Static{SourceName: "lbs", LBs: lbs}},
			FactSources: []source.Facts{sourcetest.StaticFacts{SourceName: "facts", Set: facts}}, Sink: db, Now: func() time.Time { return now },
			ExternalLabels: labels.FromStrings(ClusterLabel, fmt.Sprintf("site-%02d", site))}, slog.New(slog.DiscardHandler))
		for step := range 2 {
			now = t0.Add(time.Duration(step) * time.Minute)
			r.Refresh(context.Background())
		}
		g, _ := r.Graph()
		entities += g.Len()
	}
	at := t0.Add(90 * time.Second)
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	b.ResetTimer()
	for range b.N {
		g, sites, warnings, err := GraphAtSites(context.Background(), db, at, time.Hour)
		if err != nil || len(warnings) > 0 || len(sites) != 10 {
			b.Fatalf("GraphAtSites: %d sites, %q, %v", len(sites), warnings, err)
		}
		b.ReportMetric(float64(g.Len()), "entities")
		start := time.Now()
		kernels := map[[2]string]int{}
		for h := range g.All(graph.Host) {
			kernels[[2]string{h.Attr(ClusterLabel), h.Attr("kernel_release")}]++
		}
		b.ReportMetric(float64(time.Since(start).Microseconds()), "count-by-cluster-kernel-µs")
	}
	b.StopTimer()
	b.ReportMetric(float64(entities), "site-entities")
	b.ReportMetric(peakRSSMB(), "peak-RSS-MB")
}

// TestSitesTwoWritersOneCluster: two strata that claim one cluster with nothing to tell them
// apart are named in a warning (their graphs merge); the two of an HA pair, whose replica
// labels differ, are not.
func TestSitesTwoWritersOneCluster(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name         string
		replicas     [2]string
		wantWarnings int
	}{{"two sites, one name", [2]string{"", ""}, 1}, {"an HA pair", [2]string{"a", "b"}, 0}} {
		t.Run(c.name, func(t *testing.T) {
			db := storetest.Open(t, t.TempDir())
			for i, w := range []string{"host-a:9730", "host-b:9730"} {
				ext := labels.FromStrings(ClusterLabel, "eu-1")
				if c.replicas[i] != "" {
					ext = labels.FromStrings(ClusterLabel, "eu-1", "replica", c.replicas[i])
				}
				now := t0
				r := NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{&scriptedLBs{lbs: historyLBs("192.0.2.2")}},
					FactSources: []source.Facts{&scriptedFacts{facts: historyFacts()}}, Sink: db, Now: func() time.Time { return now },
					ExternalLabels: ext, Writer: w}, slog.New(slog.DiscardHandler))
				r.Refresh(context.Background())
			}
			_, sites, warnings, err := GraphAtSites(context.Background(), db, t0.Add(10*time.Second), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			var found []string
			for _, w := range warnings {
				if strings.Contains(w, "strata write as this site") {
					found = append(found, w)
				}
			}
			if len(found) != c.wantWarnings || (c.wantWarnings > 0 && (!strings.Contains(found[0], "host-a:9730, host-b:9730") || sites[0].Writers != 2)) {
				t.Errorf("warnings %q, sites %+v", warnings, sites)
			}
		})
	}
}

// TestGlobalClockSkew: three sites send to one store, one with the right clock, one with a clock
// two minutes ahead and one three minutes behind. The global strata names the two in warnings
// with how far off they are at least, and on /metrics; the one behind, which still sends, is
// neither silent nor stale for its old-looking samples; every site's graph is whole.
func TestGlobalClockSkew(t *testing.T) {
	db := storetest.Open(t, t.TempDir())
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	wall := t0
	var sites []*Refresher
	for _, s := range []struct {
		cluster string
		off     time.Duration
	}{{"eu-1", 0}, {"ap-1", 2 * time.Minute}, {"us-1", -3 * time.Minute}} {
		sites = append(sites, NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{&scriptedLBs{lbs: historyLBs("192.0.2.2")}},
			FactSources: []source.Facts{&scriptedFacts{facts: historyFacts()}}, StaleAfter: 5 * time.Minute, Sink: db,
			Now: func() time.Time { return wall.Add(s.off) }, ExternalLabels: labels.FromStrings(ClusterLabel, s.cluster), Writer: s.cluster + "-host:9730"},
			slog.New(slog.DiscardHandler)))
	}
	gl := &Global{Store: db, StaleAfter: 2 * time.Minute}
	var g *graph.Graph
	var warnings []string
	for step := range 6 {
		wall = t0.Add(time.Duration(step) * 30 * time.Second)
		for _, r := range sites {
			r.Refresh(context.Background())
		}
		var err error
		if g, warnings, err = gl.Graph(context.Background(), wall.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		// At first all ap-1 wrote is ahead of now: it sent at its stamp, not at the year 1.
		for _, w := range warnings {
			if strings.Contains(w, "no topology since") {
				t.Errorf("read %d: %s", step, w)
			}
		}
	}
	// The last read is at 10:02:31, the one before at 10:02:01: ap-1's newest sample is stamped
	// 10:04:30, us-1's 09:59:30, written after 10:02:01.
	want := []string{
		"site ap-1: its clock is ahead of this strata's by at least 1m59s (it wrote a sample stamped 2026-11-20T10:04:30Z): its graph here is as it was that long before; set the site's clock (NTP)",
		"site us-1: its clock is behind this strata's by at least 2m31s (it still sends, its newest sample stamped 2026-11-20T09:59:30Z): set the site's clock (NTP), or see whether its remote write lags",
	}
	if strings.Join(warnings, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings\n%s\nwant\n%s", strings.Join(warnings, "\n"), strings.Join(want, "\n"))
	}
	skews := map[string]time.Duration{}
	for _, s := range gl.sites {
		skews[s.Cluster] = s.ClockSkew
	}
	if skews["eu-1"] != 0 || skews["ap-1"] != 119*time.Second || skews["us-1"] != -151*time.Second || len(skews) != 3 {
		t.Errorf("clock skews on /metrics %v", skews)
	}
	for _, c := range []string{"eu-1", "ap-1", "us-1"} {
		e, ok := g.Get(graph.Ref{Kind: graph.Instance, ID: c + "/edge/c1ps/s0"})
		if !ok || e.Stale {
			t.Fatalf("%s's instance: there %v, stale %v", c, ok, ok && e.Stale)
		}
		down := g.DownOf(e)
		if len(down) != 1 || down[0].To().String() != "container/"+c+"/"+containerC1 {
			t.Errorf("%s's instance leads to %v, want its own container", c, down)
		}
	}

	// The ones ahead and behind stop sending: three minutes on, nothing newer came, and both are
	// silent, counted from the last read that found them sending, not from their stamps (ap-1's
	// newest, 10:04:30, is only a minute before the last read).
	sites = sites[:1]
	for step := 6; step < 12; step++ {
		wall = t0.Add(time.Duration(step) * 30 * time.Second)
		for _, r := range sites {
			r.Refresh(context.Background())
		}
		var err error
		if _, warnings, err = gl.Graph(context.Background(), wall.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	want = []string{"site ap-1: no topology since 2026-11-20T10:04:30Z", "site us-1: no topology since 2026-11-20T09:59:30Z"}
	if strings.Join(warnings, "\n") != strings.Join(want, "\n") {
		t.Errorf("ap-1 and us-1 stopped sending: warnings\n%s\nwant\n%s", strings.Join(warnings, "\n"), strings.Join(want, "\n"))
	}
	for _, s := range gl.sites {
		if s.ClockSkew != 0 {
			t.Errorf("%s stopped: clock skew %s on /metrics, want 0 (not known)", s.Cluster, s.ClockSkew)
		}
	}
}

// TestSitesWithAnOlderStrata: series without a cluster label (an older strata, or one without
// global.external_labels) beside a site's, in one store: they are a site of their own, named in
// a warning and on /metrics (cluster=""), their ids as they are; the labelled site's graph is
// whole and its own.
func TestSitesWithAnOlderStrata(t *testing.T) {
	db := storetest.Open(t, t.TempDir())
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	writeSite(t, db, "eu-1", t0, 2, historyFacts())
	now := t0
	older := NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{&scriptedLBs{lbs: historyLBs("192.0.2.2")}},
		FactSources: []source.Facts{&scriptedFacts{facts: historyFacts()}}, Sink: db, Now: func() time.Time { return now }}, slog.New(slog.DiscardHandler))
	older.Refresh(context.Background())

	gl := &Global{Store: db, StaleAfter: 5 * time.Minute}
	g, warnings, err := gl.Graph(context.Background(), t0.Add(40*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want := "series without a cluster label (a strata without global.external_labels, or an older one): shown as one site of their own, their ids as they are"
	if len(warnings) != 1 || warnings[0] != want {
		t.Errorf("warnings %q, want %q", warnings, want)
	}
	for _, c := range []struct{ id, container string }{{"eu-1/edge/c1ps/s0", "container/eu-1/" + containerC1}, {"edge/c1ps/s0", "container/" + containerC1}} {
		e, ok := g.Get(graph.Ref{Kind: graph.Instance, ID: c.id})
		if !ok {
			t.Fatalf("no instance %s", c.id)
		}
		if down := g.DownOf(e); len(down) != 1 || down[0].To().String() != c.container {
			t.Errorf("%s leads to %v, want %s", c.id, down, c.container)
		}
	}
	clusters := map[string]int{}
	for _, s := range gl.sites {
		clusters[s.Cluster] = s.Entities
	}
	if len(clusters) != 2 || clusters[""] == 0 || clusters[""] != clusters["eu-1"] {
		t.Errorf("sites on /metrics: %v, want eu-1 and the unlabelled one, alike", clusters)
	}
}

// TestGlobalSiteDeadAtStart: a site whose strata stopped before the global strata started is
// named silent at the second read; the first cannot tell it from a site whose clock is behind.
func TestGlobalSiteDeadAtStart(t *testing.T) {
	db := storetest.Open(t, t.TempDir())
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	r := NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{&scriptedLBs{lbs: historyLBs("192.0.2.2")}},
		FactSources: []source.Facts{&scriptedFacts{facts: historyFacts()}}, Sink: db, Now: func() time.Time { return t0 },
		ExternalLabels: labels.FromStrings(ClusterLabel, "eu-1"), Writer: "eu-1-host:9730"}, slog.New(slog.DiscardHandler))
	r.Refresh(context.Background())
	gl := &Global{Store: db, StaleAfter: 5 * time.Minute}
	for i, c := range []struct {
		at   time.Duration
		want []string
	}{{4 * time.Minute, nil}, {4*time.Minute + 15*time.Second, []string{"site eu-1: no topology since 2026-11-20T10:00:00Z"}}} {
		_, warnings, err := gl.Graph(context.Background(), t0.Add(c.at))
		if err != nil || strings.Join(warnings, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("read %d: %q %v, want %q", i, warnings, err, c.want)
		}
	}
}
