package dashboards

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/testenv"
)

// TestHAProxyMetricsAreReal: every HAProxy metric the dashboards may name
// (testdata/haproxy_metrics.txt) is served by a real HAProxy's built-in Prometheus exporter,
// with the proxy and server labels the joins use.
func TestHAProxyMetricsAreReal(t *testing.T) {
	bin := testenv.Command(t, "haproxy")
	addr, backend := testenv.FreeAddr(t), testenv.FreeAddr(t)
	cfg := fmt.Sprintf(`defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 5s
frontend prometheus
  bind %s
  http-request use-service prometheus-exporter if { path /metrics }
  default_backend c1ps
backend c1ps
  server s0 %s
`, addr, backend)
	file := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", file, "-db")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	var exposition string
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				exposition = string(b)
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("HAProxy's exporter did not answer on %s: %v", addr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	names := readLines(t, filepath.Join("testdata", "haproxy_metrics.txt"), func(line string) (string, bool) {
		line = strings.TrimSpace(line)
		return line, line != "" && !strings.HasPrefix(line, "#")
	})
	if len(names) == 0 {
		t.Fatal("testdata/haproxy_metrics.txt lists no metric")
	}
	for _, n := range names {
		found := false
		for _, line := range strings.Split(exposition, "\n") {
			if strings.HasPrefix(line, n+"{") && strings.Contains(line, `proxy="c1ps"`) && strings.Contains(line, `server="s0"`) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s: HAProxy %s's exporter serves no series of it with proxy and server labels", n, bin)
		}
	}
}
