package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/notifier"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"golang.org/x/sync/errgroup"

	shipped "github.com/strata-obs/strata/dashboards/rules"
	"github.com/strata-obs/strata/internal/redact"
	"github.com/strata-obs/strata/internal/safefile"
	"github.com/strata-obs/strata/query/promql"
	"github.com/strata-obs/strata/topology/config"
)

// alerting evaluates the rules over the embedded TSDB with Prometheus's own rules manager and
// sends the alerts to the configuration's Alertmanagers with Prometheus's notifier, found by
// Prometheus's service discovery: a strata without a Prometheus beside it alerts too.
type alerting struct {
	rules       *rules.Manager
	notifier    *notifier.Manager
	discovery   *discovery.Manager
	externalURL string
	logger      *slog.Logger
}

// maxRuleFileSize bounds a rule file read: Prometheus's largest in practice are a few MB.
const maxRuleFileSize = 16 << 20

// ruleLoader reads the rule files, and the shipped rules (shipped.File) by their name.
type ruleLoader struct {
	parser parser.Parser
	logger *slog.Logger
}

func (l ruleLoader) Load(identifier string, ignoreUnknownFields bool, scheme model.ValidationScheme) (*rulefmt.RuleGroups, []error) {
	data := shipped.File
	if identifier != shipped.Name {
		var err error
		if data, err = safefile.ReadFile(identifier, maxRuleFileSize); err != nil {
			return nil, []error{err}
		}
	}
	groups, errs := rulefmt.Parse(data, ignoreUnknownFields, scheme, l.parser, l.logger)
	for i := range errs {
		// The YAML and PromQL parsers quote what they read: a glob that reaches a file it
		// was not meant to (a password file) must not put its content in a log or an answer.
		errs[i] = fmt.Errorf("%s: %s", identifier, redact.YAML(errs[i].Error()))
	}
	return groups, errs
}

func (l ruleLoader) Parse(query string) (parser.Expr, error) { return l.parser.ParseExpr(query) }

// rulesConfig is the part of a Prometheus configuration that its rules manager and notifier
// read: the evaluation interval, the external labels (on every alert sent) and the alerting
// block; and the rule files its globs find, with the shipped rules unless the configuration
// names its own.
func rulesConfig(o Options) (*promconfig.Config, []string, error) {
	text := fmt.Sprintf("global:\n  evaluation_interval: %s\n", model.Duration(o.EvaluationInterval))
	if strings.TrimSpace(o.Alerting) != "" {
		text += "alerting:\n" + indent(o.Alerting)
	}
	cfg, err := promconfig.Load(text, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, nil, fmt.Errorf("alerting: %s", redact.YAML(err.Error())) // Prometheus's parser quotes values, passwords too
	}
	cfg.AlertingConfig.SetDirectory(o.ConfigDir)
	cfg.GlobalConfig.ExternalLabels = o.ExternalLabels
	var files []string
	if o.DefaultRules {
		files = append(files, shipped.Name)
	}
	for _, glob := range o.RuleFiles {
		found, err := filepath.Glob(glob)
		if err != nil {
			return nil, nil, fmt.Errorf("rule_files: %s: %w", glob, err)
		}
		files = append(files, found...)
	}
	return cfg, files, nil
}

// startAlerting runs the rules and the notifier; not where PromQL is another Prometheus's
// (prometheus.url, a global strata), whose rules are its own.
func (a *App) startAlerting(ctx context.Context, g *errgroup.Group) error {
	if a.opts.PrometheusURL != "" {
		if len(a.opts.RuleFiles) > 0 || strings.TrimSpace(a.opts.Alerting) != "" {
			return errors.New("rule_files and alerting: strata evaluates rules over its embedded TSDB, which prometheus.url replaces for queries: load them into that Prometheus")
		}
		return nil
	}
	logger := a.logger.With("component", "rules")
	sdMetrics, err := a.discoveryMetrics()
	if err != nil {
		return err
	}
	cfg, files, err := checkAlerting(a.opts)
	if err != nil {
		return err
	}
	// Where an alert's generator link points: strata's own address.
	al := &alerting{externalURL: strings.TrimSuffix(openURL(a.opts), "/"), logger: logger}
	al.notifier = notifier.NewManager(&notifier.Options{QueueCapacity: 10000, DrainOnShutdown: true, Registerer: a.reg},
		model.UTF8Validation, a.logger.With("component", "notifier"))
	al.discovery = discovery.NewManager(ctx, a.logger.With("component", "discovery notify"), a.reg, sdMetrics, discovery.Name("notify"))
	if al.discovery == nil {
		return errors.New("discovery manager of the Alertmanagers")
	}
	u, err := url.Parse(al.externalURL)
	if err != nil {
		return err
	}
	p := parser.NewParser(parser.Options{})
	al.rules = rules.NewManager(&rules.ManagerOptions{
		AppendableV2:    a.db,
		Queryable:       a.db,
		QueryFunc:       rules.EngineQueryFunc(a.promql.Prometheus(), a.db),
		NotifyFunc:      rules.SendAlerts(al.notifier, al.externalURL),
		Context:         ctx,
		ExternalURL:     u,
		Logger:          logger,
		Registerer:      a.reg,
		OutageTolerance: time.Hour,        // Prometheus's defaults
		ForGracePeriod:  10 * time.Minute, // (--rules.alert.*)
		ResendDelay:     time.Minute,      //
		GroupLoader:     ruleLoader{parser: p, logger: logger},
		Parser:          p,
	})
	if err := al.apply(a.opts, cfg, files); err != nil {
		return err
	}
	g.Go(func() error { return al.discovery.Run() })
	g.Go(func() error { al.notifier.Run(al.discovery.SyncCh()); return nil })
	g.Go(func() error { al.rules.Run(); return nil })
	g.Go(func() error {
		<-ctx.Done()
		al.rules.Stop()
		al.notifier.Stop()
		return nil
	})
	a.alerting = al
	if local, ok := a.promAPI.(*promql.API); ok {
		local.SetRules(al.rules)
	}
	return nil
}

// checkAlerting is o's alerting configuration and rule files, every rule file read and
// checked: what a start or a reload applies, refused before anything changes. (Read here for
// the errors themselves: Prometheus's Update logs them and says only that it failed.)
func checkAlerting(o Options) (*promconfig.Config, []string, error) {
	cfg, files, err := rulesConfig(o)
	if err != nil {
		return nil, nil, err
	}
	if err := loadRules(files); err != nil {
		return nil, nil, err
	}
	return cfg, files, nil
}

// apply takes the rules and Alertmanagers that checkAlerting read of o. The Alertmanagers are
// applied only after the rules took.
func (al *alerting) apply(o Options, cfg *promconfig.Config, files []string) error {
	if err := al.rules.Update(o.EvaluationInterval, files, o.ExternalLabels, al.externalURL, nil); err != nil {
		return fmt.Errorf("rule_files: %w", err)
	}
	if err := al.notifier.ApplyConfig(cfg); err != nil {
		return fmt.Errorf("alerting: %w", err)
	}
	sd := map[string]discovery.Configs{}
	for k, v := range cfg.AlertingConfig.AlertmanagerConfigs.ToMap() {
		sd[k] = v.ServiceDiscoveryConfigs
	}
	if err := al.discovery.ApplyConfig(sd); err != nil {
		return fmt.Errorf("alerting: %w", err)
	}
	groups := al.rules.RuleGroups()
	n := 0
	for _, g := range groups {
		n += len(g.Rules())
	}
	al.logger.Info("rules loaded", "files", len(files), "groups", len(groups), "rules", n, "alertmanager_configs", len(cfg.AlertingConfig.AlertmanagerConfigs))
	return nil
}

// checkRules loads the configuration's alerting block and rule files as a start would, for
// strata check config.
func checkRules(cfg *config.Config) error {
	_, _, err := checkAlerting(Options{RuleFiles: cfg.RuleFiles, Alerting: string(cfg.Alerting), ConfigDir: cfg.Dir,
		EvaluationInterval: cfg.Global.EvaluationInterval})
	return err
}

// loadRules reads and checks the rule files, every error at once.
func loadRules(files []string) error {
	l := ruleLoader{parser: parser.NewParser(parser.Options{}), logger: slog.New(slog.DiscardHandler)}
	var errs []error
	for _, f := range files {
		_, e := l.Load(f, false, model.UTF8Validation)
		errs = append(errs, e...)
	}
	if len(errs) > 0 {
		return fmt.Errorf("rule_files: %w", errors.Join(errs...))
	}
	return nil
}
