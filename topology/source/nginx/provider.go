package nginx

import (
	"github.com/strata-obs/strata/internal/strictyaml"
	"github.com/strata-obs/strata/topology/source"
)

// Provider is the configuration's `type: nginx`: nginx's upstreams, read from its
// configuration.
func Provider() source.Provider {
	return source.Provider{Type: "nginx", Settings: func() source.Settings { return &Config{ConfigFile: "/etc/nginx/nginx.conf"} }}
}

// Fields are config (the main configuration file), use_nginx_t and host.
func (c *Config) Fields(d *source.Decoder) []strictyaml.Field {
	return []strictyaml.Field{
		{Name: "config", Read: d.PathField(&c.ConfigFile)},
		{Name: "use_nginx_t", Read: d.BoolField(&c.UseNginxT)},
		{Name: "host", Read: d.StringField(&c.Host, nil)},
	}
}

// Build makes the source.
func (c *Config) Build(name string, _ source.Env) (any, error) {
	cfg := *c
	cfg.Name = name
	return New(cfg)
}
