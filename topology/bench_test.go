package topology

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/store"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/sourcetest"
)

// BenchmarkRefreshFleet is a full refresh of the synthetic fleet of docs/design.md, "Targets" (10k hosts,
// 100k instances, 300k containers, 1k LBs): join, series, and their write into the embedded
// TSDB. Targets: < 2 s a refresh, RSS < 2 GB. Run it alone (make bench does): peak RSS is
// the process's.
func BenchmarkRefreshFleet(b *testing.B) { benchRefresh(b, fleetRefresher(b, true)) }

// BenchmarkRebuildFleet is the same refresh without storage: the graph and its series (as
// /metrics serves them) rebuilt from the sources' reports, the "full rebuild" of docs/design.md, "Targets".
func BenchmarkRebuildFleet(b *testing.B) { benchRefresh(b, fleetRefresher(b, false)) }

// fleetRun is the synthetic fleet with its refresher (and TSDB), made once per process: the
// testing package runs a benchmark once with b.N = 1 before the measured run, and a second
// fleet and TSDB beside the first would double the peak RSS that the target is about.
type fleetRun struct {
	r   *Refresher
	now time.Time
	db  io.Closer // the TSDB, if any
	dir string
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
	opts := RefresherOptions{LBSources: []source.LoadBalancers{sourcetest.Static{SourceName: "fleet-lbs", LBs: lbs}}, FactSources: []source.Facts{sourcetest.StaticFacts{SourceName: "fleet-facts", Set: facts}},
		Now: func() time.Time { return f.now }}
	if withTSDB {
		// Left open until the process ends: the runs of the benchmark share it.
		dir, err := os.MkdirTemp("", "strata-bench-")
		if err != nil {
			b.Fatal(err)
		}
		db, err := store.Open(store.Options{Path: dir}, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			b.Fatal(err)
		}
		opts.Sink, f.db, f.dir = db, db, dir
	}
	f.r = NewRefresher(opts, slog.New(slog.DiscardHandler))
	// The first refresh creates every series; the ones after it are the steady state that the
	// target is about.
	f.r.Refresh(context.Background())
	fleetRuns[withTSDB] = f
	return f
}

// TestMain closes and removes the fleet benchmarks' TSDBs once every benchmark has run.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, f := range fleetRuns {
		if f.db != nil {
			f.db.Close()
			os.RemoveAll(f.dir)
		}
	}
	os.Exit(code)
}

func benchRefresh(b *testing.B, f *fleetRun) {
	b.ResetTimer()
	for range b.N {
		f.now = f.now.Add(15 * time.Second)
		g := f.r.Refresh(context.Background())
		b.ReportMetric(float64(g.Len()), "entities")
		b.ReportMetric(float64(len(f.r.Samples())), "series")
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
