package collector

import (
	"bufio"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// defaultNetworkDeviceExclude is --collector.network.device-exclude's default.
var defaultNetworkDeviceExclude = regexp.MustCompile(`^(veth|cali|lxc|tap|vnet).*$`)

// fixtureConfig points a Config at a fixture host: dir/proc, dir/sys, dir/root, with the IP
// addresses of dir/addresses.txt ("device address" lines) standing in for netlink.
func fixtureConfig(t testing.TB, dir string) Config {
	t.Helper()
	addrs, err := readAddressFile(filepath.Join(dir, "addresses.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		ProcFS:               filepath.Join(dir, "proc"),
		SysFS:                filepath.Join(dir, "sys"),
		RootFS:               filepath.Join(dir, "root"),
		NetworkDeviceExclude: defaultNetworkDeviceExclude,
		AddressLister:        func(dev string) ([]string, error) { return addrs[dev], nil },
		Logger:               slog.New(slog.NewTextHandler(testOutput(t), &slog.HandlerOptions{Level: slog.LevelWarn})),
		Now:                  func() time.Time { return goldenNow },
	}
}

// testOutput is where a test's logs go: the test's own output, or nowhere for a benchmark.
func testOutput(t testing.TB) io.Writer {
	if _, ok := t.(*testing.B); ok {
		return io.Discard
	}
	return t.Output()
}

func readAddressFile(path string) (map[string][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		dev, addr, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if ok {
			out[dev] = append(out[dev], strings.TrimSpace(addr))
		}
	}
	return out, sc.Err()
}

// newFullSet builds every collector, as strata-exporter does with its default flags.
func newFullSet(t testing.TB, cfg Config) *Set {
	t.Helper()
	var names []string
	for _, f := range Factories() {
		names = append(names, f.Name)
	}
	set, err := NewSet(cfg, Factories(), names)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// gatherFamilies passes metrics through a registry, as /metrics does: it sorts them and fails
// on what a scrape would reject (duplicate series, inconsistent label names or help).
func gatherFamilies(t testing.TB, metrics []prometheus.Metric) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(fixedMetrics(metrics))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	return mfs
}

// renderMetrics is the text exposition of metrics, without the collectors' durations, which
// vary from run to run.
func renderMetrics(t testing.TB, metrics []prometheus.Metric) string {
	t.Helper()
	var b strings.Builder
	for _, mf := range gatherFamilies(t, metrics) {
		if mf.GetName() == collectorDuration.Name {
			continue
		}
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func collectorSuccesses(t testing.TB, metrics []prometheus.Metric) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, mf := range gatherFamilies(t, metrics) {
		if mf.GetName() != collectorSuccess.Name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "collector" {
					out[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	return out
}

// fixedMetrics is an unchecked collector of already gathered metrics.
type fixedMetrics []prometheus.Metric

func (fixedMetrics) Describe(chan<- *prometheus.Desc) {}

func (ms fixedMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, m := range ms {
		ch <- m
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t testing.TB, target, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

// copyFixture copies a fixture host into a temporary directory that a test may change,
// keeping symbolic links as links.
func copyFixture(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := copyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.Type()&os.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		default:
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, 0o644)
		}
	})
}

func removeAll(t testing.TB, path string) {
	t.Helper()
	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
}
