package dashboards

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-obs/strata/internal/testenv"
)

// TestHAProxyMetricsAreReal: every HAProxy metric the dashboards may name
// (testdata/haproxy_metrics.txt) is served by a real HAProxy's built-in Prometheus exporter,
// with the proxy and server labels the joins use.
func TestHAProxyMetricsAreReal(t *testing.T) {
	bin := testenv.Command(t, "haproxy")
	var addr string
	hap := testenv.StartHAProxy(t, func() string {
		addr = testenv.FreeAddr(t)
		return fmt.Sprintf(testenv.HAProxyDefaults+`frontend prometheus
  bind %s
  http-request use-service prometheus-exporter if { path /metrics }
  default_backend c1ps
backend c1ps
  server s0 %s
`, addr, testenv.FreeAddr(t))
	})
	exposition := string(testenv.WaitHTTP(t, "http://"+addr+"/metrics", http.StatusOK, hap.Process))
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
