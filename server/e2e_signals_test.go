package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/server"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/haproxy"
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

	// The load generator: requests through the LB until the test ends.
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	go func() {
		client := &http.Client{Timeout: 2 * time.Second}
		for ctx.Err() == nil {
			if resp, err := client.Get("http://" + front + "/api"); err == nil {
				resp.Body.Close()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()

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
