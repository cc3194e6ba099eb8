package topology

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/strata-obs/strata/internal/store"
	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/sourcetest"
)

// scriptedLBs answers what the test says next: an LB list or an error.
type scriptedLBs struct {
	lbs []source.LB
	err error
}

func (*scriptedLBs) Name() string { return "edge" }
func (s *scriptedLBs) ListLoadBalancers(context.Context) ([]source.LB, error) {
	return s.lbs, s.err
}

// TestStaleSourceKeptThenDropped: a source that fails keeps its last report, stale, with a
// warning and source_up 0; past --topology.stale-after its entities go.
func TestStaleSourceKeptThenDropped(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	src := &scriptedLBs{lbs: []source.LB{{Name: "edge", Provider: "haproxy", Services: []source.Service{{Name: "c1ps",
		Instances: []source.Instance{{Name: "s0", Address: "192.0.2.7", Port: 80}}}}}}}
	r := NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{src}, StaleAfter: 5 * time.Minute,
		Now: func() time.Time { return now }}, slog.New(slog.DiscardHandler))
	inst := graph.Ref{Kind: graph.Instance, ID: "edge/c1ps/s0"}

	g := r.Refresh(context.Background())
	if e, ok := g.Get(inst); !ok || e.Stale {
		t.Fatalf("fresh instance: %+v", e)
	}
	up := func() float64 {
		for _, s := range r.Samples() {
			if s.Name() == "strata_topology_source_up" && s.Labels.Get("source") == "edge" {
				return s.Value
			}
		}
		t.Fatal("no strata_topology_source_up{source=edge}")
		return -1
	}
	if up() != 1 {
		t.Error("source_up after a good refresh is not 1")
	}

	src.err = errors.New("dial unix /run/haproxy/admin.sock: connect: connection refused")
	now = now.Add(time.Minute)
	g = r.Refresh(context.Background())
	if e, ok := g.Get(inst); !ok || !e.Stale {
		t.Fatalf("after a failure the instance must stay, stale: %+v", e)
	}
	_, warnings := r.Graph()
	if len(warnings) == 0 || !strings.Contains(warnings[0], "connection refused") {
		t.Errorf("warnings %v lack the source's error", warnings)
	}
	if up() != 0 {
		t.Error("source_up after a failure is not 0")
	}
	staleSeries := 0
	for _, s := range r.Samples() {
		if n := s.Name(); (n == "strata_topology_instance_info" || n == "strata_topology_path_info") && s.Labels.Get("stale") == "true" {
			staleSeries++
		}
	}
	if staleSeries != 2 {
		t.Errorf("%d stale instance_info and path_info series, want both marked stale=\"true\"", staleSeries)
	}

	now = now.Add(5 * time.Minute)
	g = r.Refresh(context.Background())
	if _, ok := g.Get(inst); ok {
		t.Error("the instance outlived --topology.stale-after")
	}

	src.err = nil
	now = now.Add(time.Minute)
	if _, ok := r.Refresh(context.Background()).Get(inst); !ok {
		t.Error("the instance did not come back with its source")
	}
}

// panickingLBs is a broken source.
type panickingLBs struct{}

func (panickingLBs) Name() string { return "broken" }
func (panickingLBs) ListLoadBalancers(context.Context) ([]source.LB, error) {
	var lbs []source.LB
	_ = lbs[3] // index out of range
	return nil, nil
}

func TestPanickingSourceIsAWarning(t *testing.T) {
	r := NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{panickingLBs{}}}, slog.New(slog.DiscardHandler))
	r.Refresh(context.Background())
	_, warnings := r.Graph()
	if len(warnings) != 1 || !strings.Contains(warnings[0], "panicked") {
		t.Errorf("warnings %v", warnings)
	}
}

// TestWriteHeartbeatAndStaleness: an unchanged series is written again only after the
// heartbeat, a changed one at once, and a vanished one ends with a staleness marker.
func TestWriteHeartbeatAndStaleness(t *testing.T) {
	db, err := store.Open(store.Options{Path: t.TempDir()}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	now := t0
	inst := func(health string) []source.LB {
		return []source.LB{{Name: "edge", Provider: "haproxy", Services: []source.Service{{Name: "c1ps",
			Instances: []source.Instance{{Name: "s0", Address: "192.0.2.7", Port: 80, Health: health}}}}}}
	}
	src := &scriptedLBs{lbs: inst("UP")}
	r := NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{src}, Sink: db,
		Now: func() time.Time { return now }}, slog.New(slog.DiscardHandler))
	for _, step := range []time.Duration{0, 15 * time.Second, 30 * time.Second, 45 * time.Second, 60 * time.Second} {
		now = t0.Add(step)
		r.Refresh(context.Background())
	}
	src.lbs = inst("DOWN")
	now = t0.Add(75 * time.Second)
	r.Refresh(context.Background())

	samples := func(health string) []float64 {
		return samplesIn(t, db, t0, now, labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, "strata_topology_instance_info"),
			labels.MustNewMatcher(labels.MatchEqual, "health", health))
	}
	up := samples("UP")
	// Written at 0 s and at 60 s (the heartbeat), then ended by a staleness marker at 75 s.
	if len(up) != 3 || up[0] != 1 || up[1] != 1 || !value.IsStaleNaN(up[2]) {
		t.Errorf("UP series samples %v, want [1 1 stale]", up)
	}
	if down := samples("DOWN"); len(down) != 1 || down[0] != 1 {
		t.Errorf("DOWN series samples %v, want [1], written at once", down)
	}
}

// samplesIn is every sample of the series ms select in db between from and to, in order.
func samplesIn(t *testing.T, db storage.Queryable, from, to time.Time, ms ...*labels.Matcher) []float64 {
	t.Helper()
	q, err := db.Querier(from.UnixMilli(), to.UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	set := q.Select(context.Background(), false, nil, ms...)
	var out []float64
	for set.Next() {
		it := set.At().Iterator(nil)
		for it.Next() != chunkenc.ValNone {
			_, v := it.At()
			out = append(out, v)
		}
	}
	return out
}

// TestFirstZeroWritten: a series whose first value is 0 (a source down from the start) is
// written at once, as every new series is: the alert on it has something to fire on.
func TestFirstZeroWritten(t *testing.T) {
	db, err := store.Open(store.Options{Path: t.TempDir()}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	src := &scriptedLBs{err: errors.New("dial unix /run/haproxy/admin.sock: connect: no such file or directory")}
	r := NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{src}, Sink: db,
		Now: func() time.Time { return now }}, slog.New(slog.DiscardHandler))
	r.Refresh(context.Background())
	got := samplesIn(t, db, now, now, labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, "strata_topology_source_up"),
		labels.MustNewMatcher(labels.MatchEqual, "source", "edge"))
	if len(got) != 1 || got[0] != 0 {
		t.Errorf("strata_topology_source_up{source=\"edge\"} samples %v, want [0]", got)
	}
}

// TestSeriesLabelsSorted: every series is built with its labels in order (the TSDB and
// PromQL rely on it), with and without allow-listed metadata labels among them.
func TestSeriesLabelsSorted(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	src := &scriptedLBs{lbs: []source.LB{{Name: "edge", Provider: "haproxy", Labels: map[string]string{"team": "web", "zone": "a"},
		Services: []source.Service{{Name: "c1ps", Labels: map[string]string{"app": "shop"},
			Instances: []source.Instance{{Name: "s0", Address: "192.0.2.7", Port: 80, Health: "UP"}}}}}}}
	for _, allow := range [][]string{nil, {"team", "zone", "app"}} {
		r := NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{src}, Allowlist: allow,
			Now: func() time.Time { return now }}, slog.New(slog.DiscardHandler))
		r.Refresh(context.Background())
		metaSeen := false
		for _, s := range append(r.Samples(), Series(r.graph, allow)...) {
			var names []string
			s.Labels.Range(func(l labels.Label) { names = append(names, l.Name) })
			for i := 1; i < len(names); i++ {
				if names[i-1] >= names[i] {
					t.Fatalf("allow %v: %s: labels out of order: %v", allow, s.Labels, names)
				}
			}
			metaSeen = metaSeen || s.Labels.Has("label_team")
		}
		if metaSeen != (allow != nil) {
			t.Errorf("allow %v: label_team seen %v", allow, metaSeen)
		}
	}
}

// bothHalves is one source that reports LBs and facts under one name, as an inventory does.
type bothHalves struct {
	scriptedLBs
	factsErr error
}

func (b *bothHalves) ListFacts(context.Context, time.Time) (*source.FactSet, error) {
	return &source.FactSet{Hosts: []source.Host{{Origin: source.OriginInventory, Name: "node-1", Addresses: []string{"192.0.2.7"}}}}, b.factsErr
}

// TestOneSourceBothHalves: an LB source and a facts source under one name keep a state each:
// both halves join (the instance resolves to the host the same source names), and one half
// failing makes the source's source_up 0 without dropping the other half.
func TestOneSourceBothHalves(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	src := &bothHalves{scriptedLBs: scriptedLBs{lbs: []source.LB{{Name: "edge", Provider: "inventory", Services: []source.Service{{Name: "c1ps",
		Instances: []source.Instance{{Name: "s0", Address: "192.0.2.7", Port: 80}}}}}}}}
	r := NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{src}, FactSources: []source.Facts{src},
		Now: func() time.Time { return now }}, slog.New(slog.DiscardHandler))
	g := r.Refresh(context.Background())
	if hosts := g.Below(graph.Ref{Kind: graph.Instance, ID: "edge/c1ps/s0"}, graph.Host); len(hosts) != 1 || hosts[0].ID != "node-1" {
		t.Fatalf("instance resolves to %v, want host node-1 of the same source", hosts)
	}
	src.factsErr = errors.New("inventory unreadable")
	now = now.Add(time.Minute)
	g = r.Refresh(context.Background())
	if _, ok := g.Get(graph.Ref{Kind: graph.Instance, ID: "edge/c1ps/s0"}); !ok {
		t.Error("the LB half's instance is gone when the facts half failed")
	}
	ups := 0
	for _, s := range r.Samples() {
		if s.Name() == "strata_topology_source_up" {
			ups++
			if s.Labels.Get("source") != "edge" || s.Value != 0 {
				t.Errorf("%s %g: want source_up{source=edge} 0", s.Labels, s.Value)
			}
		}
	}
	if ups != 1 {
		t.Errorf("%d source_up series, want one per source name", ups)
	}
}

// stuckLBs never answers until released, whatever its context says: a source whose read
// blocks where no deadline reaches (a named pipe opened for reading, a syscall that hangs).
type stuckLBs struct {
	release chan struct{}
	calls   atomic.Int32
}

func (*stuckLBs) Name() string { return "stuck" }
func (s *stuckLBs) ListLoadBalancers(context.Context) ([]source.LB, error) {
	s.calls.Add(1)
	<-s.release
	return nil, nil
}

// TestStragglerAbandoned: a source that outlasts its deadline is abandoned: the refresh joins
// the others' answers without it, marks it down with the reason, and does not ask it again
// while its call goes on; once the call returns, it is asked again. Shutdown does not wait for
// it either.
func TestStragglerAbandoned(t *testing.T) {
	stuck := &stuckLBs{release: make(chan struct{})}
	good := &scriptedLBs{lbs: []source.LB{{Name: "edge", Provider: "haproxy", Services: []source.Service{{Name: "c1ps",
		Instances: []source.Instance{{Name: "s0", Address: "192.0.2.7", Port: 80}}}}}}}
	r := NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{stuck, good}, Timeout: 100 * time.Millisecond},
		slog.New(slog.DiscardHandler))
	statusOf := func(name string) SourceStatus {
		for _, s := range r.Sources() {
			if s.Name == name {
				return s
			}
		}
		t.Fatalf("no source %s in %v", name, r.Sources())
		return SourceStatus{}
	}

	done := make(chan *graph.Graph)
	go func() { done <- r.Refresh(context.Background()) }()
	var g *graph.Graph
	select {
	case g = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Refresh waits for a source that never answers")
	}
	if _, ok := g.Get(graph.Ref{Kind: graph.Instance, ID: "edge/c1ps/s0"}); !ok {
		t.Error("the answering source's instance is not in the graph")
	}
	if s := statusOf("stuck"); s.Up || !strings.Contains(s.Error, "no answer within 100ms: abandoned") {
		t.Errorf("the straggler's status: %+v", s)
	}
	if s := statusOf("edge"); !s.Up {
		t.Errorf("the answering source's status: %+v", s)
	}

	r.Refresh(context.Background())
	if s := statusOf("stuck"); s.Up || !strings.Contains(s.Error, "has not returned: not asked again until it does") {
		t.Errorf("the straggler's status while its call runs: %+v", s)
	}
	if n := stuck.calls.Load(); n != 1 {
		t.Errorf("the straggler was called %d times while its first call ran, want 1", n)
	}

	// Shutdown: a refresh whose context ends returns, straggler or not.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	go func() { done <- r.Refresh(ctx) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Refresh with an ended context waits")
	}

	close(stuck.release)
	testenv.Eventually(t, 10*time.Second, "the released straggler answers", func() error {
		r.Refresh(context.Background())
		if s := statusOf("stuck"); !s.Up {
			return errors.New(s.Error)
		}
		return nil
	})
	if n := stuck.calls.Load(); n != 2 {
		t.Errorf("the straggler was called %d times in all, want 2", n)
	}
}

// TestSeriesIndexSharedHash: two series of one hash are both found, and a sweep drops only the
// one its refresh did not make, whichever of the two it is.
func TestSeriesIndexSharedHash(t *testing.T) {
	for _, keep := range []int{0, 1} {
		x := newSeriesIndex()
		ws := []*written{{labels: labels.FromStrings("a", "1")}, {labels: labels.FromStrings("a", "2")}}
		for _, w := range ws {
			x.add(42, w) // one hash for both, as a collision would have it
		}
		for _, w := range ws {
			if got := x.get(42, w.labels); got != w {
				t.Fatalf("get(%s) = %v", w.labels, got)
			}
		}
		ws[keep].epoch = 7
		var gone []*written
		x.sweep(7, func(w *written) { gone = append(gone, w) })
		if len(gone) != 1 || gone[0] != ws[1-keep] {
			t.Errorf("keeping %d: swept %v", keep, gone)
		}
		if x.get(42, ws[keep].labels) != ws[keep] || x.get(42, ws[1-keep].labels) != nil {
			t.Errorf("keeping %d: after the sweep, the kept one is lost or the gone one found", keep)
		}
		x.sweep(8, func(*written) {})
		if len(x.one) != 0 || len(x.more) != 0 {
			t.Errorf("keeping %d: a sweep of every series leaves %d and %d entries", keep, len(x.one), len(x.more))
		}
	}
}

// TestSetSources: a reload's sources replace the running ones between two refreshes; a source
// kept by name keeps its state, one gone leaves the graph with its entities, a new one joins.
func TestSetSources(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	lb := func(name string) sourcetest.Static {
		return sourcetest.Static{SourceName: name, LBs: []source.LB{{Name: name, Provider: "haproxy", Services: []source.Service{{Name: "c1ps",
			Instances: []source.Instance{{Name: "s0", Address: "192.0.2.7", Port: 80}}}}}}}
	}
	failing := &scriptedLBs{lbs: lb("edge").LBs}
	r := NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{failing, lb("gone")}, Now: func() time.Time { return now }}, slog.New(slog.DiscardHandler))
	r.Refresh(context.Background())
	failing.err = errors.New("connection refused")
	now = now.Add(15 * time.Second)
	r.Refresh(context.Background())

	r.SetSources([]source.LoadBalancers{failing, lb("new")}, nil)
	now = now.Add(15 * time.Second)
	g := r.Refresh(context.Background())
	for id, want := range map[string]bool{"edge": true, "new": true, "gone": false} {
		if _, ok := g.Get(graph.Ref{Kind: graph.LB, ID: "haproxy/" + id}); ok != want {
			t.Errorf("lb %s in the graph: %v, want %v", id, ok, want)
		}
	}
	if e, ok := g.Get(graph.Ref{Kind: graph.Instance, ID: "edge/c1ps/s0"}); !ok || !e.Stale {
		t.Errorf("the kept source's last report: %+v, want its instance kept, stale", e)
	}
	var names []string
	for _, s := range r.Sources() {
		names = append(names, s.Name)
	}
	if slices.Sort(names); !slices.Equal(names, []string{"edge", "new"}) {
		t.Errorf("sources %q, want edge and new", names)
	}
}

// TestHealthCollector: the refresh's health on /metrics says what the refresher says itself:
// its series, when the last refresh ended, and each source's failures.
func TestHealthCollector(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	src := &scriptedLBs{lbs: []source.LB{{Name: "edge", Provider: "haproxy", Services: []source.Service{{Name: "c1ps",
		Instances: []source.Instance{{Name: "s0", Address: "192.0.2.7", Port: 80}}}}}}}
	r := NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{src}, Now: func() time.Time { return now }}, slog.New(slog.DiscardHandler))
	r.Refresh(context.Background())
	src.err = errors.New("connection refused")
	r.Refresh(context.Background())
	r.Refresh(context.Background())
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(r.HealthCollector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			got[key] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{
		"strata_refresh_series":                          float64(len(r.Samples())),
		"strata_refresh_last_success_timestamp_seconds":  float64(r.LastFinished().UnixMilli()) / 1000,
		"strata_source_errors_total,kind=lb,source=edge": 2,
		"strata_refresh_interval_seconds":                0, // no Loop yet
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (%v), want %v", k, g, ok, v)
		}
	}
	if got["strata_refresh_series"] == 0 {
		t.Error("no series counted")
	}
}
