package topology

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/strata-obs/strata/internal/store"
	"github.com/strata-obs/strata/internal/store/storetest"
	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/sourcetest"
)

// scriptedFacts answers what the test says next: a fact set or an error.
type scriptedFacts struct {
	facts *source.FactSet
	err   error
}

func (*scriptedFacts) Name() string { return "metrics" }
func (s *scriptedFacts) ListFacts(context.Context, time.Time) (*source.FactSet, error) {
	return s.facts, s.err
}

// graphDiff lists how got, rebuilt from the series at time at, differs from want, the graph
// of the last refresh before at, in what the series carry: entities with their names,
// carried attributes, allow-listed labels and staleness, and edges with the sources of those
// from instances. Entities and edges come back without sources, and last seen when their
// series was last written: at most a heartbeat before want's refresh.
func graphDiff(want, got *graph.Graph, at time.Time, allow []string) []string {
	var diffs []string
	differ := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	if !got.At.Equal(at) {
		differ("graph at %s, want %s", got.At, at)
	}
	seenOK := func(t time.Time) bool { return !t.After(want.At) && !t.Before(want.At.Add(-heartbeat)) }
	for _, w := range want.Entities("") {
		g, ok := got.Get(w.Ref)
		if !ok {
			differ("%s missing", w.Ref)
			continue
		}
		if g.Name != w.Name || g.Stale != w.Stale {
			differ("%s: name %q stale %v, want %q %v", w.Ref, g.Name, g.Stale, w.Name, w.Stale)
		}
		carried := slices.Concat(carriedAttrs[w.Kind], []string{ClusterLabel}) // a site's series carry its cluster
		for _, a := range carried {
			if g.Attrs.Get(a) != w.Attrs.Get(a) {
				differ("%s: %s=%q, want %q", w.Ref, a, g.Attrs.Get(a), w.Attrs.Get(a))
			}
		}
		for a := range g.Attrs.All() {
			if !slices.Contains(carried, a) {
				differ("%s: attribute %s no series carries", w.Ref, a)
			}
		}
		wantLabels := map[string]string{}
		if w.Kind != graph.Image { // image_info carries no metadata labels
			for _, k := range allow {
				if v := w.Labels[k]; v != "" {
					wantLabels[k] = v
				}
			}
		}
		if !maps.Equal(g.Labels, wantLabels) {
			differ("%s: labels %v, want %v", w.Ref, g.Labels, wantLabels)
		}
		if len(g.Sources) > 0 {
			differ("%s: sources %v, which no series carries", w.Ref, g.Sources)
		}
		if !seenOK(g.LastSeen) {
			differ("%s: last seen %s, not within a heartbeat before %s", w.Ref, g.LastSeen, want.At)
		}
	}
	for _, g := range got.Entities("") {
		if _, ok := want.Get(g.Ref); !ok {
			differ("%s should not be there", g.Ref)
		}
	}

	type end struct{ from, to graph.Ref }
	edges := func(gr *graph.Graph) map[end]*graph.Edge {
		m := map[end]*graph.Edge{}
		gr.EachEdge(func(e *graph.Edge) { m[end{e.From(), e.To()}] = e })
		return m
	}
	wantEdges, gotEdges := edges(want), edges(got)
	for k, w := range wantEdges {
		g, ok := gotEdges[k]
		if !ok {
			differ("edge %s -> %s missing", k.from, k.to)
			continue
		}
		var wantSources []string
		if k.from.Kind == graph.Instance { // edge_info names them; nothing else does
			wantSources = w.Sources
		}
		if !slices.Equal(g.Sources, wantSources) {
			differ("edge %s -> %s: sources %v, want %v", k.from, k.to, g.Sources, wantSources)
		}
		if !seenOK(g.LastSeen()) {
			differ("edge %s -> %s: last seen %s, not within a heartbeat before %s", k.from, k.to, g.LastSeen(), want.At)
		}
	}
	for k := range gotEdges {
		if _, ok := wantEdges[k]; !ok {
			differ("edge %s -> %s should not be there", k.from, k.to)
		}
	}
	return diffs
}

const (
	containerC1 = "c1c1000000000000000000000000000000000000000000000000000000000001"
	containerC2 = "c2c2000000000000000000000000000000000000000000000000000000000002"
)

// historyFacts: hosts vm, db and two called twin; on vm container c1 publishing 18080, and pod shop/web-0 with
// its container c2.
func historyFacts() *source.FactSet {
	return &source.FactSet{
		Hosts: []source.Host{
			{Origin: source.OriginExporter, Name: "vm", Hostname: "vm", MachineID: "3d1219c7c4c5404aaa1f6d2a48adfda4",
				Addresses: []string{"127.0.0.1", "192.0.2.2"}, Labels: map[string]string{"team": "core", "rack": "r1"},
				Attrs: map[string]string{"kernel_release": "6.18.44", "os_image": "Debian GNU/Linux 12 (bookworm)",
					"product_name": "PowerEdge R640", "cpu_cores": "8"}},
			{Origin: source.OriginExporter, Name: "db", Hostname: "db.example", MachineID: "9f0e3c9a5d2b4e7f8a1b2c3d4e5f6a7b",
				Addresses: []string{"192.0.2.3"}, Attrs: map[string]string{"kernel_release": "6.1.0-13-amd64", "arch": "x86_64"}},
			// Two machines called twin: hosts twin~0a0a0a0a and twin~0b0b0b0b, both named twin.
			{Origin: source.OriginExporter, Name: "twin", Hostname: "twin", MachineID: "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a"},
			{Origin: source.OriginExporter, Name: "twin", Hostname: "twin", MachineID: "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"},
		},
		Containers: []source.Container{
			{Origin: source.OriginExporter, Host: "vm", ID: containerC1, Name: "c1ps-0", Image: "localhost/app:1", ImageID: "sha256:b539",
				Runtime: "podman", Labels: map[string]string{"team": "web"},
				Ports: []source.Port{{Protocol: "tcp", HostIP: "0.0.0.0", HostPort: 18080, ContainerPort: 8080}}},
			{Origin: source.OriginExporter, Host: "vm", ID: containerC2, Name: "web", Image: "registry.example/shop:2.1",
				Runtime: "containerd", Pod: "web-0", Namespace: "shop", PodUID: "0b7c"},
		},
		Pods: []source.Pod{{Origin: source.OriginKubeStateMetrics, Namespace: "shop", Name: "web-0", UID: "0b7c", Node: "vm",
			IPs: []string{"10.88.0.5"}, Phase: "Running", Labels: map[string]string{"team": "shop"}}},
	}
}

// historyLBs: LB edge with service c1ps: s0 on container c1, s1 on pod web-0, s2 a process on
// db, and an instance without a name that nothing owns (known by its address).
func historyLBs(s0Address string) []source.LB {
	return []source.LB{{Name: "edge", Provider: "haproxy", Addresses: []string{"192.0.2.2:80"}, Host: "vm",
		Labels: map[string]string{"team": "edge"},
		Services: []source.Service{{Name: "c1ps", Labels: map[string]string{"team": "shop"}, Instances: []source.Instance{
			{Name: "s0", Address: s0Address, Port: 18080, Position: 0, Health: "UP", Weight: 1, Labels: map[string]string{"team": "web"}},
			{Name: "s1", Address: "10.88.0.5", Port: 8080, Position: 1, Health: "UP", Weight: 1},
			{Name: "s2", Address: "192.0.2.3", Port: 5432, Position: 2, Health: "DOWN", Weight: 2},
			{Address: "198.51.100.9", Port: 81, Position: 3, Health: "MAINT"},
		}}}}}
}

// history is a scripted run of the refresher into a TSDB: every 30 s for 9 minutes, with
// s0 moving from vm's container c1 to host db at 1m, container c1 vanishing at 2m, and the
// LB source failing from 3m (stale, then dropped past --topology.stale-after).
type history struct {
	t0        time.Time
	refreshes []*graph.Graph // in order of time
	allow     []string
	dir       string
	db        *tsdb.DB
}

func writeHistory(t *testing.T) *history {
	t.Helper()
	return writeSiteHistory(t, labels.EmptyLabels())
}

// writeSiteHistory is writeHistory by a strata with external labels.
func writeSiteHistory(t *testing.T, external labels.Labels) *history {
	t.Helper()
	h := &history{t0: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), allow: []string{"team"}, dir: t.TempDir()}
	h.db = storetest.Open(t, h.dir)
	lbs, facts := &scriptedLBs{lbs: historyLBs("192.0.2.2")}, &scriptedFacts{facts: historyFacts()}
	now := h.t0
	r := NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{lbs}, FactSources: []source.Facts{facts},
		Allowlist: h.allow, StaleAfter: 5 * time.Minute, Sink: h.db, Now: func() time.Time { return now }, ExternalLabels: external}, slog.New(slog.DiscardHandler))
	for step := range 19 {
		now = h.t0.Add(time.Duration(step) * 30 * time.Second)
		switch now.Sub(h.t0) {
		case time.Minute:
			lbs.lbs = historyLBs("192.0.2.3")
		case 2 * time.Minute:
			facts.facts = historyFacts()
			facts.facts.Containers = facts.facts.Containers[1:]
		case 3 * time.Minute:
			lbs.err = errors.New("dial unix /run/haproxy/admin.sock: connect: connection refused")
		}
		h.refreshes = append(h.refreshes, r.Refresh(context.Background()))
	}
	return h
}

// checkEveryTime compares GraphAt with the refresher's graph at each refresh and between two.
func (h *history) checkEveryTime(t *testing.T, db storage.Queryable) {
	t.Helper()
	for _, want := range h.refreshes {
		for _, at := range []time.Time{want.At, want.At.Add(20 * time.Second)} {
			got, warnings, err := GraphAt(context.Background(), db, at)
			if err != nil {
				t.Fatalf("GraphAt(%s): %v", at.Format(time.TimeOnly), err)
			}
			if len(warnings) > 0 {
				t.Errorf("GraphAt(%s) warnings: %v", at.Format(time.TimeOnly), warnings)
			}
			if diffs := graphDiff(want, got, at, h.allow); len(diffs) > 0 {
				t.Errorf("GraphAt(%s) differs from the graph of %s:\n\t%s", at.Format(time.TimeOnly),
					want.At.Format(time.TimeOnly), strings.Join(diffs, "\n\t"))
			}
		}
	}
}

func TestGraphAtEveryRefresh(t *testing.T) {
	h := writeHistory(t)
	h.checkEveryTime(t, h.db)
}

// TestGraphAtSite: a strata named by external labels writes them on every series, gives every
// entity its cluster, and the graph read back at any time is the same, cluster included.
func TestGraphAtSite(t *testing.T) {
	h := writeSiteHistory(t, labels.FromStrings("cluster", "eu-1", "region", "eu"))
	for _, g := range h.refreshes {
		for e := range g.All("") {
			if e.Attr("cluster") != "eu-1" {
				t.Fatalf("%s has cluster %q, want eu-1", e.Ref, e.Attr("cluster"))
			}
		}
	}
	h.checkEveryTime(t, h.db)
	q, err := h.db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", "strata_.+"))
	n := 0
	for ; set.Next(); n++ {
		if ls := set.At().Labels(); ls.Get("cluster") != "eu-1" || ls.Get("region") != "eu" {
			t.Fatalf("a series without the external labels: %s", ls)
		}
	}
	if n == 0 {
		t.Fatal("no series written")
	}
	if err := CheckExternalLabels(labels.FromStrings("host", "x")); err == nil || !strings.Contains(err.Error(), `"host"`) {
		t.Errorf("an external label host: %v, want refused", err)
	}
	if err := CheckExternalLabels(labels.FromStrings("label_team", "x")); err == nil {
		t.Errorf("an external label label_team: refused nothing")
	}
}

// TestGraphAtVanishedContainer: a container gone from one refresh is gone from the graph of
// that time, though its last sample is still within the lookback.
func TestGraphAtVanishedContainer(t *testing.T) {
	h := writeHistory(t)
	c1 := graph.Ref{Kind: graph.Container, ID: containerC1}
	for at, want := range map[time.Duration]bool{105 * time.Second: true, 2 * time.Minute: false, 2*time.Minute + 10*time.Second: false} {
		g, _, err := GraphAt(context.Background(), h.db, h.t0.Add(at))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := g.Get(c1); ok != want {
			t.Errorf("at %s container c1 there: %v, want %v", at, ok, want)
		}
	}
}

// TestGraphAtMovedInstance: s0 runs on vm's container c1, then, its address changed, on db.
func TestGraphAtMovedInstance(t *testing.T) {
	h := writeHistory(t)
	s0 := graph.Ref{Kind: graph.Instance, ID: "edge/c1ps/s0"}
	for at, want := range map[time.Duration]string{50 * time.Second: "container/" + containerC1, 70 * time.Second: "host/db"} {
		g, _, err := GraphAt(context.Background(), h.db, h.t0.Add(at))
		if err != nil {
			t.Fatal(err)
		}
		var below []string
		for _, e := range g.Down(s0) {
			below = append(below, e.To().String())
		}
		if len(below) != 1 || below[0] != want {
			t.Errorf("at %s s0 runs on %v, want %s", at, below, want)
		}
	}
}

// TestGraphAtStaleSource: while the LB source fails its entities are back stale; past
// --topology.stale-after they are gone.
func TestGraphAtStaleSource(t *testing.T) {
	h := writeHistory(t)
	lb := graph.Ref{Kind: graph.LB, ID: "haproxy/edge"}
	for at, want := range map[time.Duration]string{170 * time.Second: "fresh", 190 * time.Second: "stale", 8*time.Minute + 10*time.Second: "gone"} {
		g, _, err := GraphAt(context.Background(), h.db, h.t0.Add(at))
		if err != nil {
			t.Fatal(err)
		}
		got := "gone"
		if e, ok := g.Get(lb); ok && e.Stale {
			got = "stale"
		} else if ok {
			got = "fresh"
		}
		if got != want {
			t.Errorf("at %s the LB is %s, want %s", at, got, want)
		}
	}
}

// TestGraphAtOutsideHistory: before the first refresh, and once the last series is older
// than the lookback, there is nothing.
func TestGraphAtOutsideHistory(t *testing.T) {
	h := writeHistory(t)
	last := h.refreshes[len(h.refreshes)-1].At
	for _, at := range []time.Time{h.t0.Add(-time.Millisecond), h.t0.Add(-time.Hour), last.Add(lookback + time.Second)} {
		g, warnings, err := GraphAt(context.Background(), h.db, at)
		if err != nil || len(warnings) > 0 {
			t.Fatalf("GraphAt(%s): %v %v", at, warnings, err)
		}
		if g.Len() != 0 {
			t.Errorf("GraphAt(%s) has %d entities, want none:\n%s", at, g.Len(), graph.Dump(g))
		}
	}
}

// TestGraphAtAcrossRestart: the TSDB closed and opened again still travels back.
func TestGraphAtAcrossRestart(t *testing.T) {
	h := writeHistory(t)
	if err := h.db.Close(); err != nil {
		t.Fatal(err)
	}
	h.checkEveryTime(t, storetest.Open(t, h.dir))
}

// TestGraphAtRemoteRead: the same history read from a Prometheus-compatible store through
// remote read (as --prometheus.url does), which adds its external labels to every series.
func TestGraphAtRemoteRead(t *testing.T) {
	h := writeHistory(t)
	conf := func() config.Config {
		return config.Config{GlobalConfig: config.GlobalConfig{ExternalLabels: labels.FromStrings("region", "eu", "replica", "a")}}
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/read", remote.NewReadHandler(slog.New(slog.DiscardHandler), nil, h.db, conf, 0, 1, 1<<20))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	q, err := store.RemoteReader(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	h.checkEveryTime(t, q)
}

// TestGraphAtComparisonCanFail: the comparison sees a moved instance, a vanished container and a
// stale LB, or the tests above would prove nothing.
func TestGraphAtComparisonCanFail(t *testing.T) {
	h := writeHistory(t)
	for _, pair := range [][2]int{{1, 2}, {3, 4}, {5, 6}} {
		want, other := h.refreshes[pair[0]], h.refreshes[pair[1]]
		got, _, err := GraphAt(context.Background(), h.db, other.At)
		if err != nil {
			t.Fatal(err)
		}
		if diffs := graphDiff(want, got, other.At, h.allow); len(diffs) == 0 {
			t.Errorf("the graph of %s compares equal to the graph of %s", other.At.Format(time.TimeOnly), want.At.Format(time.TimeOnly))
		}
	}
}

// TestGraphAtUnmappedSeries: series that name what no series names are warnings, summed by
// family; labels a family does not have (a remote store's external labels but cluster, which
// names the site) are ignored.
func TestGraphAtUnmappedSeries(t *testing.T) {
	db := storetest.Open(t, t.TempDir())
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	app := db.Appender(context.Background())
	for _, s := range []string{
		`strata_topology_lb_info{lb="edge", provider="haproxy", region="eu"}`,
		`strata_topology_host_info{host="vm", kernel_release="6.18.44", region="eu"}`,
		`strata_topology_container_info{container_id="c1", host="ghost", region="eu"}`,
		`strata_topology_container_info{container_id="c2", host="ghost"}`,
		`strata_topology_service_info{lb="elsewhere", service="c1ps"}`,
		`strata_topology_edge_info{from_kind="instance", from="edge/c1ps/s0", to_kind="host", to="vm", source="edge"}`,
		`strata_topology_source_up{source="edge"}`,
	} {
		ls, err := store.ParseSeries(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := app.Append(0, ls, at.UnixMilli(), 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	g, warnings, err := GraphAt(context.Background(), db, at)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`strata_topology_container_info: 2 series point at a missing host`,
		`strata_topology_edge_info: 1 series point at a missing instance`,
		`strata_topology_service_info: 1 series point at a missing lb`,
	}
	if len(warnings) != len(want) {
		t.Fatalf("warnings %q, want %d", warnings, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(warnings[i], w) {
			t.Errorf("warning %q, want %q…", warnings[i], w)
		}
	}
	if got := graph.Dump(g); got != `lb/haproxy/edge name="edge" provider="haproxy" sources=
service/elsewhere/c1ps name="c1ps" lb="elsewhere" sources=
container/c1 name="" host="ghost" sources=
container/c2 name="" host="ghost" sources=
host/vm name="vm" kernel_release="6.18.44" sources=
` {
		t.Errorf("graph:\n%s", got)
	}
}

// TestGraphAtRestorersCoverFamilies: every family the topology writes restores something, but
// path_info (its rows are walks of the other families' edges), and every label a restorer
// renames is one its family has.
func TestGraphAtRestorersCoverFamilies(t *testing.T) {
	for _, fam := range families() {
		if restores := fam.restore.restores(); restores != (fam.Name != "strata_topology_path_info") {
			t.Errorf("%s: restores %v: GraphAt would leave it out, or restore what it should not", fam.Name, restores)
		}
		for l := range fam.restore.attr {
			if !slices.Contains(fam.Labels, l) {
				t.Errorf("%s: restorer renames label %s, which the family does not have", fam.Name, l)
			}
		}
	}
}

// BenchmarkGraphAtFleet rebuilds the synthetic fleet's graph (docs/design.md, "Targets": 10k hosts, 100k
// instances, 300k containers, 1k LBs) from its 731k series in the embedded TSDB, as written by
// six refreshes a minute apart. Target: < 3 s. Peak RSS is measured from after the writes
// (the TSDB's head included): run it alone.
func BenchmarkGraphAtFleet(b *testing.B) {
	db, err := store.Open(store.Options{Path: b.TempDir()}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	entities, at := writeFleetHistory(b, db)
	// The refresher and the fleet's reports are garbage now: the peak from here on is
	// GraphAt's, over the TSDB that holds the series.
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	b.ResetTimer()
	for range b.N {
		g, warnings, err := GraphAt(context.Background(), db, at)
		if err != nil || len(warnings) > 0 {
			b.Fatalf("GraphAt: %v %v", warnings, err)
		}
		if g.Len() != entities {
			b.Fatalf("%d entities, want %d", g.Len(), entities)
		}
		b.ReportMetric(float64(g.Len()), "entities")
	}
	b.StopTimer()
	b.ReportMetric(peakRSSMB(), "peak-RSS-MB")
}

// writeFleetHistory writes the fleet's series as six refreshes a minute apart would, and
// returns the number of entities and a time 30 s after the last refresh.
func writeFleetHistory(b *testing.B, db *tsdb.DB) (int, time.Time) {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	facts, lbs := sourcetest.Synthetic(t0)
	now := t0
	r := NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{sourcetest.Static{SourceName: "fleet-lbs", LBs: lbs}}, FactSources: []source.Facts{sourcetest.StaticFacts{SourceName: "fleet-facts", Set: facts}},
		Sink: db, Now: func() time.Time { return now }}, slog.New(slog.DiscardHandler))
	for step := range 6 {
		now = t0.Add(time.Duration(step) * time.Minute)
		r.Refresh(context.Background())
	}
	g, warnings := r.Graph()
	if len(warnings) > 0 {
		b.Fatalf("refresh: %d warnings, first: %s", len(warnings), warnings[0])
	}
	return g.Len(), now.Add(30 * time.Second)
}

// resetPeakRSS starts the process's high-water mark of resident memory (peakRSSMB) again from
// now, so that a benchmark measures what follows its setup (Linux ≥ 4.0; elsewhere a no-op).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }
