package dns

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/sourcetest"
)

func TestSettings(t *testing.T) {
	settings := Provider().Settings()
	err := sourcetest.Decode(`server: 127.0.0.1:8600
services:
  - name: c1ps
    srv: _http._tcp.c1ps.service.consul.
  - srv: _http._tcp.web.service.consul
refresh_interval: 30s
`, settings, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{Server: "127.0.0.1:8600", Services: []Service{
		{Name: "c1ps", SRV: "_http._tcp.c1ps.service.consul."},
		{SRV: "_http._tcp.web.service.consul"},
	}, RefreshInterval: 30 * time.Second, Timeout: DefaultTimeout}
	if diff := cmp.Diff(source.Settings(want), settings); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
	src, err := settings.Build("consul-dns", source.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if s := src.(*Source); s.Name() != "consul-dns" || s.cfg.Services[1].Name != "_http._tcp.web.service.consul" {
		t.Errorf("built %+v, want the name and the default service name", s.cfg)
	}
}

func TestSettingsErrors(t *testing.T) {
	for _, c := range []struct{ entry, want string }{
		{"server: 127.0.0.1\nservices: [{srv: _a._tcp.x.}]\n", "strata.yml:1: server: want host:port"},
		{"server: 127.0.0.1:99999\nservices: [{srv: _a._tcp.x.}]\n", "strata.yml:1: server: invalid port"},
		{"refresh_interval: 5m\n", "services: required"},
		{"services: []\n", "strata.yml:1: services: want at least one service"},
		{"services: [{name: a}]\n", "services[0].srv: required"},
		{"services: [{srv: 'not a name'}]\n", "services[0].srv: want a domain name"},
		{"services: [{srv: _a._tcp.x.}, {srv: _a._tcp.x}]\n", "services[1].name: used twice (first at line 1)"},
		{"services: [{srv: _a._tcp.x., port: 80}]\n", `services[0]: unknown field "port" (want one of name, srv)`},
		{"services: [{srv: _a._tcp.x.}]\ntimeout: 1m\n", "strata.yml:2: timeout: 1m is longer than topology.refresh_interval (15s)"},
	} {
		err := sourcetest.Decode(c.entry, Provider().Settings(), 15*time.Second)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.entry, err, c.want)
		}
	}
}
