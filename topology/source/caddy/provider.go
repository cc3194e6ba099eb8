package caddy

import (
	"github.com/strata-obs/strata/internal/strictyaml"
	"github.com/strata-obs/strata/topology/source"
)

// Provider is the configuration's `type: caddy`: Caddy's reverse-proxy upstreams, read from
// its admin API.
func Provider() source.Provider {
	return source.Provider{Type: "caddy", Settings: func() source.Settings {
		return &Config{AdminURL: "http://localhost:2019", Timeout: defaultTimeout}
	}}
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
