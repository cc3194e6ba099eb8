package server

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/strata-obs/strata/internal/redact"
	"github.com/strata-obs/strata/internal/safefile"
	"github.com/strata-obs/strata/topology"
	"github.com/strata-obs/strata/topology/auth"
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

// LocalLBs are the load balancers strata up reads without configuration: each provider's that
// can be found on this machine (Provider.Local). Each is looked for again on every refresh, so
// that one started after strata is found; one that is not there lists no LB and is no failure.
func LocalLBs(localHost string) []source.LoadBalancers {
	var out []source.LoadBalancers
	for _, p := range Providers() {
		if p.Local != nil {
			out = append(out, p.Local(localHost))
		}
	}
	return out
}

// Check does what strata serve does with a configuration before it starts, without starting:
// it builds every source (an inventory file must parse, a kubeconfig must load)
// and hands the scrape configs to Prometheus's own parser. strata check config runs it after
// the file itself parsed.
func Check(file string, cfg *config.Config) error {
	// (BuildAuth reads the tokens file too, so that a role naming a token it lacks is said now.)
	var errs []error
	for _, s := range cfg.Sources {
		one := *cfg
		one.Sources = []config.Source{s}
		if _, _, err := BuildSources(&one); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", file, s.Line, err))
		}
	}
	if _, err := BuildAuth(cfg); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", file, err))
	}
	if err := topology.CheckExternalLabels(labels.FromMap(cfg.Global.ExternalLabels)); err != nil {
		errs = append(errs, fmt.Errorf("%s: global.external_labels: %w", file, err))
	}
	if len(cfg.ScrapeConfigs) > 0 {
		if _, err := promconfig.Load("scrape_configs:\n"+indent(string(cfg.ScrapeConfigs)), slog.New(slog.DiscardHandler)); err != nil {
			errs = append(errs, fmt.Errorf("%s: scrape_configs: %s", file, redact.YAML(err.Error())))
		}
	}
	if err := checkRules(cfg); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", file, err))
	}
	return errors.Join(errs...)
}

// BuildAuth is the file's access control: nil without an auth: block. The tokens file and the
// OpenID Connect client secret are read now, and a role holding a token the file lacks is an
// error. The provider itself is not asked yet: strata starts while it is down.
func BuildAuth(cfg *config.Config) (*auth.Authenticator, error) {
	if cfg.Auth == nil {
		return nil, nil
	}
	var tokens []auth.Token
	if cfg.Auth.TokensFile != "" {
		var err error
		if tokens, err = auth.LoadTokens(cfg.Auth.TokensFile); err != nil {
			return nil, fmt.Errorf("auth.tokens_file: %w", err)
		}
	}
	var provider *auth.Provider
	if o := cfg.Auth.OIDC; o != nil {
		secret := ""
		if o.ClientSecretFile != "" {
			b, err := safefile.ReadFile(o.ClientSecretFile, maxSecretFileSize)
			if err != nil {
				return nil, fmt.Errorf("auth.oidc.client_secret_file: %w", err)
			}
			if secret = strings.TrimSpace(string(b)); secret == "" {
				return nil, errors.New("auth.oidc.client_secret_file: the file is empty")
			}
		}
		provider = auth.NewProvider(*o, secret, nil)
	}
	return auth.NewAuthenticator(cfg.Auth, tokens, provider)
}

// maxSecretFileSize bounds a client secret's file: a secret is a line.
const maxSecretFileSize = 64 << 10
