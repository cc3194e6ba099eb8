package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/strata-obs/strata/exporter"
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

// startExporterSite starts a site's strata on this machine: a real HAProxy whose backend c1ps
// sends to a busybox httpd host process, read through its runtime API, and the in-process
// strata-exporter reading this machine's own facts, named by its external labels; exporters
// sends the exporter's series by remote write too.
func startExporterSite(t *testing.T, external labels.Labels, hap realHAProxy, write string, exporters bool) *app {
	t.Helper()
	src, err := haproxy.New(haproxy.Config{Name: "edge", RuntimeAPI: "unix://" + hap.Socket})
	if err != nil {
		t.Fatal(err)
	}
	expOpts := exporterOptions()
	return startApp(t, server.Options{RefreshInterval: time.Second, ScrapeInterval: time.Second, Exporter: expOpts,
		LBSources: []source.LoadBalancers{src}, LocalHost: exporter.HostName(*expOpts), RemoteWriteURL: write, RemoteWriteExporters: exporters,
		ExternalLabels: external, StaleAfter: 3 * time.Second})
}

// TestSitesToThanos: three sites' strata, each named by its external labels, send their
// topology by remote write to a real Thanos (three receivers in a hashring that keeps each
// series twice, a querier that deduplicates the copies and an HA pair's replicas):
//   - eu-1, an HA pair of two strata, and ap-1: each a real HAProxy whose c1ps sends to a
//     host process on this machine, and strata-exporter reading this machine's facts;
//   - us-1: a real HAProxy on a test host in a network namespace, at 10.0.3.17, an address
//     eu-1's and ap-1's sites could have too, whose host's facts come from an inventory.
//
// The store answers each site's mission question in PromQL, each series once. A global strata
// serves one graph of the three: each site's c1ps leads to its own host and kernel (this
// machine's, uname -r, for eu-1 and ap-1: one host, seen by both, as its machine-id says), each
// entity once, now and at a past time; with a receiver hanging every answer is there and says
// the store's answer was partial; with a receiver killed every answer is still there;
// ap-1's strata stopped, ap-1's entities alone turn stale, with a warning naming it.
func TestSitesToThanos(t *testing.T) {
	testenv.Root(t)
	testenv.Command(t, "haproxy")
	busybox := testenv.Command(t, "busybox")
	truth := testenv.ReadThisHost(t)
	host := exporter.HostName(*exporterOptions())
	store := thanostest.Start(t, 3, 2)

	ports := []int{testenv.FreePort(t), testenv.FreePort(t)}
	hostHTTPD(t, busybox, ports[0])
	hostHTTPD(t, busybox, ports[1])
	euHAProxy, apHAProxy := startHAProxy(t, ports[:1]), startHAProxy(t, ports[1:])
	// eu-1 is an HA pair: two strata writing the same series but for their replica label.
	startExporterSite(t, labels.FromStrings("cluster", "eu-1", "replica", "a"), euHAProxy, store.Receivers[0].WriteURL, false)
	startExporterSite(t, labels.FromStrings("cluster", "eu-1", "replica", "b"), euHAProxy, store.Receivers[1].WriteURL, false)
	ap := startExporterSite(t, labels.FromStrings("cluster", "ap-1"), apHAProxy, store.Receivers[0].WriteURL, true)
	startNetnsSite(t, "us-1", store.Receivers[1].WriteURL)

	mission := `strata_topology_path_info{service="c1ps", position="0"}`
	want := []string{"ap-1 " + host + " " + truth.KernelRelease, "eu-1 " + host + " " + truth.KernelRelease, "us-1 node-17 6.12.57-1-amd64"}
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
		if !slices.Equal(rows, want) {
			return fmt.Errorf("%s at the store: %q, want %q (each site once)", mission, rows, want)
		}
		return nil
	}
	// A site's first series may reach the store only with its next heartbeat (a minute), when
	// its remote write queue started reading after the first refresh.
	testenv.Eventually(t, 90*time.Second, "the three sites' mission question at the store", answers)
	got, err := queryAPI(store.QueryURL, `count by (cluster, kernel_release) (strata_topology_host_info)`, time.Time{})
	if err != nil || len(got) != 3 {
		t.Errorf("the kernel mix per cluster: %v %v", got, err)
	}
	// ap-1 sends its exporter's series too (prometheus.remote_write_exporters), with its cluster;
	// eu-1 sends its topology alone.
	testenv.Eventually(t, 90*time.Second, "ap-1's exporter series at the store, and eu-1's not", func() error {
		got, err := queryAPI(store.QueryURL, `count by (cluster) ({__name__=~"strata_exporter_.+"})`, time.Time{})
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0].Labels["cluster"] != "ap-1" {
			return fmt.Errorf("exporter series at the store by cluster: %v", got)
		}
		return nil
	})

	// The global strata: no sources, one graph of the three sites read from the store, each
	// site's entities its own (the same names, the same LB and service), this machine one host.
	global := startApp(t, server.Options{RefreshInterval: time.Second, Global: true, PrometheusURL: store.QueryURL, StaleAfter: 3 * time.Second})
	sites := []struct{ cluster, host, kernel string }{{"ap-1", host, truth.KernelRelease}, {"eu-1", host, truth.KernelRelease}, {"us-1", "us-1/node-17", "6.12.57-1-amd64"}}
	globalAnswers := func(at string) error {
		for _, c := range sites {
			if err := global.expect(`service{cluster="`+c.cluster+`", name="c1ps"} -> instance[0] -> host .kernel_release`, at,
				[]string{querytest.FormatRow([]string{"host", c.host, c.kernel})}); err != nil {
				return err
			}
		}
		return global.expect(`lb -> host | count by (cluster, kernel_release)`, at, []string{
			querytest.FormatRow([]string{"ap-1,eu-1", truth.KernelRelease, "1"}), querytest.FormatRow([]string{"us-1", "6.12.57-1-amd64", "1"})})
	}
	testenv.Eventually(t, 30*time.Second, "the global strata's graph of the three sites", func() error { return globalAnswers("") })
	fams, err := scrapeMetrics(global.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range sites {
		last, err1 := fams.Only("strata_federation_site_last_write_timestamp_seconds", map[string]string{"cluster": c.cluster})
		n, err2 := fams.Only("strata_federation_site_entities", map[string]string{"cluster": c.cluster})
		w, err3 := fams.Only("strata_federation_site_writers", map[string]string{"cluster": c.cluster})
		skew, err4 := fams.Only("strata_federation_site_clock_skew_seconds", map[string]string{"cluster": c.cluster})
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil || time.Since(time.Unix(int64(last.Value), 0)) > 2*time.Minute ||
			n.Value < 4 || // edge, c1ps, its instance, its host; containers on this machine too
			w.Value != 1 || // eu-1's HA pair is told apart by its replica label
			skew.Value != 0 { // one clock
			t.Errorf("the global strata's /metrics for %s: %v %v %v %v %v %v %v %v", c.cluster, last, n, w, skew, err1, err2, err3, err4)
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

	// A receiver that hangs: the querier answers without it after its response timeout, from
	// the two others, which hold every series between them; the global strata's answers are
	// whole and say that the store's was partial (for as long as it hangs: the receivers are
	// strict endpoints, which the querier does not drop when their health checks fail).
	// eu-1's and ap-1's c1ps lead to one host, this machine.
	if err := store.Receivers[0].Pause(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "the global strata's answer with a receiver hanging", func() error {
		var d server.QueryData
		warnings, err := getAPI(global.base, "/api/v1/topology/query?"+url.Values{"q": {`service{name="c1ps"} -> instance[0] -> host .kernel_release`}}.Encode(), &d)
		if err != nil {
			return err
		}
		if len(d.Rows) != 2 || !slices.ContainsFunc(warnings, func(w string) bool { return strings.HasPrefix(w, "the store: ") }) {
			return fmt.Errorf("rows %v, warnings %q: want two hosts and the store's warning", d.Rows, warnings)
		}
		return nil
	})
	if err := store.Receivers[0].Resume(); err != nil {
		t.Fatal(err)
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

	// ap-1's strata stops: its last graph stays, stale after the global's --topology.stale-after
	// (3 s here), with a warning that names it; the other sites' entities, and the host eu-1
	// sees too, are not stale.
	// First all three are fresh again: their strata write through the receivers still up,
	// once the hashring stopped waiting for the one down.
	testenv.Eventually(t, 30*time.Second, "the three sites fresh with a receiver down, the store saying it is", func() error {
		var d server.QueryData
		warnings, err := getAPI(global.base, "/api/v1/topology/query?"+url.Values{"q": {`lb{stale="true"}`}}.Encode(), &d)
		if err != nil {
			return err
		}
		if len(d.Rows) > 0 || !slices.ContainsFunc(warnings, func(w string) bool { return strings.HasPrefix(w, "the store: ") }) {
			return fmt.Errorf("stale %v, warnings %q", d.Rows, warnings)
		}
		return nil
	})
	ap.stop()
	testenv.Eventually(t, 30*time.Second, "ap-1 stale on the global strata", func() error {
		var d server.QueryData
		warnings, err := getAPI(global.base, "/api/v1/topology/query?"+url.Values{"q": {`lb .stale`}}.Encode(), &d)
		if err != nil {
			return err
		}
		stale := map[string]string{}
		for _, row := range d.Rows {
			stale[row[1]] = row[2]
		}
		if stale["ap-1/haproxy/edge"] != "true" || stale["eu-1/haproxy/edge"] != "" || stale["us-1/haproxy/edge"] != "" || len(stale) != 3 {
			return fmt.Errorf("lb .stale: %v (warnings %q)", d.Rows, warnings)
		}
		if !slices.ContainsFunc(warnings, func(w string) bool { return strings.HasPrefix(w, "site ap-1: no topology since ") }) ||
			slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, "eu-1") || strings.Contains(w, "us-1") }) {
			return fmt.Errorf("warnings %q: want ap-1 alone named", warnings)
		}
		return nil
	})
	if err := global.expect(`host{name="`+host+`"} .stale`, "", []string{querytest.FormatRow([]string{"host", host, ""})}); err != nil {
		t.Errorf("the host eu-1 still sees: %v", err)
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
