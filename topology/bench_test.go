package topology

import (
	"context"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/tsdb"
	"github.com/strata-obs/strata/internal/store"
	"github.com/strata-obs/strata/topology/lifecycle"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/sourcetest"
)

// BenchmarkRefreshFleet is a full refresh of the synthetic fleet of docs/design.md, "Targets" (10k hosts,
// 100k instances, 300k containers, 1k LBs): join, series, and their write into the embedded
// TSDB. Targets: < 1 s a refresh, peak RSS < 1.5 GB. Run it alone (make bench does): peak RSS is
// the process's.
func BenchmarkRefreshFleet(b *testing.B) { benchRefresh(b, fleetRefresher(b, true)) }

// BenchmarkRebuildFleet is the same refresh without storage: the graph and its series (as
// /metrics serves them) rebuilt from the sources' reports, the "full rebuild" of docs/design.md, "Targets".
func BenchmarkRebuildFleet(b *testing.B) { benchRefresh(b, fleetRefresher(b, false)) }

// BenchmarkRefreshFleetChurn is BenchmarkRefreshFleet when the fleet's entities do not keep
// their places: its first host leaves and comes back at alternate refreshes, which moves every
// entity after it one place, as pods coming and going do. A refresh keeps the last graph's
// entities wherever they are (graph.Keep), each moved one noted in a map of the graph's.
func BenchmarkRefreshFleetChurn(b *testing.B) {
	benchMoving(b, func(m *moving) {
		m.gone = !m.gone
		m.facts.Hosts = m.all
		if m.gone {
			m.facts.Hosts = m.all[1:]
		}
	})
}

// BenchmarkRefreshFleetTraffic is BenchmarkRefreshFleet when the LBs count traffic, as
// HAProxy's do: every instance's counters move at every refresh (each answer a new map, as a
// source parses them), so its rates and error ratio, and with them its entity, change every
// time: no instance is kept.
func BenchmarkRefreshFleetTraffic(b *testing.B) {
	benchMoving(b, func(m *moving) {
		m.n++
		for i := range m.lbs {
			for j := range m.lbs[i].Services {
				for k := range m.lbs[i].Services[j].Instances {
					// Each instance at a rate of its own, a few with errors.
					c := float64(m.n * (1 + k%7) * 150)
					m.lbs[i].Services[j].Instances[k].Traffic = source.Traffic{source.TrafficRequests: c, source.TrafficHTTP2xx: c - float64(m.n*(k%3)),
						source.TrafficHTTP5xx: float64(m.n * (k % 3)), source.TrafficSessions: float64(k % 11)}
				}
			}
		}
	})
}

func benchMoving(b *testing.B, step func(*moving)) {
	m := movingRun(b)
	b.ResetTimer()
	for range b.N {
		m.now = m.now.Add(15 * time.Second)
		b.StopTimer()
		step(m)
		b.StartTimer()
		g := m.r.Refresh(context.Background())
		b.ReportMetric(float64(g.Len()), "entities")
		b.ReportMetric(float64(len(m.r.Samples())), "series")
		idle(b, m.r)
	}
	b.ReportMetric(peakRSSMB(), "peak-RSS-MB")
}

// moving is the fleet of BenchmarkRefreshFleetChurn and BenchmarkRefreshFleetTraffic, made
// once per process as fleetRun is: a second fleet and TSDB beside the first would count in the
// peak (make bench runs each alone).
type moving struct {
	r     *Refresher
	now   time.Time
	facts *source.FactSet
	all   []source.Host
	lbs   []source.LB
	gone  bool // the first host is gone
	n     int  // refreshes counted
}

var theMoving *moving

func movingRun(b *testing.B) *moving {
	if theMoving != nil {
		return theMoving
	}
	m := &moving{now: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	facts, lbs := sourcetest.Synthetic(m.now)
	m.facts, m.all, m.lbs = facts, facts.Hosts, lbs
	m.r = NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{sourcetest.Static{SourceName: "fleet-lbs", LBs: lbs}},
		FactSources: []source.Facts{sourcetest.StaticFacts{SourceName: "fleet-facts", Set: facts}},
		Sink:        openBenchStore(b), Now: func() time.Time { return m.now }}, slog.New(slog.DiscardHandler))
	m.r.Refresh(context.Background())
	m.r.collected.Wait()
	theMoving = m
	return m
}

// fleetRun is the synthetic fleet with its refresher (and TSDB), made once per process: the
// testing package runs a benchmark once with b.N = 1 before the measured run, and a second
// fleet and TSDB beside the first would double the peak RSS that the target is about.
type fleetRun struct {
	r   *Refresher
	now time.Time
}

var (
	fleetRunsMu sync.Mutex
	fleetRuns   = map[bool]*fleetRun{}
)

func fleetRefresher(b *testing.B, withTSDB bool) *fleetRun {
	fleetRunsMu.Lock()
	defer fleetRunsMu.Unlock()
	if f, ok := fleetRuns[withTSDB]; ok {
		return f
	}
	f := &fleetRun{now: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	facts, lbs := sourcetest.Synthetic(f.now)
	// With the lifecycle policy strata serve runs without a lifecycle block: every host's
	// support end, its state and its series.
	opts := RefresherOptions{LBSources: []source.LoadBalancers{sourcetest.Static{SourceName: "fleet-lbs", LBs: lbs}}, FactSources: []source.Facts{sourcetest.StaticFacts{SourceName: "fleet-facts", Set: facts}},
		Now: func() time.Time { return f.now }, Lifecycle: &lifecycle.Policy{}}
	if withTSDB {
		opts.Sink = openBenchStore(b)
	}
	f.r = NewRefresher(opts, slog.New(slog.DiscardHandler))
	// The first refresh creates every series; the ones after it are the steady state that the
	// target is about.
	f.r.Refresh(context.Background())
	fleetRuns[withTSDB] = f
	return f
}

// benchStores are the benchmarks' TSDBs, left open until the process ends: the runs of a
// benchmark share one.
var benchStores []struct {
	db  io.Closer
	dir string
}

// openBenchStore opens an embedded TSDB in a directory of its own, closed and removed by TestMain.
func openBenchStore(b *testing.B) *tsdb.DB {
	dir, err := os.MkdirTemp("", "strata-bench-")
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(store.Options{Path: dir}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		b.Fatal(err)
	}
	benchStores = append(benchStores, struct {
		db  io.Closer
		dir string
	}{db, dir})
	return db
}

// TestMain closes and removes the benchmarks' TSDBs once every benchmark has run.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, s := range benchStores {
		s.db.Close()
		os.RemoveAll(s.dir)
	}
	os.Exit(code)
}

// idle is the time between two refreshes (the refresh interval, 15 s by default), left out
// of the benchmark's time: the collection each refresh starts as it ends runs in it.
func idle(b *testing.B, r *Refresher) {
	b.StopTimer()
	r.collected.Wait()
	b.StartTimer()
}

func benchRefresh(b *testing.B, f *fleetRun) {
	f.r.collected.Wait()
	b.ResetTimer()
	for range b.N {
		f.now = f.now.Add(15 * time.Second)
		g := f.r.Refresh(context.Background())
		b.ReportMetric(float64(g.Len()), "entities")
		b.ReportMetric(float64(len(f.r.Samples())), "series")
		idle(b, f.r)
	}
	b.StopTimer()
	if _, w := f.r.Graph(); len(w) > 0 {
		b.Fatalf("%d warnings, first: %s", len(w), w[0])
	}
	b.ReportMetric(peakRSSMB(), "peak-RSS-MB")
}

// peakRSSMB is the process's high-water mark of resident memory (VmHWM).
func peakRSSMB() float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkSiteCost is how one site's cost grows with its fleet: the synthetic fleet's shapes at
// STRATA_COST_HOSTS hosts (1,000 unless set; one LB per ten hosts), refreshed into the embedded
// TSDB. It reports the steady refresh (the first creates every series and is not counted), the
// process's peak RSS (run one size per process: make bench does), the series, and bytes per
// series twice, in the same run: strata's whole live heap (graph, series, its TSDB; not the
// sources' reports, which are the input), and Prometheus's own TSDB head (the tsdb package
// Prometheus runs, default options) holding the same series with labels of its own, two samples
// each, as a scrape 15 s apart would leave them.
func BenchmarkSiteCost(b *testing.B) {
	c := siteCostRun(b)
	b.Run("strata", func(b *testing.B) {
		c.r.collected.Wait()
		b.ResetTimer()
		for range b.N {
			c.now = c.now.Add(15 * time.Second)
			c.r.Refresh(context.Background())
			idle(b, c.r)
		}
		b.StopTimer()
		if _, w := c.r.Graph(); len(w) > 0 {
			b.Fatalf("%d warnings, first: %s", len(w), w[0])
		}
		series := c.r.Samples()
		strataBytes := liveHeap() - c.base - c.input
		b.ReportMetric(float64(c.hosts), "hosts")
		b.ReportMetric(float64(len(series)), "series")
		b.ReportMetric(peakRSSMB(), "peak-RSS-MB")
		b.ReportMetric(float64(strataBytes)/float64(len(series)), "strata-B/series")
	})
	// Prometheus's head beside it, once strata's peak was read: its own sub-benchmark, which
	// runs after strata's has run for the last time.
	b.Run("prometheus-head", func(b *testing.B) {
		series := c.r.Samples()
		if c.headBytes == 0 {
			c.headBytes = prometheusHeadBytes(b, series, c.now)
		}
		b.ReportMetric(float64(len(series)), "series")
		b.ReportMetric(c.headBytes/float64(len(series)), "prometheus-head-B/series")
	})
}

// siteCost is BenchmarkSiteCost's fleet, made once per process: the testing package runs a
// benchmark once before its measured run, and a second fleet beside the first would count in
// the peak RSS.
type siteCost struct {
	hosts       int
	r           *Refresher
	now         time.Time
	base, input int64 // the live heap before the fleet, and its sources' reports
	headBytes   float64
}

var theSiteCost *siteCost

func siteCostRun(b *testing.B) *siteCost {
	if theSiteCost != nil {
		return theSiteCost
	}
	c := &siteCost{hosts: 1000, now: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	if v := os.Getenv("STRATA_COST_HOSTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 10 {
			b.Fatalf("STRATA_COST_HOSTS=%q: want a number of hosts, 10 or more", v)
		}
		c.hosts = n
	}
	c.base = liveHeap()
	facts, lbs := sourcetest.Sized(c.now, c.hosts, c.hosts/10)
	c.input = liveHeap() - c.base
	db := openBenchStore(b)
	c.r = NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{sourcetest.Static{SourceName: "fleet-lbs", LBs: lbs}},
		FactSources: []source.Facts{sourcetest.StaticFacts{SourceName: "fleet-facts", Set: facts}},
		Sink:        db, Now: func() time.Time { return c.now }}, slog.New(slog.DiscardHandler))
	c.r.Refresh(context.Background()) // creates every series: not the steady state
	theSiteCost = c
	return c
}

// prometheusHeadBytes is the live heap of Prometheus's TSDB head holding series, with labels
// of its own, two samples each 15 s apart.
func prometheusHeadBytes(b *testing.B, series []store.Sample, now time.Time) float64 {
	before := liveHeap()
	head, err := store.Open(store.Options{Path: b.TempDir()}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer head.Close()
	for _, ts := range []time.Time{now, now.Add(15 * time.Second)} {
		app := head.Appender(context.Background())
		for i, s := range series {
			if _, err := app.Append(0, s.Labels.Copy(), ts.UnixMilli(), s.Value); err != nil {
				b.Fatal(err)
			}
			if i%20_000 == 19_999 {
				if err := app.Commit(); err != nil {
					b.Fatal(err)
				}
				app = head.Appender(context.Background())
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	if n := head.Head().NumSeries(); n != uint64(len(series)) {
		b.Fatalf("Prometheus's head holds %d series, want %d", n, len(series))
	}
	return float64(liveHeap() - before)
}

// liveHeap is the bytes of the heap's live objects, after a collection.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
