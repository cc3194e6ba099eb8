package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	promconfig "github.com/prometheus/prometheus/config"

	"github.com/strata-obs/strata/internal/redact"
	"github.com/strata-obs/strata/topology/config"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/caddy"
	"github.com/strata-obs/strata/topology/source/dns"
	"github.com/strata-obs/strata/topology/source/haproxy"
	"github.com/strata-obs/strata/topology/source/inventory"
	"github.com/strata-obs/strata/topology/source/kubernetes"
	"github.com/strata-obs/strata/topology/source/nginx"
)

// Providers lists the source types of the configuration file. To add one: its package under
// topology/source (its settings and a func Provider), and one line here.
func Providers() []source.Provider {
	return []source.Provider{
		haproxy.Provider(),
		caddy.Provider(),
		nginx.Provider(),
		kubernetes.Provider(),
		inventory.Provider(),
		dns.Provider(),
	}
}

// BuildSources makes the configured sources. A source may be both an LB source and a fact
// source (the inventory).
func BuildSources(cfg *config.Config) ([]source.LoadBalancers, []source.Facts, error) {
	var lbs []source.LoadBalancers
	var facts []source.Facts
	env := source.Env{StaleAfter: cfg.Topology.StaleAfter}
	for _, s := range cfg.Sources {
		src, err := s.Spec.Build(s.Name, env)
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

// LocalLBs are the load balancers strata up reads without configuration: a HAProxy runtime
// socket at its usual paths, a Caddy admin API on 127.0.0.1:2019, and nginx's configuration
// at /etc/nginx. Each is looked for again on every refresh, so that one started after strata
// is found; one that is not there lists no LB and is no failure.
func LocalLBs(localHost string) []source.LoadBalancers {
	return []source.LoadBalancers{
		&localLB{name: "haproxy", find: func(context.Context) (source.LoadBalancers, bool) {
			for _, sock := range haproxySockets {
				if st, err := os.Stat(sock); err == nil && st.Mode()&os.ModeSocket != 0 {
					s, err := haproxy.New(haproxy.Config{Name: "haproxy", RuntimeAPI: "unix://" + sock, Host: localHost})
					return s, err == nil
				}
			}
			return nil, false
		}},
		&localLB{name: "caddy", find: func(ctx context.Context) (source.LoadBalancers, bool) {
			c, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(c, http.MethodGet, caddyAdmin+"/config/", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return nil, false
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return nil, false
			}
			s, err := caddy.New(caddy.Config{Name: "caddy", AdminURL: caddyAdmin, Host: localHost})
			return s, err == nil
		}},
		&localLB{name: "nginx", find: func(context.Context) (source.LoadBalancers, bool) {
			if _, err := os.Stat(nginxConfig); err != nil {
				return nil, false
			}
			s, err := nginx.New(nginx.Config{Name: "nginx", ConfigFile: nginxConfig, Host: localHost})
			return s, err == nil
		}},
	}
}

// localLB is a load balancer of this machine that may or may not be there.
type localLB struct {
	name string
	find func(context.Context) (source.LoadBalancers, bool)
}

func (l *localLB) Name() string { return l.name }

func (l *localLB) ListLoadBalancers(ctx context.Context) ([]source.LB, error) {
	s, ok := l.find(ctx)
	if !ok {
		return nil, nil
	}
	return s.ListLoadBalancers(ctx)
}

// Check does what strata serve does with a configuration before it starts, without starting:
// it builds every source (an inventory file must parse, a kubeconfig must load)
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
			errs = append(errs, fmt.Errorf("%s: scrape_configs: %s", file, redact.Quoted(err.Error())))
		}
	}
	return errors.Join(errs...)
}
