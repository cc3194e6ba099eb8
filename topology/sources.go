package topology

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	promconfig "github.com/prometheus/prometheus/config"

	"github.com/strata-obs/strata/topology/config"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/caddy"
	"github.com/strata-obs/strata/topology/source/haproxy"
	"github.com/strata-obs/strata/topology/source/inventory"
	"github.com/strata-obs/strata/topology/source/nginx"
)

// BuildSources makes the configured sources: one line per type. A source may be both an LB
// source and a fact source (the inventory).
func BuildSources(cfg *config.Config) ([]source.LoadBalancers, []source.Facts, error) {
	var lbs []source.LoadBalancers
	var facts []source.Facts
	for _, s := range cfg.Sources {
		var (
			src any
			err error
		)
		switch spec := s.Spec.(type) {
		case *config.HAProxy:
			src, err = haproxy.New(haproxy.Config{Name: s.Name, RuntimeAPI: spec.RuntimeAPI, StatsURL: spec.StatsURL, Host: spec.Host, Timeout: spec.Timeout})
		case *config.Caddy:
			src, err = caddy.New(caddy.Config{Name: s.Name, AdminURL: spec.AdminURL, Host: spec.Host, Timeout: spec.Timeout})
		case *config.Nginx:
			src, err = nginx.New(nginx.Config{Name: s.Name, ConfigFile: spec.Config, UseNginxT: spec.UseNginxT, Host: spec.Host})
		case *config.Inventory:
			src, err = inventory.New(s.Name, spec.File)
		default:
			err = fmt.Errorf("type %s is not supported by this build yet", s.Type)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("source %s: %w", s.Name, err)
		}
		if l, ok := src.(source.LoadBalancers); ok {
			lbs = append(lbs, l)
		}
		if f, ok := src.(source.Facts); ok {
			facts = append(facts, f)
		}
	}
	return lbs, facts, nil
}

// Where strata up looks for load balancers on this machine.
var (
	haproxySockets = []string{"/run/haproxy/admin.sock", "/var/run/haproxy/admin.sock", "/run/haproxy.sock",
		"/var/run/haproxy.sock", "/var/lib/haproxy/stats", "/run/haproxy/stats.sock"}
	caddyAdmin  = "http://127.0.0.1:2019"
	nginxConfig = "/etc/nginx/nginx.conf"
)

// DiscoverLocalLBs finds the load balancers strata up reads without configuration: a
// HAProxy runtime socket at its usual paths, a Caddy admin API on 127.0.0.1:2019, and nginx's
// configuration at /etc/nginx. found names what was found, for the log.
func DiscoverLocalLBs(ctx context.Context, localHost string) (lbs []source.LoadBalancers, found []string) {
	for _, sock := range haproxySockets {
		if st, err := os.Stat(sock); err == nil && st.Mode()&os.ModeSocket != 0 {
			if s, err := haproxy.New(haproxy.Config{Name: "haproxy", RuntimeAPI: "unix://" + sock, Host: localHost}); err == nil {
				lbs = append(lbs, s)
				found = append(found, "haproxy at "+sock)
				break
			}
		}
	}
	c, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(c, http.MethodGet, caddyAdmin+"/config/", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			if s, err := caddy.New(caddy.Config{Name: "caddy", AdminURL: caddyAdmin, Host: localHost}); err == nil {
				lbs = append(lbs, s)
				found = append(found, "caddy admin API at "+caddyAdmin)
			}
		}
	}
	if _, err := os.Stat(nginxConfig); err == nil {
		if s, err := nginx.New(nginx.Config{Name: "nginx", ConfigFile: nginxConfig, Host: localHost}); err == nil {
			lbs = append(lbs, s)
			found = append(found, "nginx configuration at "+nginxConfig)
		}
	}
	return lbs, found
}

// Check does what strata serve does with a configuration before it starts, without starting:
// it builds every source (an inventory file must parse, a kubernetes source must be supported)
// and hands the scrape configs to Prometheus's own parser. strata check config runs it after
// the file itself parsed.
func Check(file string, cfg *config.Config) error {
	var errs []error
	for _, s := range cfg.Sources {
		one := *cfg
		one.Sources = []config.Source{s}
		if _, _, err := BuildSources(&one); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", file, s.Line, err))
		}
	}
	if len(cfg.ScrapeConfigs) > 0 {
		if _, err := promconfig.Load("scrape_configs:\n"+indent(string(cfg.ScrapeConfigs)), slog.New(slog.DiscardHandler)); err != nil {
			errs = append(errs, fmt.Errorf("%s: scrape_configs: %w", file, err))
		}
	}
	return errors.Join(errs...)
}
