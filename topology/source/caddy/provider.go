package caddy

import (
	"context"
	"net/http"
	"time"

	"github.com/strata-obs/strata/internal/strictyaml"
	"github.com/strata-obs/strata/topology/source"
)

// Provider is the configuration's `type: caddy`: Caddy's reverse-proxy upstreams, read from
// its admin API.
func Provider() source.Provider {
	return source.Provider{Type: "caddy", Settings: func() source.Settings {
		return &Config{AdminURL: "http://localhost:2019", Timeout: defaultTimeout}
	}, Local: local}
}

// localAdmin is where strata up looks for Caddy's admin API.
const localAdmin = "http://127.0.0.1:2019"

// local is a Caddy whose admin API answers on 127.0.0.1:2019.
func local(localHost string) source.LoadBalancers {
	return source.Discovered("caddy", func(ctx context.Context) (source.LoadBalancers, bool) {
		c, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(c, http.MethodGet, localAdmin+"/config/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, false
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, false
		}
		s, err := New(Config{Name: "caddy", AdminURL: localAdmin, Host: localHost})
		return s, err == nil
	})
}

// Fields are admin_url, host and timeout.
func (c *Config) Fields(d *source.Decoder) []strictyaml.Field {
	return []strictyaml.Field{
		{Name: "admin_url", Read: d.StringField(&c.AdminURL, source.CheckHTTPURL)},
		{Name: "host", Read: d.StringField(&c.Host, nil)},
		{Name: "timeout", Read: d.TimeoutField(&c.Timeout)},
	}
}

// Build makes the source.
func (c *Config) Build(name string, _ source.Env) (any, error) {
	cfg := *c
	cfg.Name = name
	return New(cfg)
}
