package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/strata-obs/strata/internal/store"
	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/internal/thanostest"
	"github.com/strata-obs/strata/query/querytest"
	"github.com/strata-obs/strata/server"
	"github.com/strata-obs/strata/topology"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/haproxy"
	"github.com/strata-obs/strata/topology/source/inventory"
)

// startSite starts a site's strata: its inventory, named by its external labels (cluster and
// any other), sending its topology series to write.
func startSite(t *testing.T, external labels.Labels, inv, write string) *app {
	t.Helper()
	file := filepath.Join(t.TempDir(), "inventory.yml")
	if err := os.WriteFile(file, []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := inventory.New("inventory", file, 0)
	if err != nil {
		t.Fatal(err)
	}
	return startApp(t, server.Options{RefreshInterval: time.Second, LBSources: []source.LoadBalancers{src}, FactSources: []source.Facts{src},
		RemoteWriteURL: write, ExternalLabels: external})
}

// startNetnsSite starts a site on a test host of its own: a network namespace where a real
// HAProxy's backend c1ps sends to a server at 10.0.3.17:8080, the very address eu-1's node-17
// has (private addresses repeat across sites); its strata reads the HAProxy through its runtime
// API and knows the host from an inventory (strata-exporter would run in the namespace's host).
func startNetnsSite(t *testing.T, cluster, write string) *app {
	t.Helper()
	busybox := testenv.Command(t, "busybox")
	ns := testenv.Netns(t, "10.0.3.17/32")
	name, args := testenv.InNetns(ns, busybox, "httpd", "-f", "-p", "10.0.3.17:8080", "-h", t.TempDir())
	testenv.StartProcess(t, testenv.Command(t, name), args...)
	hap := testenv.StartHAProxy(t, func() string {
		return `global
  maxconn 64

` + testenv.HAProxyDefaults + `
frontend fe
  bind 10.0.3.17:80
  default_backend c1ps

backend c1ps
  server c1ps-0 10.0.3.17:8080 check inter 300ms
`
	}, testenv.HAProxyInNetns(ns))
	src, err := haproxy.New(haproxy.Config{Name: "edge", RuntimeAPI: "unix://" + hap.Socket})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "inventory.yml")
	if err := os.WriteFile(file, []byte("hosts:\n  - {name: node-17, addresses: [10.0.3.17], facts: {kernel_release: 6.12.57-1-amd64}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.New("inventory", file, 0)
	if err != nil {
		t.Fatal(err)
	}
	return startApp(t, server.Options{RefreshInterval: time.Second, LBSources: []source.LoadBalancers{src}, FactSources: []source.Facts{inv},
		LocalHost: "node-17", RemoteWriteURL: write, ExternalLabels: labels.FromStrings("cluster", cluster)})
}

// TestSitesToThanos: two sites' strata, each named by its external labels (eu-1 an HA pair of
// two; us-1 a real HAProxy on a test host in a network namespace, at the address eu-1's host
// has too), send their topology by remote write to a real Thanos (three receivers in a hashring
// that keeps each series twice, a querier that deduplicates the copies and the pair's
// replicas); the store answers the mission question of each site in PromQL, each series once;
// a global strata serves one graph of both, now and at a past time, each entity once; both go
// on answering with a receiver killed.
func TestSitesToThanos(t *testing.T) {
	store := thanostest.Start(t, 3, 2)
	// eu-1 is an HA pair: two strata writing the same series but for their replica label.
	startSite(t, labels.FromStrings("cluster", "eu-1", "replica", "a"), remoteWriteInventory, store.Receivers[0].WriteURL)
	startSite(t, labels.FromStrings("cluster", "eu-1", "replica", "b"), remoteWriteInventory, store.Receivers[1].WriteURL)
	startNetnsSite(t, "us-1", store.Receivers[1].WriteURL)

	mission := `strata_topology_path_info{service="c1ps", position="0"}`
	answers := func() error {
		got, err := queryAPI(store.QueryURL, mission, time.Time{})
		if err != nil {
			return err
		}
		var rows []string
		for _, s := range got {
			rows = append(rows, s.Labels["cluster"]+" "+s.Labels["host"]+" "+s.Labels["kernel_release"])
		}
		slices.Sort(rows)
		if want := []string{"eu-1 node-17 6.1.0-13-amd64", "us-1 node-17 6.12.57-1-amd64"}; !slices.Equal(rows, want) {
			return fmt.Errorf("%s at the store: %q, want %q (each site once)", mission, rows, want)
		}
		return nil
	}
	// A site's first series may reach the store only with its next heartbeat (a minute), when
	// its remote write queue started reading after the first refresh.
	testenv.Eventually(t, 90*time.Second, "both sites' mission question at the store", answers)
	got, err := queryAPI(store.QueryURL, `count by (cluster, kernel_release) (strata_topology_host_info)`, time.Time{})
	if err != nil || len(got) != 2 {
		t.Errorf("the kernel mix per cluster: %v %v", got, err)
	}

	// The global strata: no sources, one graph of both sites read from the store, each
	// site's entities its own (the same names, the same private addresses).
	global := startApp(t, server.Options{RefreshInterval: time.Second, Global: true, PrometheusURL: store.QueryURL})
	globalAnswers := func(at string) error {
		for _, c := range []struct{ cluster, kernel string }{{"eu-1", "6.1.0-13-amd64"}, {"us-1", "6.12.57-1-amd64"}} {
			if err := global.expect(`service{cluster="`+c.cluster+`", name="c1ps"} -> instance[0] -> host .kernel_release`, at,
				[]string{querytest.FormatRow([]string{"host", c.cluster + "/node-17", c.kernel})}); err != nil {
				return err
			}
		}
		return global.expect(`lb -> host | count by (cluster, kernel_release)`, at, []string{
			querytest.FormatRow([]string{"eu-1", "6.1.0-13-amd64", "1"}), querytest.FormatRow([]string{"us-1", "6.12.57-1-amd64", "1"})})
	}
	testenv.Eventually(t, 30*time.Second, "the global strata's graph of both sites", func() error { return globalAnswers("") })
	fams, err := scrapeMetrics(global.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"eu-1", "us-1"} {
		last, err1 := fams.Only("strata_federation_site_last_write_timestamp_seconds", map[string]string{"cluster": c})
		n, err2 := fams.Only("strata_federation_site_entities", map[string]string{"cluster": c})
		w, err3 := fams.Only("strata_federation_site_writers", map[string]string{"cluster": c})
		if err1 != nil || err2 != nil || err3 != nil || time.Since(time.Unix(int64(last.Value), 0)) > 2*time.Minute || n.Value != 4 || // edge, c1ps, c1ps-0, node-17
			w.Value != 1 { // eu-1's HA pair is told apart by its replica label
			t.Errorf("the global strata's /metrics for %s: %v %v %v %v %v %v", c, last, n, w, err1, err2, err3)
		}
	}
	// The fleet page counts the hosts per site.
	if body, err := testenv.CheckHTTP(global.base+"/fleet", http.StatusOK); err != nil || !strings.Contains(string(body), "Sites (cluster)") ||
		!strings.Contains(string(body), "us-1") {
		t.Errorf("the global fleet page: %v\n%.500s", err, body)
	}
	past := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	if err := globalAnswers(past); err != nil {
		t.Errorf("at a past time: %v", err)
	}

	// A receiver down: every series is on two of three, so every answer is still there.
	store.Receivers[2].Stop()
	time.Sleep(3 * time.Second) // refreshes go on writing meanwhile
	if err := answers(); err != nil {
		t.Errorf("with a receiver down: %v", err)
	}
	if err := globalAnswers(""); err != nil {
		t.Errorf("the global strata with a receiver down: %v", err)
	}
}

// TestGraphAtOverQueryAPI: the graph read back through a store's Prometheus query API (for a
// store without remote read: Thanos Query) is the graph strata holds; here the store is
// strata's own Prometheus-compatible API over its TSDB.
func TestGraphAtOverQueryAPI(t *testing.T) {
	site := startSite(t, labels.FromStrings("cluster", "eu-1"), remoteWriteInventory, "")
	q, err := store.QueryAPIReader(site.base, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, pollTimeout, "the graph read back through the query API", func() error {
		want, _ := site.Refresher().Graph()
		got, warnings, err := topology.GraphAt(context.Background(), q, time.Now())
		if err != nil {
			return err
		}
		if want.Len() == 0 || got.Len() != want.Len() || len(warnings) > 0 {
			return fmt.Errorf("%d entities, want %d (warnings %q)", got.Len(), want.Len(), warnings)
		}
		for e := range want.All("") {
			g, ok := got.Get(e.Ref)
			if !ok || g.Attr("cluster") != "eu-1" || g.Name != e.Name {
				return fmt.Errorf("%s: %v", e.Ref, g)
			}
		}
		return nil
	})
}
