package exporter_test

import (
	"github.com/strata-obs/strata/internal/testenv"

	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/strata-obs/strata/exporter"
	"github.com/strata-obs/strata/exporter/collector"
)

// hostOptions reads the real host: /proc, /sys and / of this machine, every collector on,
// no container runtime socket (tests that need one add it).
func hostOptions(enabled ...string) exporter.Options {
	if len(enabled) == 0 {
		for _, f := range collector.Factories() {
			enabled = append(enabled, f.Name)
		}
	}
	return exporter.Options{
		Collector: collector.Config{
			ProcFS:        "/proc",
			SysFS:         "/sys",
			RootFS:        "/",
			AddressLister: collector.NewNetlinkAddressLister(),
		},
		Enabled: enabled,
	}
}

// served is a strata-exporter running in this test process through exporter.Run.
type served struct {
	addr string // 127.0.0.1:port
}

func (s served) url(path string) string { return "http://" + s.addr + path }

// serve runs exporter.Run on a free port of 127.0.0.1 until the test ends; webConfigFile is
// --web.config.file ("" for plain HTTP).
func serve(t *testing.T, opts exporter.Options, webConfigFile string) served {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(newTestLogWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
	var lastErr error
	for range 5 { // another process may take the free port between pick and listen
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t)))
		addrs, systemd, configFile := []string{addr}, false, webConfigFile
		opts.WebConfig = &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &systemd, WebConfigFile: &configFile}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- exporter.Run(ctx, opts, logger) }()
		if err := waitListening(addr, errc, 10*time.Second); err != nil {
			cancel()
			lastErr = err
			continue
		}
		t.Cleanup(func() {
			cancel()
			select {
			case err := <-errc:
				if err != nil {
					t.Errorf("exporter.Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("exporter.Run did not return 10 s after its context ended")
			}
		})
		return served{addr: addr}
	}
	t.Fatalf("start the exporter: %v", lastErr)
	return served{}
}

// waitListening waits until addr accepts TCP connections, or Run gives up.
func waitListening(addr string, errc <-chan error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-errc:
			return fmt.Errorf("exporter.Run returned before serving: %v", err)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s does not accept connections after %s", addr, timeout)
}

// testLogWriter sends the exporter's log to the test's, and drops what comes after the test
// ended (a server goroutine may still log while it shuts down).
type testLogWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func newTestLogWriter(t testing.TB) *testLogWriter {
	w := &testLogWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return w
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// families is one scrape, parsed.
type families map[string]*dto.MetricFamily

// scrape GETs a /metrics URL with client, checks the answer is 200 and parses it.
func scrape(t testing.TB, client *http.Client, url string, header http.Header) families {
	t.Helper()
	fams, err := tryScrape(client, url, header)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

func tryScrape(client *http.Client, url string, header http.Header) (families, error) {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s: %s", url, resp.Status, body)
	}
	return parseMetrics(body)
}

func parseMetrics(body []byte) (families, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("parse the scrape: %w", err)
	}
	return fams, nil
}

// sample is one series of a scrape.
type sample struct {
	labels map[string]string
	value  float64
}

func (s sample) String() string { return fmt.Sprintf("%v %g", s.labels, s.value) }

// samples lists the series of a family whose labels include match.
func (f families) samples(name string, match map[string]string) []sample {
	fam := f[name]
	if fam == nil {
		return nil
	}
	var out []sample
	for _, m := range fam.GetMetric() {
		s := sample{labels: map[string]string{}}
		for _, lp := range m.GetLabel() {
			s.labels[lp.GetName()] = lp.GetValue()
		}
		switch {
		case m.Gauge != nil:
			s.value = m.GetGauge().GetValue()
		case m.Counter != nil:
			s.value = m.GetCounter().GetValue()
		case m.Untyped != nil:
			s.value = m.GetUntyped().GetValue()
		}
		if matches(s.labels, match) {
			out = append(out, s)
		}
	}
	return out
}

// one is the single series of a family whose labels include match.
func (f families) one(t testing.TB, name string, match map[string]string) sample {
	t.Helper()
	s, err := f.only(name, match)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f families) only(name string, match map[string]string) (sample, error) {
	got := f.samples(name, match)
	if len(got) != 1 {
		return sample{}, fmt.Errorf("want exactly one %s%v, got %d: %v", name, match, len(got), got)
	}
	return got[0], nil
}

func matches(labels, match map[string]string) bool {
	for k, v := range match {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// eventually retries check until it succeeds or timeout passes, then fails with its last error.
func eventually(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// output runs a command and returns its trimmed standard output.
func output(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := tryOutput(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tryOutput(name string, args ...string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// randomHex is n random bytes in hex: unique names for what a test creates.
func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// waitServing waits until an HTTP server answers at url, whatever its status.
func waitServing(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	eventually(t, timeout, func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
}
