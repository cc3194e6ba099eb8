package topology_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/topology"
)

// TestNodeExporterOnly is the day-one user: no strata-exporter anywhere, only Debian's
// prometheus-node-exporter, scraped through a scrape_configs list. Its node_uname_info and
// node_os_info must become this host, named by its nodename, with the kernel uname -r reports
// and the OS image /etc/os-release names.
func TestNodeExporterOnly(t *testing.T) {
	bin := testenv.Command(t, "prometheus-node-exporter")
	truth := readThisHost(t)
	arch := mustRun(t, "uname", "-m")

	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	p := startProcess(t, bin, "--web.listen-address="+addr, "--log.level=warn")
	waitServing(t, "http://"+addr+"/metrics", p)

	a := startApp(t, topology.Options{
		RefreshInterval: 2 * time.Second,
		ScrapeInterval:  time.Second,
		ScrapeConfigs:   fmt.Sprintf("- job_name: node\n  static_configs:\n  - targets: [%q]\n", addr),
	})

	eventually(t, pollTimeout, "this host from node_exporter's series", func() error {
		g, err := a.graph("host")
		if err != nil {
			return err
		}
		if len(g.Nodes) != 1 {
			return fmt.Errorf("want one host, got %v (warnings %v)", g.Nodes, g.Warnings)
		}
		h := g.Nodes[0]
		for k, want := range map[string]string{
			"kernel_release": truth.kernelRelease, // uname -r
			"os_image":       truth.prettyName,    // PRETTY_NAME
			"os_id":          truth.osID,          // ID
			"arch":           arch,                // uname -m
			"hostname":       truth.hostname,
		} {
			if h.Attrs[k] != want {
				return fmt.Errorf("host %v: %s is %q, want %q", h, k, h.Attrs[k], want)
			}
		}
		if h.ID != truth.hostname || h.Name != truth.hostname {
			return fmt.Errorf("host %v: want it named %q, node_exporter's nodename", h, truth.hostname)
		}
		return nil
	})

	fams, err := scrapeMetrics(a.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	info, err := fams.Only("strata_topology_host_info", map[string]string{"host": truth.hostname})
	if err != nil {
		t.Fatal(err)
	}
	if info.Labels["kernel_release"] != truth.kernelRelease || info.Labels["os_image"] != truth.prettyName || info.Labels["os_id"] != truth.osID {
		t.Errorf("%v: want kernel_release %q, os_image %q, os_id %q", info, truth.kernelRelease, truth.prettyName, truth.osID)
	}
	if up, err := fams.Only("strata_topology_source_up", map[string]string{"source": "metrics"}); err != nil || up.Value != 1 {
		t.Errorf("strata_topology_source_up of the metrics source: %v, %v; want 1", up, err)
	}
}
