package server_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/dashboards"
	"github.com/strata-obs/strata/exporter"
	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/server"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/haproxy"
)

// The README's PromQL recipes, as the README writes them (a test keeps the two equal).
const (
	recipeMission    = `strata_topology_path_info{service="c1ps", position="0"}`
	recipeKernelMix  = `count by (kernel_release) (count by (host, kernel_release) (strata_topology_path_info{lb="edge"}))`
	recipeErrorsToHW = `sum by (host, kernel_release, os_image, product_name) (
  rate(haproxy_server_http_responses_total{code="5xx"}[1m])
  * on (proxy, server) group_left (host, kernel_release, os_image, product_name)
  label_replace(strata_topology_path_info, "proxy", "$1", "service", "(.*)")
)`
)

// TestPromQLRecipes evaluates the README's recipes against a running strata: a real HAProxy
// whose backend c1ps answers 500s, its built-in Prometheus exporter scraped by strata, and this
// host's facts from the exporter in process. Each recipe must answer with this host's kernel;
// then every query of the Grafana dashboards (dashboards/) runs on the same strata.
func TestPromQLRecipes(t *testing.T) {
	testenv.Root(t)
	testenv.Command(t, "haproxy")
	busybox := testenv.Command(t, "busybox")
	truth := testenv.ReadThisHost(t)

	// s0: busybox httpd whose CGI answers 500.
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "cgi-bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	cgi := "#!/bin/sh\nprintf 'Status: 500 Internal Server Error\\r\\nContent-Type: text/plain\\r\\n\\r\\nboom\\n'\n"
	if err := os.WriteFile(filepath.Join(dir, "cgi-bin", "fail"), []byte(cgi), 0o755); err != nil {
		t.Fatal(err)
	}
	port := testenv.FreePort(t)
	httpd := testenv.StartProcess(t, busybox, "httpd", "-f", "-p", "127.0.0.1:"+strconv.Itoa(port), "-h", dir)
	testenv.WaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 0, httpd)

	var front, metrics string
	hap := testenv.StartHAProxy(t, func() string {
		front, metrics = testenv.FreeAddr(t), testenv.FreeAddr(t)
		return fmt.Sprintf(testenv.HAProxyDefaults+`frontend fe
  bind %s
  default_backend c1ps
frontend prometheus
  bind %s
  http-request use-service prometheus-exporter if { path /metrics }
backend c1ps
  server s0 127.0.0.1:%d
`, front, metrics, port)
	})
	testenv.WaitHTTP(t, "http://"+metrics+"/metrics", 0, hap.Process)

	expOpts := exporterOptions()
	host := exporter.HostName(*expOpts)
	src, err := haproxy.New(haproxy.Config{Name: "edge", RuntimeAPI: "unix://" + hap.Socket})
	if err != nil {
		t.Fatal(err)
	}
	a := startApp(t, server.Options{RefreshInterval: time.Second, ScrapeInterval: time.Second, Exporter: expOpts,
		LBSources: []source.LoadBalancers{src}, LocalHost: host,
		ScrapeConfigs: fmt.Sprintf("- job_name: haproxy\n  static_configs:\n  - targets: [%q]\n", metrics)})

	// 5xx through the LB, for the rate to see.
	for range 20 {
		resp, err := http.Get("http://" + front + "/cgi-bin/fail")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusInternalServerError {
			t.Fatalf("GET through HAProxy: %s, want 500 from the backend", resp.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}

	for _, c := range []struct {
		name, expr string
		check      func([]testenv.Sample) error
	}{
		{"mission question", recipeMission, func(s []testenv.Sample) error {
			if len(s) != 1 || s[0].Labels["kernel_release"] != truth.KernelRelease || s[0].Labels["host"] != host {
				return fmt.Errorf("want one row with host %s and kernel_release %s", host, truth.KernelRelease)
			}
			return nil
		}},
		{"kernel mix behind an LB", recipeKernelMix, func(s []testenv.Sample) error {
			if len(s) != 1 || s[0].Labels["kernel_release"] != truth.KernelRelease || s[0].Value != 1 {
				return fmt.Errorf("want {kernel_release=%q} 1", truth.KernelRelease)
			}
			return nil
		}},
		{"HAProxy errors joined to hardware", recipeErrorsToHW, func(s []testenv.Sample) error {
			if len(s) != 1 || s[0].Labels["host"] != host || s[0].Labels["kernel_release"] != truth.KernelRelease ||
				s[0].Labels["os_image"] != truth.PrettyName || s[0].Value <= 0 {
				return fmt.Errorf("want one row for host %s, kernel %s, os %q with a 5xx rate above 0", host, truth.KernelRelease, truth.PrettyName)
			}
			return nil
		}},
	} {
		testenv.Eventually(t, pollTimeout, c.name, func() error {
			got, err := queryAPI(a.base, c.expr, time.Time{})
			if err != nil {
				return err
			}
			if err := c.check(got); err != nil {
				return fmt.Errorf("%s answers %v: %w", c.expr, got, err)
			}
			return nil
		})
	}

	// Every query of the Grafana dashboards runs on this strata with the variables set to this
	// LB, service, instance and host: none fails (a join that is many-to-many, a bad function),
	// and each dashboard shows something.
	files, err := dashboards.Render()
	if err != nil {
		t.Fatal(err)
	}
	// Two scrapes of strata itself, for the rates of its dashboard.
	testenv.Eventually(t, pollTimeout, "two scrapes of strata-self", func() error {
		got, err := queryAPI(a.base, `count_over_time(process_cpu_seconds_total{job="strata-self"}[5m]) >= 2`, time.Time{})
		if err == nil && len(got) == 0 {
			err = errors.New("fewer than two")
		}
		return err
	})
	vars := map[string]string{"lb": "edge", "service": "c1ps", "instance": "s0", "host": host, "datasource": "strata", "strata": "strata-self",
		"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}
	variable := regexp.MustCompile(`\$\{([a-zA-Z_][a-zA-Z0-9_]*)(:[a-z]+)?\}|\$([a-zA-Z_][a-zA-Z0-9_]*)`)
	for name, data := range files {
		queries, err := dashboards.Queries(name, data)
		if err != nil {
			t.Fatal(err)
		}
		answered, empty := 0, []string{}
		for _, q := range queries {
			expr := variable.ReplaceAllStringFunc(q.Expr, func(v string) string {
				m := variable.FindStringSubmatch(v)
				key := m[1] + m[3]
				if val, ok := vars[key]; ok {
					return val
				}
				t.Errorf("%s: unknown variable %s in %s", q.Where, v, q.Expr)
				return v
			})
			got, err := queryAPI(a.base, expr, time.Time{})
			if err != nil {
				t.Errorf("%s: %s: %v", q.Where, expr, err)
				continue
			}
			if len(got) > 0 {
				answered++
			} else {
				empty = append(empty, q.Where)
			}
		}
		// strata itself (its own scrape, job strata-self): every panel but those of what is
		// not happening here (targets down, sources down).
		if name == "self.json" && len(empty) > 1 {
			t.Errorf("dashboard %s: %d of its %d queries answer nothing on strata's own scrape: %q", name, len(empty), len(queries), empty)
		}
		if answered == 0 {
			t.Errorf("dashboard %s: none of its %d queries answers anything on a strata with an LB, a service and a host", name, len(queries))
		}
	}
}

// TestREADMERecipes: the README shows the recipes that TestPromQLRecipes runs, word for word.
func TestREADMERecipes(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{recipeMission, recipeKernelMix, recipeErrorsToHW} {
		if !strings.Contains(string(readme), r) {
			t.Errorf("README.md lacks the recipe\n%s", r)
		}
	}
}
