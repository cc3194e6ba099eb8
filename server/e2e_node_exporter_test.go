package server_test

import (
	"fmt"
	"strconv"
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
