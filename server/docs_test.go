package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/strata-obs/strata/internal/testenv"
)

// TestDocsNameTheHealthSeries: docs/topology.md's table of strata's own series (strata_*
// beside the topology's and Prometheus's) is what a new server serves on /metrics, generated
// from it (make docs).
func TestDocsNameTheHealthSeries(t *testing.T) {
	a, err := New(context.Background(), Options{StoragePath: t.TempDir()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.db.Close()
	mfs, err := a.gatherers.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("| metric | labels | meaning |\n| --- | --- | --- |\n")
	for _, mf := range mfs {
		name := mf.GetName()
		if !strings.HasPrefix(name, "strata_") || strings.HasPrefix(name, "strata_topology_") {
			continue
		}
		var labels []string
		if ms := mf.GetMetric(); len(ms) > 0 {
			for _, l := range ms[0].GetLabel() {
				labels = append(labels, "`"+l.GetName()+"`")
			}
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", name, strings.Join(labels, ", "), mf.GetHelp())
	}
	testenv.GeneratedRegion(t, "../docs/topology.md", "health", b.String())
}
