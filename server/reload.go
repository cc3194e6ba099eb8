package server

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	promconfig "github.com/prometheus/prometheus/config"

	"github.com/strata-obs/strata/topology/config"
	"github.com/strata-obs/strata/topology/source"
)

// reloads counts the configuration's reloads on /metrics, by Prometheus's names with strata's
// prefix: whether the last one took, and when the last one that took did (the start counts).
type reloads struct {
	successful prometheus.Gauge
	at         prometheus.Gauge
}

func newReloads(reg prometheus.Registerer) *reloads {
	r := &reloads{
		successful: prometheus.NewGauge(prometheus.GaugeOpts{Name: "strata_config_last_reload_successful",
			Help: "Whether the last configuration reload attempt was successful (1) or refused (0)."}),
		at: prometheus.NewGauge(prometheus.GaugeOpts{Name: "strata_config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration load (the start, or a reload)."}),
	}
	reg.MustRegister(r.successful, r.at)
	r.successful.Set(1)
	r.at.SetToCurrentTime()
	return r
}

// Reload re-reads the configuration file and applies it, as SIGHUP and POST /-/reload ask: the
// sources, scrape_configs, rule_files, alerting and the evaluation interval. Everything is
// read and checked before anything changes: a file that does not parse, a source that cannot
// be built, a rule file that does not load, or a change that only a restart applies is
// refused as a whole, and the running configuration goes on.
func (a *App) Reload() error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	err := a.reload()
	if err != nil {
		a.reloads.successful.Set(0)
		a.logger.Error("configuration reload refused; the running configuration goes on", "err", err)
		return err
	}
	a.reloads.successful.Set(1)
	a.reloads.at.SetToCurrentTime()
	a.logger.Info("configuration reloaded", "sources", len(a.opts.LBSources)+len(a.opts.FactSources))
	return nil
}

func (a *App) reload() error {
	if a.opts.Reload == nil {
		return errors.New("strata up reads no configuration file: there is nothing to reload")
	}
	next, err := a.opts.Reload()
	if err != nil {
		return err
	}
	if changed := restartOnly(a.opts.Config, next.Config); len(changed) > 0 {
		return fmt.Errorf("%s changed: strata applies %s at a restart, not a reload", strings.Join(changed, ", "), pronoun(changed))
	}
	// Checked first: nothing changes unless all of it will take.
	scrapeCfg, err := a.scrapeConfig(next.ScrapeConfigs)
	if err != nil {
		return err
	}
	var alertCfg *promconfig.Config
	var ruleFiles []string
	if a.alerting != nil {
		if alertCfg, ruleFiles, err = checkAlerting(next); err != nil {
			return err
		}
	}
	lbs, facts := keepUnchanged(a.opts, next)
	if scrapeCfg != nil || a.scraping != nil {
		if err := a.applyScraping(scrapeCfg); err != nil {
			return err
		}
	}
	if a.alerting != nil {
		if err := a.alerting.apply(next, alertCfg, ruleFiles); err != nil {
			return err
		}
	}
	a.refresher.SetSources(lbs, append(append([]source.Facts{}, a.ownFacts...), facts...))
	a.refresher.SetLifecycle(next.lifecycle())
	a.opts.LBSources, a.opts.FactSources, a.opts.ScrapeConfigs = lbs, facts, next.ScrapeConfigs
	a.opts.Lifecycle = next.Lifecycle
	a.opts.RuleFiles, a.opts.DefaultRules, a.opts.Alerting = next.RuleFiles, next.DefaultRules, next.Alerting
	a.opts.EvaluationInterval, a.opts.Config = next.EvaluationInterval, next.Config
	return nil
}

func pronoun(names []string) string {
	if len(names) == 1 {
		return "it"
	}
	return "them"
}

// restartOnly names the parts of the file that changed and that a reload does not apply:
// where strata reads and writes series, what it names itself, how often it refreshes, who may
// read what.
func restartOnly(old, next *config.Config) []string {
	if old == nil || next == nil {
		return nil
	}
	var out []string
	for _, c := range []struct {
		name      string
		old, next any
	}{
		{"prometheus", old.Prometheus, next.Prometheus},
		{"topology", old.Topology, next.Topology},
		{"global.external_labels", old.Global.ExternalLabels, next.Global.ExternalLabels},
		{"federation", old.Federation, next.Federation},
		{"auth", old.Auth, next.Auth},
	} {
		if !reflect.DeepEqual(c.old, c.next) {
			out = append(out, c.name)
		}
	}
	return out
}

// keepUnchanged is next's sources, where each one whose entry of the file did not change is
// the running source itself: a watch (Kubernetes' informers) goes on, and a rate keeps its last
// counters.
func keepUnchanged(old, next Options) ([]source.LoadBalancers, []source.Facts) {
	same := map[string]bool{} // source names whose entry is as it was
	if old.Config != nil && next.Config != nil {
		was := map[string]config.Source{}
		for _, s := range old.Config.Sources {
			was[s.Name] = s
		}
		for _, s := range next.Config.Sources {
			if w, ok := was[s.Name]; ok && w.Type == s.Type && reflect.DeepEqual(w.Spec, s.Spec) {
				same[s.Name] = true
			}
		}
	}
	return keepNamed(next.LBSources, old.LBSources, same), keepNamed(next.FactSources, old.FactSources, same)
}

// keepNamed is next, each source whose name same holds replaced by old's of that name.
func keepNamed[S interface{ Name() string }](next, old []S, same map[string]bool) []S {
	out := slices.Clone(next)
	for i, s := range out {
		if !same[s.Name()] {
			continue
		}
		if j := slices.IndexFunc(old, func(o S) bool { return o.Name() == s.Name() }); j >= 0 {
			out[i] = old[j]
		}
	}
	return out
}

// lifecycle answers POST /-/reload and POST /-/quit where --web.enable-lifecycle allows them,
// as Prometheus does: 403 otherwise.
func (a *App) lifecycle(mux *http.ServeMux) {
	disabled := func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "Lifecycle API is not enabled (--web.enable-lifecycle).", http.StatusForbidden)
	}
	for _, method := range []string{"POST", "PUT"} {
		if !a.opts.EnableLifecycle {
			mux.HandleFunc(method+" /-/reload", disabled)
			mux.HandleFunc(method+" /-/quit", disabled)
			continue
		}
		mux.HandleFunc(method+" /-/reload", func(w http.ResponseWriter, _ *http.Request) {
			if err := a.Reload(); err != nil {
				http.Error(w, "failed to reload config: "+err.Error(), http.StatusInternalServerError)
				return
			}
			fmt.Fprintln(w, "strata reloaded its configuration.")
		})
		mux.HandleFunc(method+" /-/quit", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintln(w, "Requesting termination... Goodbye!")
			a.quit()
		})
	}
}
