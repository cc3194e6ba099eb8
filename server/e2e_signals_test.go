package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/server"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/haproxy"
	"github.com/strata-obs/strata/topology/source/inventory"
)

// TestFailingBackendSignals is the page that started the incident desk: a real HAProxy with
// three servers, one answering 500 to every request, one slow, one healthy, behind a frontend
// a load generator drives. The failing server, UP to its health check, is failing with its
// error ratio on the API, selected by error_ratio>0.5, and in PromQL over its series; once
// fixed it is healthy within two refreshes, and the graph at a time of the failure still shows it.
func TestFailingBackendSignals(t *testing.T) {
	var broken atomic.Bool
	broken.Store(true)
	backend := func(h http.HandlerFunc) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
	failing := backend(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" && broken.Load() { // HAProxy's health check asks for /, as a load balancer's would
			http.Error(w, "broken", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	slow := backend(func(w http.ResponseWriter, _ *http.Request) { time.Sleep(30 * time.Millisecond); fmt.Fprintln(w, "ok") })
	healthy := backend(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })

	var front string
	h := testenv.StartHAProxy(t, func() string {
		front = testenv.FreeAddr(t)
		return fmt.Sprintf(testenv.HAProxyDefaults+`frontend fe
  bind %s
  default_backend c1ps
backend c1ps
  balance roundrobin
  option httpchk GET /
  server broken %s check inter 300ms
  server slow %s check inter 300ms
  server good %s check inter 300ms
`, front, failing, slow, healthy)
	})
	src, err := haproxy.New(haproxy.Config{Name: "edge", RuntimeAPI: "unix://" + h.Socket})
	if err != nil {
		t.Fatal(err)
	}

	loadThrough(t, "http://"+front+"/api")

	a := startApp(t, server.Options{RefreshInterval: time.Second, LBSources: []source.LoadBalancers{src}})
	instance := func(name string) (apiEntity, error) {
		e, err := a.entity("instance", "edge/c1ps/"+name)
		return e.Entity, err
	}
	var failedAt time.Time
	testenv.Eventually(t, pollTimeout, "the broken server failing with its error ratio", func() error {
		e, err := instance("broken")
		if err != nil {
			return err
		}
		ratio, err := strconv.ParseFloat(e.Attrs["error_ratio"], 64)
		if err != nil || ratio < 0.9 || e.Attrs["failing"] != "true" || e.Attrs["health"] != "UP" {
			return fmt.Errorf("broken: %v", e)
		}
		failedAt = time.Now()
		return nil
	})
	for _, name := range []string{"slow", "good"} {
		e, err := instance(name)
		if err != nil {
			t.Fatal(err)
		}
		if e.Attrs["failing"] != "false" || e.Attrs["error_ratio"] != "0" || e.Attrs["req_rate"] == "" {
			t.Errorf("%s: %v, want serving, not failing", name, e)
		}
	}

	// The LB page shows it failing, in red with its share of errors, where its health check
	// says UP.
	page, err := testenv.CheckHTTP(a.base+"/lb/haproxy/edge", http.StatusOK)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`>broken</a></td><td>[^<]*</td><td class="health down">FAILING</td><td>(9\d(\.\d)?|100)% of [0-9.]+/s</td>`).Match(page) {
		t.Errorf("the LB page does not show the broken server failing:\n%s", page)
	}
	// So do its own page (a FAILING badge, its error ratio in percent) and the landing page
	// (its service first, in red, with it as the worst instance).
	page, err = testenv.CheckHTTP(a.base+"/entity/instance/edge/c1ps/broken", http.StatusOK)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`<h1 class="failing">.*<span class="badge">FAILING</span>`).Match(page) ||
		!regexp.MustCompile(`<th scope="row">error_ratio</th><td title="[0-9.]+">(9\d(\.\d)?|100)%</td>`).Match(page) {
		t.Errorf("the instance page does not show the broken server failing:\n%s", page)
	}
	page, err = testenv.CheckHTTP(a.base+"/", http.StatusOK)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`1 instance failing</span>`).Match(page) ||
		!regexp.MustCompile(`<tr class="failing"><td><a href="/lb/haproxy/edge">haproxy/edge</a></td><td><a href="/entity/service/edge/c1ps">c1ps</a></td><td>3</td><td class="failing">1</td>.*<a href="/entity/instance/edge/c1ps/broken">broken FAILING (9\d(\.\d)?|100)% of [0-9.]+/s</a>`).Match(page) {
		t.Errorf("the landing page does not show the broken server failing:\n%s", page)
	}

	var d server.QueryData
	if _, err := getAPI(a.base, "/api/v1/topology/query?"+url.Values{"q": {`lb{name="edge"} -> instance{error_ratio>0.5}`}}.Encode(), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Rows) != 1 || d.Rows[0][1] != "edge/c1ps/broken" {
		t.Errorf("error_ratio>0.5 selects %v, want the broken server alone", d.Rows)
	} else if want := []string{"lb/haproxy/edge", "instance/edge/c1ps/broken"}; len(d.Paths) != 1 || !slices.Equal(d.Paths[0], want) {
		t.Errorf("the row's path %q, want %q", d.Paths, want)
	}
	samples, err := queryAPI(a.base, `strata_topology_instance_error_ratio > 0.5`, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 1 || samples[0].Labels["server"] != "broken" || samples[0].Labels["lb"] != "edge" {
		t.Errorf("PromQL: %v, want the broken server alone", samples)
	}

	// Fixed: healthy within two refreshes (a refresh's rate covers the interval before it).
	broken.Store(false)
	testenv.Eventually(t, pollTimeout, "the fixed server healthy", func() error {
		e, err := instance("broken")
		if err != nil {
			return err
		}
		if e.Attrs["failing"] != "false" {
			return fmt.Errorf("broken, fixed: %v", e)
		}
		return nil
	})
	// The failure is history: the graph at a time inside it has the error ratio.
	at := strconv.FormatFloat(float64(failedAt.UnixMilli())/1000, 'f', 3, 64)
	if _, err := getAPI(a.base, "/api/v1/topology/query?"+url.Values{"q": {`lb{name="edge"} -> instance{error_ratio>0.5}`}, "time": {at}}.Encode(), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Rows) != 1 || d.Rows[0][1] != "edge/c1ps/broken" {
		t.Errorf("at %s, during the failure: %v, want the broken server", at, d.Rows)
	}
}

// TestSignalsFromScrapedExporter: an LB strata cannot ask (an inventory LB, a HAProxy on
// another machine) but whose own Prometheus exporter it scrapes, with the label lb naming it,
// gets its traffic signals from those series: the server answering 500 fails with its error
// ratio, the healthy one does not, and the rates agree with what HAProxy itself counted
// (its runtime API) over the same time.
func TestSignalsFromScrapedExporter(t *testing.T) {
	backend := func(h http.HandlerFunc) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
	failing := backend(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "broken", http.StatusInternalServerError) })
	healthy := backend(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	var front, metrics string
	h := testenv.StartHAProxy(t, func() string {
		front, metrics = testenv.FreeAddr(t), testenv.FreeAddr(t)
		return fmt.Sprintf(testenv.HAProxyDefaults+`frontend fe
  bind %s
  default_backend c1ps
frontend metrics
  bind %s
  http-request use-service prometheus-exporter if { path /metrics }
backend c1ps
  balance roundrobin
  server broken %s check
  server good %s check
`, front, metrics, failing, healthy)
	})

	// The LB as an inventory knows it: no runtime API, no counters.
	dir := t.TempDir()
	file := dir + "/inventory.yml"
	inv := fmt.Sprintf("lbs:\n  - name: edge\n    provider: haproxy\n    services:\n      - name: c1ps\n        instances:\n"+
		"          - {name: broken, address: %s}\n          - {name: good, address: %s}\n", failing, healthy)
	if err := os.WriteFile(file, []byte(inv), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := inventory.New("inventory", file, 0)
	if err != nil {
		t.Fatal(err)
	}

	loadThrough(t, "http://"+front+"/")

	a := startApp(t, server.Options{RefreshInterval: time.Second, ScrapeInterval: time.Second, LBSources: []source.LoadBalancers{src},
		ScrapeConfigs: fmt.Sprintf("- job_name: haproxy\n  static_configs: [{targets: [%q], labels: {lb: edge}}]\n", metrics)})
	instance := func(name string) (apiEntity, error) {
		e, err := a.entity("instance", "edge/c1ps/"+name)
		return e.Entity, err
	}
	testenv.Eventually(t, pollTimeout, "the broken server failing from the scraped series", func() error {
		e, err := instance("broken")
		if err != nil {
			return err
		}
		if ratio, err := strconv.ParseFloat(e.Attrs["error_ratio"], 64); err != nil || ratio < 0.99 || e.Attrs["failing"] != "true" {
			return fmt.Errorf("broken: %v", e.Attrs)
		}
		return nil
	})
	good, err := instance("good")
	if err != nil {
		t.Fatal(err)
	}
	if good.Attrs["failing"] != "false" || good.Attrs["error_ratio"] != "0" {
		t.Errorf("good: %v, want serving, not failing", good.Attrs)
	}

	// The request rate against HAProxy's own count (show stat's stot of the server) over a
	// few seconds: the load generator's pace, within the spread of two reads a scrape apart.
	stot := func() float64 {
		out := h.Command(t, "show stat")
		for _, line := range strings.Split(out, "\n") {
			f := strings.Split(line, ",")
			if len(f) > 7 && f[0] == "c1ps" && f[1] == "broken" {
				v, _ := strconv.ParseFloat(f[7], 64)
				return v
			}
		}
		t.Fatalf("no row of c1ps/broken in show stat:\n%s", out)
		return 0
	}
	before, t0 := stot(), time.Now()
	time.Sleep(3 * time.Second)
	truth := (stot() - before) / time.Since(t0).Seconds()
	e, err := instance("broken")
	if err != nil {
		t.Fatal(err)
	}
	got, err := strconv.ParseFloat(e.Attrs["req_rate"], 64)
	if err != nil || truth <= 0 || got < truth/2 || got > truth*2 {
		t.Errorf("req_rate %q, HAProxy counted %.1f/s", e.Attrs["req_rate"], truth)
	}
}

// loadThrough is the load generator: requests to url, one every few milliseconds, until the
// test ends.
func loadThrough(t *testing.T, url string) {
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	go func() {
		client := &http.Client{Timeout: 2 * time.Second}
		for ctx.Err() == nil {
			if resp, err := client.Get(url); err == nil {
				resp.Body.Close()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
}
