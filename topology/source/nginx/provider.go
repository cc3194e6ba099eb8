package nginx

import (
	"context"
	"os"

	"github.com/strata-obs/strata/internal/strictyaml"
	"github.com/strata-obs/strata/topology/source"
)

// Provider is the configuration's `type: nginx`: nginx's upstreams, read from its
// configuration.
func Provider() source.Provider {
	return source.Provider{Type: "nginx", Settings: func() source.Settings { return &Config{ConfigFile: localConfig} }, Local: local}
}

// localConfig is nginx's configuration where strata up, and a file that names none, look for it.
const localConfig = "/etc/nginx/nginx.conf"

// local is the nginx whose configuration is at /etc/nginx/nginx.conf.
func local(localHost string) source.LoadBalancers {
	return source.Discovered("nginx", func(context.Context) (source.LoadBalancers, bool) {
		if _, err := os.Stat(localConfig); err != nil {
			return nil, false
		}
		s, err := New(Config{Name: "nginx", ConfigFile: localConfig, Host: localHost})
		return s, err == nil
	})
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
