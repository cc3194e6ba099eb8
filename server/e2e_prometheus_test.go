package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/server"
)

// TestExternalPrometheus: strata serve with prometheus.url reads the exporters' series from a
// real Prometheus (Debian's 2.42) by remote read, with no scraping of its own: the host and its
// kernel and OS come from node_exporter's series in that Prometheus.
func TestExternalPrometheus(t *testing.T) {
	testenv.Command(t, "prometheus")
	nodeBin := testenv.Command(t, "prometheus-node-exporter")
	truth := testenv.ReadThisHost(t)

	nodeAddr := testenv.FreeAddr(t)
	node := testenv.StartProcess(t, nodeBin, "--web.listen-address="+nodeAddr, "--log.level=warn")
	testenv.WaitHTTP(t, "http://"+nodeAddr+"/metrics", 0, node)

	promBase := testenv.StartPrometheus(t, testenv.Prometheus{Config: fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: [%q]\n", nodeAddr)})
	promAddr := strings.TrimPrefix(promBase, "http://")
	// Prometheus's first scrape lands a few seconds after it starts.
	testenv.Eventually(t, pollTimeout, "node_uname_info in Prometheus", func() error {
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape("node_uname_info"))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var answer struct {
			Data struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
			return err
		}
		if len(answer.Data.Result) == 0 {
			return fmt.Errorf("no node_uname_info yet")
		}
		return nil
	})

	a := startApp(t, server.Options{RefreshInterval: 2 * time.Second, PrometheusURL: "http://" + promAddr})
	testenv.Eventually(t, pollTimeout, "this host read from Prometheus", func() error {
		_, err := a.onlyHost(map[string]string{"kernel_release": truth.KernelRelease, "os_image": truth.PrettyName, "hostname": truth.Hostname})
		return err
	})
}
