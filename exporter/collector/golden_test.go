package collector

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-obs/strata/internal/testenv"
)

// goldenScenarios are the fixture hosts under testdata/<name>/ (see testdata/README.md) and
// what their golden files testdata/<name>.metrics hold.
var goldenScenarios = []struct {
	name    string
	host    string   // the host label, as --host.name sets it
	serials bool     // --collector.dmi.serials
	failing []string // collectors the scenario breaks on purpose
}{
	{name: "baremetal", host: "db-07", serials: true},
	{name: "cloudvm", host: "ip-172-31-20-5"},
	{name: "k8s-containerd-v2", host: "k8s-worker-3"},
	{name: "docker-v1", host: "docker-01"},
	{name: "broken", host: "broken-01", failing: []string{"cpu", "dmi", "os"}},
}

// goldenNow is the fixed clock of the golden scrapes.
var goldenNow = time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)

// goldenFileTime is the time of every file of the fixture roots in the golden scrapes, whose
// times a checkout sets: when a kernel was installed, since when a reboot is required.
var goldenFileTime = time.Date(2025, 5, 30, 12, 0, 0, 0, time.UTC)

func TestGolden(t *testing.T) {
	for _, sc := range goldenScenarios {
		t.Run(sc.name, func(t *testing.T) {
			pinFileTimes(t, filepath.Join("testdata", sc.name, "root"), goldenFileTime)
			cfg := fixtureConfig(t, filepath.Join("testdata", sc.name))
			cfg.Serials = sc.serials
			set := newFullSet(t, cfg)

			first := set.Gather(t.Context(), sc.host)
			got := renderMetrics(t, first)
			testenv.Golden(t, filepath.Join("testdata", sc.name+".metrics"), got)

			wantSuccess := map[string]float64{}
			for _, f := range Factories() {
				wantSuccess[f.Name] = 1
			}
			for _, name := range sc.failing {
				wantSuccess[name] = 0
			}
			if diff := cmp.Diff(wantSuccess, collectorSuccesses(t, first)); diff != "" {
				t.Errorf("strata_exporter_collector_success (-want +got):\n%s", diff)
			}

			// The second scrape is served partly from caches (static facts, socket owners) and
			// must say the same.
			if diff := cmp.Diff(got, renderMetrics(t, set.Gather(t.Context(), sc.host))); diff != "" {
				t.Errorf("second scrape differs from the first (-first +second):\n%s", diff)
			}
		})
	}
}

// TestGoldenScrapeStopsAtDeadline checks that a scrape whose deadline has passed still answers,
// with every collector's success series and the host's info series.
func TestGoldenScrapeStopsAtDeadline(t *testing.T) {
	cfg := fixtureConfig(t, filepath.Join("testdata", "docker-v1"))
	cfg.Logger = slog.New(slog.DiscardHandler) // every collector warns
	set := newFullSet(t, cfg)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	metrics := set.Gather(ctx, "docker-01")
	got := collectorSuccesses(t, metrics)
	if len(got) != len(Factories()) {
		t.Errorf("success series for %d collectors, want %d: %v", len(got), len(Factories()), got)
	}
	for name, v := range got {
		if v != 0 {
			t.Errorf("collector %s reports success %v after the deadline passed", name, v)
		}
	}
	if !strings.Contains(renderMetrics(t, metrics), `strata_host_info{`) {
		t.Error("no strata_host_info after the deadline passed")
	}
}

// pinFileTimes sets the time of every regular file under dir (links aside) to at.
func pinFileTimes(t *testing.T, dir string, at time.Time) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		return os.Chtimes(path, at, at)
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
}
