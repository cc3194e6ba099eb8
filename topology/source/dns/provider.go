package dns

import (
	"errors"
	"net"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/strata-obs/strata/internal/strictyaml"
	"github.com/strata-obs/strata/topology/source"
)

// Provider is the configuration's `type: dns`: an LB whose services are SRV names.
func Provider() source.Provider {
	return source.Provider{Type: "dns", Settings: func() source.Settings { return &Config{Timeout: DefaultTimeout} }}
}

// Fields are server, services (each a name and an srv), refresh_interval and timeout.
func (c *Config) Fields(d *source.Decoder) []strictyaml.Field {
	return []strictyaml.Field{
		{Name: "server", Read: d.StringField(&c.Server, checkServer)},
		{Name: "services", Required: true, Read: func(n *yaml.Node, path string) { c.Services = readServices(d, n, path) }},
		{Name: "refresh_interval", Read: d.DurationField(&c.RefreshInterval)},
		{Name: "timeout", Read: d.TimeoutField(&c.Timeout)},
	}
}

func readServices(d *source.Decoder, n *yaml.Node, path string) []Service {
	var out []Service
	names, entries := map[string]int{}, 0
	d.Sequence(n, path, func(_ int, n *yaml.Node, path string) {
		entries++
		var svc Service
		var nameNode *yaml.Node
		ok := d.Mapping(n, path, []strictyaml.Field{
			{Name: "name", Read: func(n *yaml.Node, path string) { nameNode = n; d.StringField(&svc.Name, nil)(n, path) }},
			{Name: "srv", Required: true, Read: d.StringField(&svc.SRV, checkDomain)},
		})
		if !ok || svc.SRV == "" {
			return
		}
		name := svc.Name
		if name == "" {
			name, nameNode = strings.TrimSuffix(svc.SRV, "."), n
		}
		if d.Unique(names, nameNode, strictyaml.Path(path, "name"), name) {
			out = append(out, svc)
		}
	})
	if entries == 0 {
		d.Errorf(n, path, "want at least one service")
	}
	return out
}

// Build makes the source.
func (c *Config) Build(name string, _ source.Env) (any, error) {
	cfg := *c
	cfg.Name = name
	return New(cfg)
}

func checkServer(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return errors.New("want host:port, such as 127.0.0.1:8600")
	}
	return source.CheckPort(port)
}

// checkDomain accepts a domain name as DNS carries it: labels of 1-63 bytes, 253 in all.
func checkDomain(s string) error {
	bad := errors.New("want a domain name such as _http._tcp.web.service.consul, with or without the final dot")
	name := strings.TrimSuffix(s, ".")
	if name == "" || len(name) > 253 {
		return bad
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return bad
		}
		for _, r := range label {
			if !(r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return bad
			}
		}
	}
	return nil
}
