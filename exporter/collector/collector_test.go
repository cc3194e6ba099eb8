package collector

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// blocking is a collector stuck on a read that never returns (a hung NFS mount, a runtime
// API that accepts and never answers) until its context ends, or forever.
type blocking struct {
	honourCtx bool
	release   chan struct{} // closed when the test ends, so no goroutine outlives it
}

func (b blocking) Update(ctx context.Context, s *Scrape) error {
	if b.honourCtx {
		<-ctx.Done()
		return ctx.Err()
	}
	<-b.release // ignores its context altogether
	return nil
}

type quick struct{}

func (quick) Update(_ context.Context, s *Scrape) error {
	s.Emit(hostMemory, 42)
	return nil
}

// TestGatherStopsAtTheDeadline: a stuck collector costs the scrape only its own facts, and the
// scrape answers at its deadline whether the collector honours its context or not.
func TestGatherStopsAtTheDeadline(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	for _, honour := range []bool{true, false} {
		factories := []Factory{
			{Name: "stuck", DefaultEnabled: true, New: func(Config) (Collector, error) { return blocking{honour, release}, nil }},
			{Name: "quick", DefaultEnabled: true, New: func(Config) (Collector, error) { return quick{}, nil }},
		}
		set, err := NewSet(Config{}, factories, []string{"stuck", "quick"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		start := time.Now()
		metrics := set.Gather(ctx, "h")
		cancel()
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("honour=%v: Gather took %s past a 200ms deadline", honour, took)
		}
		success := map[string]float64{}
		sawMemory := false
		for _, m := range metrics {
			var pb dto.Metric
			if err := m.Write(&pb); err != nil {
				t.Fatal(err)
			}
			switch m.Desc() {
			case collectorSuccess.desc:
				success[pb.GetLabel()[0].GetValue()] = pb.GetGauge().GetValue()
			case hostMemory.desc:
				sawMemory = true
			}
		}
		if success["stuck"] != 0 || success["quick"] != 1 || !sawMemory {
			t.Errorf("honour=%v: success %v, memory reported %v; want stuck 0, quick 1 with its series", honour, success, sawMemory)
		}
	}
}

// TestSlowlyReadsOnceAndKeepsTheLastGoodFacts: facts that do not change are read once per
// interval; a failed re-read serves the last good facts with an error.
func TestSlowlyReadsOnceAndKeepsTheLastGoodFacts(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "product_name")
	if err := os.WriteFile(file, []byte("PowerEdge R640\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	reads := 0
	s := newSlowly(Config{StaticRefresh: 10 * time.Minute, Now: func() time.Time { return now }}, func() (string, error) {
		reads++
		return readTrim(file)
	})
	get := func() (string, error) { return s.get() }
	if v, err := get(); v != "PowerEdge R640" || err != nil {
		t.Fatalf("first read %q %v", v, err)
	}
	if err := os.WriteFile(file, []byte("PowerEdge R650\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	now = now.Add(9 * time.Minute)
	if v, _ := get(); v != "PowerEdge R640" || reads != 1 {
		t.Errorf("within the interval: %q after %d reads, want the cached value after 1", v, reads)
	}
	now = now.Add(2 * time.Minute)
	if v, _ := get(); v != "PowerEdge R650" || reads != 2 {
		t.Errorf("after the interval: %q after %d reads, want the new value", v, reads)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	now = now.Add(11 * time.Minute)
	v, err := get()
	if v != "PowerEdge R650" || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed re-read: %q %v, want the last good value and the error", v, err)
	}
}

// flaky fails with its err, or succeeds when it is nil.
type flaky struct{ err *error }

func (f flaky) Update(context.Context, *Scrape) error { return *f.err }

// levelCounter counts log records by level.
type levelCounter struct {
	mu     sync.Mutex
	counts map[slog.Level]int
}

func (c *levelCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *levelCounter) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[r.Level]++
	return nil
}
func (c *levelCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *levelCounter) WithGroup(string) slog.Handler      { return c }

// TestFailureLoggedOnce: the same failure at every scrape (a host without DMI) is one warning,
// then debug; a different failure warns again; a recovery is said once.
func TestFailureLoggedOnce(t *testing.T) {
	logs := &levelCounter{counts: map[slog.Level]int{}}
	fail := errors.New("no DMI table")
	err := fail
	set, e := NewSet(Config{Logger: slog.New(logs)}, []Factory{{Name: "dmi", New: func(Config) (Collector, error) { return flaky{&err}, nil }}}, []string{"dmi"})
	if e != nil {
		t.Fatal(e)
	}
	gather := func() { set.Gather(context.Background(), "h") }
	gather()
	gather()
	gather()
	if logs.counts[slog.LevelWarn] != 1 || logs.counts[slog.LevelDebug] != 2 {
		t.Fatalf("three same failures: %v, want one warning and two debug records", logs.counts)
	}
	err = errors.New("permission denied")
	gather()
	if logs.counts[slog.LevelWarn] != 2 {
		t.Fatalf("a new failure: %v, want a second warning", logs.counts)
	}
	err = nil
	gather()
	gather()
	if logs.counts[slog.LevelInfo] != 1 {
		t.Fatalf("recovery: %v, want one info record", logs.counts)
	}
	err = fail
	gather()
	if logs.counts[slog.LevelWarn] != 3 {
		t.Fatalf("failing again after a recovery: %v, want a third warning", logs.counts)
	}
}
