package join

import (
	"runtime"
	"testing"
	"time"

	"github.com/strata-obs/strata/topology/source/sourcetest"
)

// BenchmarkJoinFleet: a full rebuild of the synthetic fleet's graph (target < 2 s, RSS < 2 GB).
func BenchmarkJoinFleet(b *testing.B) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	facts, lbs := sourcetest.Synthetic(at)
	in := Input{At: at, Facts: []FactReport{{Source: "metrics", Facts: facts, Seen: at}},
		LBs: []LBReport{{Source: "inventory", LBs: lbs, Seen: at}}}
	b.ResetTimer()
	var warnings []string
	for range b.N {
		var g interface{ Len() int }
		g, warnings = Build(in)
		b.ReportMetric(float64(g.Len()), "entities")
	}
	b.StopTimer()
	if len(warnings) > 0 {
		b.Fatalf("%d warnings, first: %s", len(warnings), warnings[0])
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.Sys)/(1<<20), "go-sys-MB")
}
