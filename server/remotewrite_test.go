package server_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/query/querytest"
	"github.com/strata-obs/strata/server"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/inventory"
)

// remoteWriteInventory is docs/design.md's Configuration example, cut to one host and one service.
const remoteWriteInventory = `hosts:
  - name: node-17
    addresses: [10.0.3.17]
    labels: {rack: r12, zone: eu-1a}
    facts: {kernel_release: 6.1.0-13-amd64, os_image: "Flatcar Container Linux 3815.2.0", product_name: "PowerEdge R640"}
lbs:
  - name: edge
    provider: aws-alb
    addresses: [203.0.113.10:443]
    labels: {env: prod}
    services:
      - name: c1ps
        labels: {team: payments, owner: manthan}
        instances:
          - {name: c1ps-0, address: 10.0.3.17:8080}
`

// TestRemoteWriteToPrometheus: with a remote write URL, a real Prometheus 2.42 (its remote
// write receiver, no scrape jobs of its own) ends up holding exactly the strata_topology_*
// series strata writes, and none of the raw series strata scrapes into the same TSDB (here
// that Prometheus's own /metrics), so a central store can answer the mission question in plain
// refreshSeries are the names of the series a refresh writes, which remote write sends.
const refreshSeries = "strata_topology_.*|strata_lifecycle_status|strata_host_support_end_timestamp_seconds"

// PromQL. strata's /metrics tells how the queue is doing with Prometheus's own metrics.
func TestRemoteWriteToPrometheus(t *testing.T) {
	promBase := testenv.StartPrometheus(t, testenv.Prometheus{Args: []string{"--web.enable-remote-write-receiver"}})
	promAddr := strings.TrimPrefix(promBase, "http://")
	dir := t.TempDir()

	invFile := filepath.Join(dir, "inventory.yml")
	if err := os.WriteFile(invFile, []byte(remoteWriteInventory), 0o644); err != nil {
		t.Fatal(err)
	}
	// One source, both halves under one name, as BuildSources passes an inventory.
	inv, err := inventory.New("inventory", invFile, 0)
	if err != nil {
		t.Fatal(err)
	}
	a := startApp(t, server.Options{
		RefreshInterval: 2 * time.Second,
		ScrapeInterval:  time.Second,
		ScrapeConfigs:   fmt.Sprintf("- job_name: prometheus\n  static_configs:\n  - targets: [%q]\n", promAddr),
		LBSources:       []source.LoadBalancers{inv},
		FactSources:     []source.Facts{inv},
		Allowlist:       []string{"rack", "zone", "env"},
		RemoteWriteURL:  promBase + "/api/v1/write",
		ExternalLabels:  labels.FromStrings("cluster", "eu-1"),
	})

	// The raw series are in strata's TSDB, hence in the WAL the queue reads: their absence at
	// the receiver below is the relabel rule's doing.
	testenv.Eventually(t, pollTimeout, "the scraped prometheus_build_info in strata's TSDB", func() error {
		got, err := queryAPI(a.base, "prometheus_build_info", time.Time{})
		if err == nil && len(got) == 0 {
			err = fmt.Errorf("not scraped yet")
		}
		return err
	})

	testenv.Eventually(t, pollTimeout, "the topology series at the receiver", func() error {
		want := map[string]bool{}
		for _, s := range a.Refresher().Samples() {
			want[s.Labels.String()] = true
		}
		if len(want) == 0 {
			return fmt.Errorf("no refresh yet")
		}
		got, err := queryAPI(promBase, `{__name__=~"`+refreshSeries+`"}`, time.Time{})
		if err != nil {
			return err
		}
		var missing, extra []string
		for _, s := range got {
			if ls := labels.FromMap(s.Labels).String(); !want[ls] {
				extra = append(extra, ls)
			} else {
				delete(want, ls)
			}
		}
		for ls := range want {
			missing = append(missing, ls)
		}
		if len(missing) > 0 || len(extra) > 0 {
			slices.Sort(missing)
			slices.Sort(extra)
			return fmt.Errorf("the receiver lacks %q and has %q besides strata's series", missing, extra)
		}
		return nil
	})

	for _, c := range []struct {
		expr string
		want map[string]string // labels the one answer must have
	}{
		{`strata_topology_host_info{host="node-17"}`, map[string]string{"kernel_release": "6.1.0-13-amd64",
			"os_image": "Flatcar Container Linux 3815.2.0", "label_rack": "r12", "label_zone": "eu-1a"}},
		{`strata_topology_lb_info{lb="edge"}`, map[string]string{"provider": "aws-alb", "addresses": "203.0.113.10:443", "label_env": "prod"}},
		// The mission question, asked of the central store.
		{`strata_topology_path_info{service="c1ps", position="0"}`, map[string]string{"lb": "edge", "server": "c1ps-0",
			"host": "node-17", "kernel_release": "6.1.0-13-amd64", "product_name": "PowerEdge R640", "cluster": "eu-1"}},
	} {
		got, err := queryAPI(promBase, c.expr, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 {
			t.Errorf("%s: %v, want one series", c.expr, got)
			continue
		}
		for k, v := range c.want {
			if got[0].Labels[k] != v {
				t.Errorf("%s: %v: %s is %q, want %q", c.expr, got[0], k, got[0].Labels[k], v)
			}
		}
	}
	// The site's name is every entity's attribute: the mission question by cluster.
	if err := a.expect(`service{cluster="eu-1", name="c1ps"} -> instance[0] -> host .kernel_release`, "",
		[]string{querytest.FormatRow([]string{"host", "node-17", "6.1.0-13-amd64"})}); err != nil {
		t.Error(err)
	}
	if err := a.expect(`service{cluster="eu-2"}`, "", nil); err != nil {
		t.Error(err)
	}
	// PromQL wants a matcher that fails on the empty name, hence the first one.
	if got, err := queryAPI(promBase, `count({__name__=~".+", __name__!~"`+refreshSeries+`"}) by (__name__)`, time.Time{}); err != nil || len(got) != 0 {
		t.Errorf("series other than the topology's at the receiver: %v, %v", got, err)
	}

	fams, err := scrapeMetrics(a.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	queue := map[string]string{"remote_name": "strata", "url": promBase + "/api/v1/write"}
	for _, c := range []struct {
		name     string
		match    map[string]string
		positive bool // above 0, or exactly 0
	}{
		{"prometheus_remote_storage_samples_total", queue, true},
		{"prometheus_remote_storage_samples_failed_total", queue, false},
		{"prometheus_remote_storage_samples_dropped_total", map[string]string{"remote_name": "strata", "reason": "dropped_series"}, true},
	} {
		s, err := fams.Only(c.name, c.match)
		if err != nil {
			t.Errorf("strata's /metrics: %v", err)
		} else if (s.Value > 0) != c.positive {
			t.Errorf("strata's /metrics: %v: want it above 0: %t", s, c.positive)
		}
	}
}

// TestRemoteWriteStoreDown: a store that is not there costs strata nothing but retries, shown
// on /metrics; refreshes go on, and the stop waits no longer than the flush deadline. With no
// scraping, the first refresh comes at once and its series are the only ones for a heartbeat:
// they must reach the queue all the same (its WAL reader skips what predates its start).
func TestRemoteWriteStoreDown(t *testing.T) {
	writeURL := "http://" + testenv.FreeAddr(t) + "/api/v1/write" // nobody listens
	a := startApp(t, server.Options{RefreshInterval: time.Second, RemoteWriteURL: writeURL})
	testenv.Eventually(t, pollTimeout, "failed sends retried", func() error {
		if _, err := testenv.CheckHTTP(a.base+"/-/ready", http.StatusOK); err != nil {
			return err
		}
		fams, err := scrapeMetrics(a.base + "/metrics")
		if err != nil {
			return err
		}
		s, err := fams.Only("prometheus_remote_storage_samples_retried_total", map[string]string{"remote_name": "strata", "url": writeURL})
		if err == nil && s.Value == 0 {
			err = fmt.Errorf("%v", s)
		}
		return err
	})
	start := time.Now()
	a.stop()
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the app took %s to stop with its store down", d.Round(100*time.Millisecond))
	}
}

// TestTimeTravelFromTheStore: a strata that remote-writes its graph to a real Prometheus is
// replaced by one with a fresh disk that reads that Prometheus (prometheus.url): the graph of
// before the replacement comes back from the store, while the latest graph is the new one's.
func TestTimeTravelFromTheStore(t *testing.T) {
	promBase := testenv.StartPrometheus(t, testenv.Prometheus{Args: []string{"--web.enable-remote-write-receiver"}})
	invFile := filepath.Join(t.TempDir(), "inventory.yml")
	write := func(kernel string) *inventory.Source {
		t.Helper()
		if err := os.WriteFile(invFile, []byte(strings.Replace(remoteWriteInventory, "6.1.0-13-amd64", kernel, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		inv, err := inventory.New("inventory", invFile, 0)
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}
	const q = `host{id="node-17"} .kernel_release`
	inv := write("6.1.0-13-amd64")
	old := startApp(t, server.Options{RefreshInterval: time.Second, LBSources: []source.LoadBalancers{inv},
		FactSources: []source.Facts{inv}, RemoteWriteURL: promBase + "/api/v1/write"})
	testenv.Eventually(t, pollTimeout, "the old graph in the store", func() error {
		got, err := queryAPI(promBase, `strata_topology_host_info{host="node-17", kernel_release="6.1.0-13-amd64"}`, time.Time{})
		if err == nil && len(got) == 0 {
			err = fmt.Errorf("not yet")
		}
		return err
	})
	before := time.Now()
	old.stop()

	inv = write("6.8.0-45-generic")
	a := startApp(t, server.Options{RefreshInterval: time.Second, LBSources: []source.LoadBalancers{inv},
		FactSources: []source.Facts{inv}, PrometheusURL: promBase})
	testenv.Eventually(t, pollTimeout, "the new graph", func() error {
		return a.expect(q, "", []string{"host node-17 6.8.0-45-generic"})
	})
	if err := a.expect(q, unix(before), []string{"host node-17 6.1.0-13-amd64"}); err != nil {
		t.Error(err)
	}
}

// TestRemoteStorePasswordNeverLogged: a store's URL may hold its user and password
// (http://user:password@store/…): they reach the store as basic auth, for remote write and
// prometheus.url alike, and the password appears nowhere in the log, at any level. Prometheus's
// remote write queue logged the URL as it was, password and all, on every line.
func TestRemoteStorePasswordNeverLogged(t *testing.T) {
	const password = "s3cret-never-logged"
	base := testenv.StartPrometheus(t, testenv.Prometheus{User: url.UserPassword("strata", password),
		Args: []string{"--web.enable-remote-write-receiver"}})
	invFile := filepath.Join(t.TempDir(), "inventory.yml")
	if err := os.WriteFile(invFile, []byte(remoteWriteInventory), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.New("inventory", invFile, 0)
	if err != nil {
		t.Fatal(err)
	}
	var log testenv.LockedBuffer
	logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := startAppWith(t, server.Options{RefreshInterval: time.Second, LBSources: []source.LoadBalancers{inv},
		FactSources: []source.Facts{inv}, RemoteWriteURL: base + "/api/v1/write", PrometheusURL: base}, logger)
	testenv.Eventually(t, pollTimeout, "the graph in the store, written with basic auth", func() error {
		got, err := queryAPI(base, `strata_topology_host_info{host="node-17"}`, time.Time{})
		if err == nil && len(got) == 0 {
			err = errors.New("not yet")
		}
		return err
	})
	// prometheus.url: the PromQL API is proxied to the store, with the same credentials.
	if got, err := queryAPI(a.base, `strata_topology_host_info{host="node-17"}`, time.Time{}); err != nil || len(got) == 0 {
		t.Errorf("strata's PromQL API, proxied to the store: %v, %v", got, err)
	}
	a.stop()
	if strings.Contains(log.String(), password) {
		t.Errorf("the log holds the password:\n%s", log.String())
	}
	if !strings.Contains(log.String(), "url=") {
		t.Error("the log names no url: the test looks at nothing")
	}
}
