package topology

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/storage"

	"github.com/strata-obs/strata/query/promql"
	"github.com/strata-obs/strata/topology/internal/fleet"
	"github.com/strata-obs/strata/topology/source"
)

// fleetLBs and fleetFacts serve the synthetic fleet from memory, as an inventory and the
// exporters' series would.
type fleetLBs []source.LB

func (fleetLBs) Name() string                                             { return "fleet-lbs" }
func (f fleetLBs) ListLoadBalancers(context.Context) ([]source.LB, error) { return f, nil }

type fleetFacts struct{ *source.FactSet }

func (fleetFacts) Name() string { return "fleet-facts" }
func (f fleetFacts) ListFacts(context.Context, time.Time) (*source.FactSet, error) {
	return f.FactSet, nil
}

// BenchmarkRefreshFleet is a full refresh of the synthetic fleet of DESIGN.md §10 (10k hosts,
// 100k instances, 300k containers, 1k LBs): join, series, and their write into the embedded
// TSDB. Targets: < 2 s a refresh, RSS < 2 GB. Run it alone (make bench does): peak RSS is
// the process's.
func BenchmarkRefreshFleet(b *testing.B) {
	db, err := promql.OpenStorage(promql.StorageOptions{Path: b.TempDir()}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	benchRefresh(b, db)
}

// BenchmarkRebuildFleet is the same refresh without storage: the graph and its series (as
// /metrics serves them) rebuilt from the sources' reports, the "full rebuild" of DESIGN.md §10.
func BenchmarkRebuildFleet(b *testing.B) { benchRefresh(b, nil) }

func benchRefresh(b *testing.B, sink storage.Appendable) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	facts, lbs := fleet.Synthetic(at)
	now := at
	opts := RefresherOptions{LBSources: []source.LoadBalancers{fleetLBs(lbs)}, FactSources: []source.Facts{fleetFacts{facts}},
		Now: func() time.Time { return now }}
	if sink != nil {
		opts.Sink = sink
	}
	r := NewRefresher(opts, slog.New(slog.DiscardHandler))
	// The first refresh creates every series; the ones after it are the steady state that the
	// target is about.
	r.Refresh(context.Background())
	b.ResetTimer()
	for range b.N {
		now = now.Add(15 * time.Second)
		g := r.Refresh(context.Background())
		b.ReportMetric(float64(g.Len()), "entities")
		b.ReportMetric(float64(len(r.Samples())), "series")
	}
	b.StopTimer()
	if _, w := r.Graph(); len(w) > 0 {
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
