package server_test

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/server"
	"github.com/strata-obs/strata/topology/config"
)

// TestDNSSourceEndToEnd: a configuration file with a dns source, read as strata serve reads
// it, against a real DNS server: the LB's instances come in the SRV answer's preference order
// (the first is the priority-1 target), each reaches the inventory's host of its A record, and
// the mission question answers that host's kernel.
func TestDNSSourceEndToEnd(t *testing.T) {
	dnsServer, _ := testenv.DNSMasq(t, "--local=/example/",
		"--srv-host=_http._tcp.c1ps.service.example,web-b.example,8080,2,10",
		"--srv-host=_http._tcp.c1ps.service.example,web-a.example,8080,1,10",
		"--host-record=web-a.example,192.0.2.11",
		"--host-record=web-b.example,192.0.2.12")
	dir := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("inventory.yml", `hosts:
  - {name: node-a, addresses: [192.0.2.11], facts: {kernel_release: 6.1.0-28-amd64}}
  - {name: node-b, addresses: [192.0.2.12], facts: {kernel_release: 6.12.9-amd64}}
`)
	cfg, err := config.Load(write("strata.yml", `sources:
  - type: dns
    name: consul-dns
    server: `+dnsServer+`
    services:
      - name: c1ps
        srv: _http._tcp.c1ps.service.example.
    refresh_interval: 30s
  - type: inventory
    file: inventory.yml
`), server.Providers())
	if err != nil {
		t.Fatal(err)
	}
	lbs, facts, err := server.BuildSources(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := startApp(t, server.Options{RefreshInterval: time.Hour, LBSources: lbs, FactSources: facts})
	testenv.WaitHTTP(t, a.base+"/-/ready", http.StatusOK, nil) // the first refresh has finished

	ask := func(q string) [][]string {
		t.Helper()
		var d server.QueryData
		if _, err := getAPI(a.base, "/api/v1/topology/query?"+url.Values{"q": {q}}.Encode(), &d); err != nil {
			t.Fatal(err)
		}
		return d.Rows
	}
	if got, want := ask(`lb{name="consul-dns"} -> instance .position .address`), [][]string{
		{"instance", "consul-dns/c1ps/web-a.example", "0", "192.0.2.11"},
		{"instance", "consul-dns/c1ps/web-b.example", "1", "192.0.2.12"},
	}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("instances = %v, want %v", got, want)
	}
	if got, want := ask(`lb{provider="dns"} -> service{name="c1ps"} -> instance[0] -> host .kernel_release`),
		[][]string{{"host", "node-a", "6.1.0-28-amd64"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("the first instance's host = %v, want %v", got, want)
	}
}
