package haproxy

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/strata-obs/strata/internal/strictyaml"
	"github.com/strata-obs/strata/topology/source"
)

// Provider is the configuration's `type: haproxy`: its backends are services, their servers
// instances.
func Provider() source.Provider {
	return source.Provider{Type: "haproxy", Settings: func() source.Settings { return &Config{Timeout: DefaultTimeout} }, Local: local}
}

// localSockets are where strata up looks for HAProxy's runtime API.
var localSockets = []string{"/run/haproxy/admin.sock", "/var/run/haproxy/admin.sock", "/run/haproxy.sock",
	"/var/run/haproxy.sock", "/var/lib/haproxy/stats", "/run/haproxy/stats.sock"}

// local is a HAProxy whose runtime socket is at one of its usual paths.
func local(localHost string) source.LoadBalancers {
	return source.Discovered("haproxy", func(context.Context) (source.LoadBalancers, bool) {
		for _, sock := range localSockets {
			if st, err := os.Stat(sock); err == nil && st.Mode()&os.ModeSocket != 0 {
				s, err := New(Config{Name: "haproxy", RuntimeAPI: "unix://" + sock, Host: localHost})
				return s, err == nil
			}
		}
		return nil, false
	})
}

// Fields are runtime_api, stats_url, host and timeout.
func (c *Config) Fields(d *source.Decoder) []strictyaml.Field {
	return []strictyaml.Field{
		{Name: "runtime_api", Read: d.StringField(&c.RuntimeAPI, checkEndpoint)},
		{Name: "stats_url", Read: d.StringField(&c.StatsURL, source.CheckHTTPURL)},
		{Name: "host", Read: d.StringField(&c.Host, nil)},
		{Name: "timeout", Read: d.TimeoutField(&c.Timeout)},
	}
}

// Check asks for exactly one way to reach HAProxy: with both, which one answers would be a
// surprise.
func (c *Config) Check(d *source.Decoder, entry *yaml.Node, path string) {
	api, stats := source.Present(entry, "runtime_api"), source.Present(entry, "stats_url")
	switch {
	case api == nil && stats == nil:
		d.Errorf(entry, path, "want runtime_api (unix:///path or tcp://host:port) or stats_url")
	case api != nil && stats != nil:
		d.Errorf(stats, strictyaml.Path(path, "stats_url"), "set runtime_api or stats_url, not both")
	}
}

// Build makes the source.
func (c *Config) Build(name string, _ source.Env) (any, error) {
	cfg := *c
	cfg.Name = name
	return New(cfg)
}

// checkEndpoint accepts unix:///absolute/path or tcp://host:port, the two ways HAProxy's
// runtime API listens.
func checkEndpoint(s string) error {
	bad := errors.New("want unix:///path or tcp://host:port")
	u, err := url.Parse(s)
	if err != nil {
		return bad
	}
	switch u.Scheme {
	case "unix":
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") || u.RawQuery != "" || u.Fragment != "" {
			return bad
		}
	case "tcp":
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil || host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return bad
		}
		if err := source.CheckPort(port); err != nil {
			return err
		}
	default:
		return bad
	}
	return nil
}
