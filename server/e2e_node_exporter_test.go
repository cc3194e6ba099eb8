package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/server"
)

// TestNodeExporterOnly is the day-one user: no strata-exporter anywhere, only Debian's
// prometheus-node-exporter, scraped through a scrape_configs list. Its node_uname_info and
// node_os_info must become this host, named by its nodename, with the kernel uname -r reports
// and the OS image /etc/os-release names.
func TestNodeExporterOnly(t *testing.T) {
	bin := testenv.Command(t, "prometheus-node-exporter")
	truth := testenv.ReadThisHost(t)
	arch := testenv.Output(t, "uname", "-m")

	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	p := testenv.StartProcess(t, bin, "--web.listen-address="+addr, "--log.level=warn")
	testenv.WaitHTTP(t, "http://"+addr+"/metrics", 0, p)

	a := startApp(t, server.Options{
		RefreshInterval: 2 * time.Second,
		ScrapeInterval:  time.Second,
		ScrapeConfigs:   fmt.Sprintf("- job_name: node\n  static_configs:\n  - targets: [%q]\n", addr),
	})

	testenv.Eventually(t, pollTimeout, "this host from node_exporter's series", func() error {
		h, err := a.onlyHost(map[string]string{
			"kernel_release": truth.KernelRelease, // uname -r
			"os_image":       truth.PrettyName,    // PRETTY_NAME
			"os_id":          truth.OSID,          // ID
			"arch":           arch,                // uname -m
			"hostname":       truth.Hostname,
		})
		if err != nil {
			return err
		}
		if h.ID != truth.Hostname || h.Name != truth.Hostname {
			return fmt.Errorf("host %v: want it named %q, node_exporter's nodename", h, truth.Hostname)
		}
		return nil
	})

	fams, err := scrapeMetrics(a.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	info, err := fams.Only("strata_topology_host_info", map[string]string{"host": truth.Hostname})
	if err != nil {
		t.Fatal(err)
	}
	if info.Labels["kernel_release"] != truth.KernelRelease || info.Labels["os_image"] != truth.PrettyName || info.Labels["os_id"] != truth.OSID {
		t.Errorf("%v: want kernel_release %q, os_image %q, os_id %q", info, truth.KernelRelease, truth.PrettyName, truth.OSID)
	}
	if up, err := fams.Only("strata_topology_source_up", map[string]string{"source": "metrics"}); err != nil || up.Value != 1 {
		t.Errorf("strata_topology_source_up of the metrics source: %v, %v; want 1", up, err)
	}
}

// TestTargetsAndMetadata: what Grafana's Prometheus data source asks of the scrapes: the target
// strata scrapes (a real node_exporter) as Prometheus's /api/v1/targets shows it, and each
// metric's type and help as node_exporter's own exposition says them, beside strata's own series.
func TestTargetsAndMetadata(t *testing.T) {
	bin := testenv.Command(t, "prometheus-node-exporter")
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	p := testenv.StartProcess(t, bin, "--web.listen-address="+addr, "--log.level=warn")
	testenv.WaitHTTP(t, "http://"+addr+"/metrics", 0, p)
	a := startApp(t, server.Options{RefreshInterval: 2 * time.Second, ScrapeInterval: time.Second,
		ScrapeConfigs: fmt.Sprintf("- job_name: node\n  static_configs:\n  - targets: [%q]\n", addr)})

	type target struct {
		Labels     map[string]string
		ScrapePool string
		ScrapeURL  string
		Health     string
		LastScrape time.Time
	}
	var answer struct {
		Status string
		Data   struct {
			ActiveTargets  []target
			DroppedTargets []target
		}
	}
	testenv.Eventually(t, pollTimeout, "node_exporter's target scraped", func() error {
		if err := getJSON(a.base+"/api/v1/targets", &answer); err != nil {
			return err
		}
		ts := answer.Data.ActiveTargets
		if len(ts) != 2 || ts[0].Health != "up" || ts[0].LastScrape.IsZero() || ts[1].ScrapePool != "strata-self" || ts[1].Health != "up" {
			return fmt.Errorf("targets %+v: want node_exporter's and strata's own (strata-self), up", ts)
		}
		return nil
	})
	got := answer.Data.ActiveTargets[0]
	if got.ScrapePool != "node" || got.ScrapeURL != "http://"+addr+"/metrics" || got.Labels["job"] != "node" || got.Labels["instance"] != addr {
		t.Errorf("target %+v: want pool node, http://%s/metrics, job node, instance %s", got, addr, addr)
	}
	var dropped struct{ Data map[string]any }
	if err := getJSON(a.base+"/api/v1/targets?state=dropped", &dropped); err != nil || dropped.Data["activeTargets"] != nil || dropped.Data["droppedTargets"] == nil {
		t.Errorf("state=dropped: %+v, %v; want no active targets and an empty list of dropped ones", dropped, err)
	}

	// node_exporter's own words for node_load1.
	body := testenv.Output(t, "curl", "-s", "http://"+addr+"/metrics")
	var help string
	for line := range strings.Lines(body) {
		if h, ok := strings.CutPrefix(line, "# HELP node_load1 "); ok {
			help = strings.TrimSpace(h)
		}
	}
	if help == "" {
		t.Fatalf("node_exporter says no help for node_load1")
	}
	var meta struct {
		Data map[string][]struct{ Type, Help, Unit string }
	}
	if err := getJSON(a.base+"/api/v1/metadata?metric=node_load1", &meta); err != nil {
		t.Fatal(err)
	}
	if m := meta.Data["node_load1"]; len(meta.Data) != 1 || len(m) != 1 || m[0].Type != "gauge" || m[0].Help != help {
		t.Errorf("metadata of node_load1: %+v, want one gauge with help %q", meta.Data, help)
	}
	meta.Data = nil // a decode into a map adds to it
	if err := getJSON(a.base+"/api/v1/metadata", &meta); err != nil {
		t.Fatal(err)
	}
	if m := meta.Data["strata_topology_host_info"]; len(m) != 1 || m[0].Type != "gauge" || !strings.Contains(m[0].Help, "host") {
		t.Errorf("metadata of strata's own strata_topology_host_info: %+v", m)
	}
	if n := len(meta.Data); n < 100 {
		t.Errorf("%d metrics' metadata: want node_exporter's and strata's", n)
	}
	meta.Data = nil
	if err := getJSON(a.base+"/api/v1/metadata?limit=3", &meta); err != nil || len(meta.Data) != 3 {
		t.Errorf("limit=3: %d metrics, %v", len(meta.Data), err)
	}
}

// getJSON decodes the answer of a GET of url into v, which must be 200.
func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s %s", url, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
