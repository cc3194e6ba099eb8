// Package server assembles strata serve and strata up, as Alertmanager's main wires its
// parts: the embedded TSDB (internal/store), Prometheus's scrape manager, the refresh loop
// (topology), the sources of the configuration (sources.go), the topology API (api.go),
// Prometheus's query API (query/promql), the UI (ui), and the HTTP server's limits (web.go).
// cmd/strata parses flags into Options and calls Run. Its end-to-end tests (e2e_*_test.go)
// start the whole thing against real load balancers, exporters and Prometheus.
package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
	"github.com/prometheus/exporter-toolkit/web"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery"
	_ "github.com/prometheus/prometheus/discovery/file"       // file_sd_configs in scrape_configs
	_ "github.com/prometheus/prometheus/discovery/http"       // http_sd_configs in scrape_configs
	_ "github.com/prometheus/prometheus/discovery/kubernetes" // kubernetes_sd_configs: finding the exporters of a cluster
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage"
	"golang.org/x/sync/errgroup"

	"github.com/strata-obs/strata/exporter"
	"github.com/strata-obs/strata/internal/redact"
	"github.com/strata-obs/strata/internal/store"
	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/query/promql"
	"github.com/strata-obs/strata/topology"
	"github.com/strata-obs/strata/topology/auth"
	"github.com/strata-obs/strata/topology/config"
	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/lifecycle"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/metrics"
	"github.com/strata-obs/strata/ui"
)

// Options are strata serve's and strata up's settings, from flags and the config file.
type Options struct {
	WebConfig *web.FlagConfig

	StoragePath      string
	StorageRetention time.Duration
	// PrometheusURL, when set, is read for the exporters' series (remote read) instead of the
	// embedded TSDB.
	PrometheusURL string
	// RemoteWriteURL, when set, receives the strata_topology_* series by Prometheus's remote
	// write protocol (prometheus.remote_write).
	RemoteWriteURL string
	// RemoteWriteExporters sends the scraped (exporters') series to RemoteWriteURL too.
	RemoteWriteExporters bool
	// ExternalLabels (global.external_labels) are on every strata_topology_* series written and
	// sent; their `cluster` is every entity's attribute.
	ExternalLabels labels.Labels
	// Global (federation.enabled) makes this a global strata: no sources of its own, one graph
	// of every site read from the store at PrometheusURL through its query API (Thanos Query
	// serves no remote read), now and at a past time.
	Global bool

	RefreshInterval time.Duration // --topology.refresh-interval
	StaleAfter      time.Duration // --topology.stale-after
	// FailingErrorRatio is --topology.failing-error-ratio (0: DefaultFailingErrorRatio).
	FailingErrorRatio float64
	Allowlist         []string

	// ScrapeConfigs is the YAML of a Prometheus configuration's scrape_configs list.
	ScrapeConfigs string
	// ScrapeInterval is the global scrape interval of the embedded scraper.
	ScrapeInterval time.Duration

	LBSources []source.LoadBalancers
	// FactSources are read besides the series in the storage (the inventory's hosts).
	FactSources []source.Facts
	// Exporter, when set (strata up), runs strata-exporter's collectors in this process and
	// scrapes them.
	Exporter *exporter.Options

	LocalHost string

	// QueryLimits and QueryTimeout bound a path query (--query.*); QueryTimeout, the length
	// limit, QueryMaxSamples and QueryConcurrency a PromQL one too.
	QueryLimits      query.Limits
	QueryTimeout     time.Duration
	QueryMaxSamples  int // --query.max-samples
	QueryConcurrency int // --query.max-concurrency: of each pool (PromQL; path queries and pages)

	// MaxConnections bounds the open connections (--web.max-connections).
	MaxConnections int
	// EnablePprof (--web.enable-pprof) serves Go's profiles under /debug/pprof/, to an admin
	// role where access control is on.
	EnablePprof bool
	// LoopbackOnly, where every listen address is a loopback one, answers only requests
	// addressed to an IP address or localhost: strata up's defence against DNS rebinding.
	LoopbackOnly bool

	// Auth, when set, asks every request but the health checks who it is, and narrows what it
	// reads to its role's scope (server/auth.go); nil: everyone reads everything.
	Auth *auth.Authenticator
	// AuditFile, when set, receives the audit lines as JSON instead of the log (--audit.file).
	AuditFile string

	// RuleFiles are the globs of the rules evaluated over the embedded TSDB (rule_files), and
	// DefaultRules adds strata's shipped ones (dashboards/rules): a file without rule_files.
	RuleFiles    []string
	DefaultRules bool
	// Alerting is the YAML of Prometheus's alerting block: where the alerts are sent.
	Alerting string
	// EvaluationInterval is how often the rules are evaluated (global.evaluation_interval).
	EvaluationInterval time.Duration
	// ConfigDir is the configuration file's directory, the base of relative paths in Alerting.
	ConfigDir string
	// Lifecycle is the policy hosts are held to (the lifecycle block); nil: the support end of
	// their OS alone, from the shipped data.
	Lifecycle *lifecycle.Policy

	// Config is the configuration file these options were made of (nil: strata up), and
	// Reload reads it again into new options (SIGHUP, POST /-/reload); nil: nothing to reload.
	Config *config.Config
	Reload func() (Options, error)
	// Announce, when set, is told where to open strata and what the first refresh found
	// (strata up prints it: make run's first words).
	Announce func(string)

	// EnableLifecycle (--web.enable-lifecycle) serves POST /-/reload and /-/quit.
	EnableLifecycle bool
	// EnableAdminAPI (--web.enable-admin-api) serves POST /api/v1/admin/tsdb/snapshot.
	EnableAdminAPI bool
}

// lifecycle is the policy the refresh holds hosts to: the lifecycle block's, else the support
// end of their OS alone.
func (o Options) lifecycle() *lifecycle.Policy { return cmp.Or(o.Lifecycle, &lifecycle.Policy{}) }

// Defaults of the Options that bound the server.
const (
	DefaultQueryTimeout     = 2 * time.Minute
	DefaultQueryConcurrency = 4
	DefaultMaxConnections   = 512 // Prometheus's
	// DefaultFailingErrorRatio is the share of failed requests that makes an instance failing.
	DefaultFailingErrorRatio = topology.DefaultFailingErrorRatio
)

// App is a running strata serve or up.
type App struct {
	opts      Options
	logger    *slog.Logger
	reg       *prometheus.Registry
	db        *store.Storage
	sink      storage.Appendable // what scrapes and refreshes append to: db, or db fanned out to remote
	remote    *remoteWrite       // nil without a remote write URL
	refresher *topology.Refresher
	ready     atomic.Bool
	ui        *ui.UI
	scopedUI  *ui.UI       // for a role with a scope: its graph and series, no sources, no journal (server/auth.go)
	audit     *slog.Logger // the audit lines' log: the log, or --audit.file
	auditFile *os.File
	series    storage.Queryable // the embedded TSDB, as the request's identity may read it
	// history is where a past graph is read from (the embedded TSDB, and prometheus.url).
	history storage.Queryable
	// promAPI is Prometheus's query API over the embedded TSDB, or proxied to prometheus.url.
	promAPI   interface{ Register(*http.ServeMux) }
	promql    *promql.Engine
	pools     *queryPools
	gatherers prometheus.Gatherers // /metrics: strata's, and the TSDB's
	health    prometheus.Gatherers // the same but the graph's series: what strata scrapes of itself
	alerting  *alerting            // nil where another Prometheus evaluates the rules
	sdMetrics *discovery.SDMetrics
	scraping  *scraping      // nil until there is something to scrape
	ownFacts  []source.Facts // the fact sources of strata's own (the series it reads), before the file's
	reloads   *reloads
	reloadMu  sync.Mutex // one reload at a time
	// runCtx and group are Run's, for what a reload starts; quit ends Run.
	runCtx context.Context
	group  *errgroup.Group
	quit   func()
	// selfScrape is the scrape config of the in-process exporter (strata up), before the file's.
	selfScrape string
}

// scraping is Prometheus's discovery and scrape managers, running.
type scraping struct {
	discovery *discovery.Manager
	scrape    *scrape.Manager
}

// Run serves until ctx is done.
func Run(ctx context.Context, opts Options, logger *slog.Logger) error {
	a, err := New(ctx, opts, logger)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// New opens the storage and builds the sources.
func New(_ context.Context, opts Options, logger *slog.Logger) (*App, error) {
	if opts.FailingErrorRatio < 0 || opts.FailingErrorRatio > 1 {
		return nil, fmt.Errorf("--topology.failing-error-ratio %v: want a share of the requests, above 0 and at most 1", opts.FailingErrorRatio)
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = 15 * time.Second
	}
	if err := topology.CheckExternalLabels(opts.ExternalLabels); err != nil {
		return nil, fmt.Errorf("global.external_labels: %w", err)
	}
	if opts.ScrapeInterval <= 0 {
		opts.ScrapeInterval = opts.RefreshInterval
	}
	if opts.EvaluationInterval <= 0 {
		opts.EvaluationInterval = time.Minute // Prometheus's
	}
	if opts.LocalHost == "" {
		opts.LocalHost = exporter.HostNameUnder("/proc")
	}
	opts.QueryLimits = opts.QueryLimits.OrDefaults()
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = DefaultQueryTimeout
	}
	if opts.QueryConcurrency <= 0 {
		opts.QueryConcurrency = DefaultQueryConcurrency
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = DefaultMaxConnections
	}
	if w := opts.WebConfig; w == nil || w.WebListenAddresses == nil || (w.WebSystemdSocket != nil && *w.WebSystemdSocket) ||
		!allLoopback(*w.WebListenAddresses) {
		opts.LoopbackOnly = false
		if opts.Auth == nil {
			logger.Warn("no access control: anyone who reaches strata's port reads every load balancer, host and container; give the configuration file an auth: block")
		}
	}
	a := &App{opts: opts, logger: logger, reg: prometheus.NewRegistry(), audit: logger}
	a.reg.MustRegister(versioncollector.NewCollector("strata"), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	db, err := store.OpenReopenable(store.Options{Path: opts.StoragePath, Retention: opts.StorageRetention}, logger)
	if err != nil {
		return nil, err
	}
	a.db = db
	// /metrics: strata's health, the graph's series, the TSDB's metrics and its write
	// failures; strata's own scrape (health) the same but the graph, which it writes itself.
	graphReg := prometheus.NewRegistry()
	a.gatherers = prometheus.Gatherers{a.reg, graphReg, db}
	a.health = prometheus.Gatherers{a.reg, db}

	var facts storage.Queryable = db
	a.history = db
	a.promql = promql.NewEngine(promql.APIOptions{Timeout: opts.QueryTimeout, MaxSamples: opts.QueryMaxSamples,
		MaxLength: opts.QueryLimits.MaxLength}, logger)
	a.series = db
	if opts.Auth != nil { // a scoped role's PromQL reads its series alone (server/auth.go)
		a.series = opts.Auth.Queryable(db, func() *graph.Graph { g, _ := a.refresher.Graph(); return g })
	}
	local := promql.NewAPIWith(a.series, a.promql, logger)
	local.SetScrapes(promql.Scrapes{Own: topologyMetadata()})
	a.promAPI = local
	if opts.Global {
		if opts.PrometheusURL == "" {
			db.Close()
			return nil, errors.New("federation.enabled: a global strata reads every site from a shared store: set prometheus.url to its query API")
		}
		if len(opts.LBSources)+len(opts.FactSources) > 0 || opts.Exporter != nil || opts.ScrapeConfigs != "" {
			db.Close()
			return nil, errors.New("federation.enabled: a global strata has no sources or scrape configs of its own (they would be a site: give them to a site's strata)")
		}
		q, err := store.QueryAPIReader(opts.PrometheusURL, opts.QueryTimeout)
		if err != nil {
			db.Close()
			return nil, err
		}
		a.history, facts = q, q
		if a.promAPI, err = promql.NewProxy(opts.PrometheusURL); err != nil {
			db.Close()
			return nil, err
		}
	} else if opts.PrometheusURL != "" {
		q, err := store.RemoteReader(opts.PrometheusURL)
		if err != nil {
			db.Close()
			return nil, err
		}
		facts = q
		a.history = store.MergedHistory(db, q)
		if a.promAPI, err = promql.NewProxy(opts.PrometheusURL); err != nil {
			db.Close()
			return nil, err
		}
	}
	a.sink = db
	if opts.RemoteWriteURL != "" {
		if a.remote, err = newRemoteWrite(opts.RemoteWriteURL, opts.RemoteWriteExporters, opts.ExternalLabels, db, a.reg, logger); err != nil {
			db.Close()
			return nil, err
		}
		a.sink = storage.NewFanout(logger, db, a.remote)
	}
	a.ownFacts = []source.Facts{metrics.New("metrics", facts, 5*time.Minute)}
	a.refresher = topology.NewRefresher(topology.RefresherOptions{
		LBSources:         opts.LBSources,
		FactSources:       append(append([]source.Facts{}, a.ownFacts...), opts.FactSources...),
		ScrapedTraffic:    metrics.NewScrapedTraffic(facts, 5*time.Minute).Fill,
		LocalHost:         opts.LocalHost,
		StaleAfter:        opts.StaleAfter,
		FailingErrorRatio: opts.FailingErrorRatio,
		ExternalLabels:    opts.ExternalLabels,
		Global:            a.global(),
		Writer:            writerName(opts),
		Timeout:           refreshTimeout(opts),
		Allowlist:         opts.Allowlist,
		Sink:              a.sink,
		Lifecycle:         opts.lifecycle(),
	}, logger)
	graphReg.MustRegister(a.refresher.Collector())
	a.reg.MustRegister(a.refresher.HealthCollector())
	a.reloads = newReloads(a.reg)
	a.pools = newQueryPools(opts.QueryTimeout, opts.QueryConcurrency, a.reg)
	if a.ui, err = ui.New(ui.Options{Graphs: graphs{r: a.refresher, history: a.history, sites: opts.Global}, Limits: opts.QueryLimits, Series: db, PromQL: a.promql,
		Status: a.uiStatus, Changes: a.refresher.Changes, Who: who}, logger); err != nil {
		db.Close()
		return nil, err
	}
	if opts.Auth != nil {
		opts.Auth.SetLogger(logger)
		if a.scopedUI, err = a.newScopedUI(logger); err != nil {
			db.Close()
			return nil, err
		}
	}
	if opts.AuditFile != "" { // last: nothing after it fails and leaves it open
		f, err := os.OpenFile(opts.AuditFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("--audit.file: %w", err)
		}
		a.auditFile, a.audit = f, slog.New(slog.NewJSONHandler(f, nil))
	}
	return a, nil
}

// prepareUI has the UI compute what its pages keep per graph (the search index, the
// fleet's counts) as soon as the refresh loop makes a new graph, rather than on the first
// request after it: on a large fleet that is seconds no one waits for.
func (a *App) prepareUI(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var last *graph.Graph
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if g, _ := a.refresher.Graph(); g != last && a.refresher.Refreshed() {
			if a.opts.Auth != nil {
				a.opts.Auth.Prepare(g) // each role's view first: its queries wait on it
				a.scopedUI.Advance(g)
			}
			a.ui.Prepare(g)
			last = g
		}
	}
}

// uiStatus is the refresh loop's state as the landing page shows it.
func (a *App) uiStatus() ui.Status {
	st := ui.Status{Refreshed: a.refresher.Refreshed(), LastRefresh: a.refresher.LastFinished(), LastDuration: a.refresher.LastDuration()}
	for _, s := range a.refresher.Sources() {
		st.Sources = append(st.Sources, ui.SourceState{Name: s.Name, Kind: s.Kind, Up: s.Up, LastSeen: s.LastSeen, Error: s.Error})
	}
	return st
}

// Refresher is the app's refresh loop (tests and the query engine read its graph).
func (a *App) Refresher() *topology.Refresher { return a.refresher }

// Storage is the app's embedded TSDB.
func (a *App) Storage() storage.Storage { return a.db }

// errPromQLScoped refuses compare's promql= to a role with a scope when the series are the
// shared store's.
var errPromQLScoped = errors.New("this role has a scope, and compare's promql= reads prometheus.url, whose series it cannot narrow: give q (a path) instead")

// comparePromQL evaluates compare's promql= over series. The shared store (shared) is not
// narrowed to a role's scope: its answer, or its error, would tell of series outside the scope,
// so only an admin, or anyone without auth, asks it.
func comparePromQL(e *promql.Engine, series storage.Queryable, shared bool) func(ctx context.Context, expr string, at time.Time) ([]store.Sample, error) {
	return func(ctx context.Context, expr string, at time.Time) ([]store.Sample, error) {
		if id, ok := auth.FromContext(ctx); ok && !id.Admin && shared {
			return nil, errPromQLScoped
		}
		return e.EvalInstant(ctx, series, expr, at)
	}
}

// Handler serves the API, /metrics and the health endpoints: every request's body bounded,
// every query's time and concurrency (queryPools), and with LoopbackOnly, names other than
// localhost refused.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	// compare's promql= reads what PromQL reads: this strata's series, as the request's role may,
	// or the shared store's.
	series := a.series
	if a.opts.PrometheusURL != "" {
		series = a.history
	}
	api := NewAPI(a.refresher, APIOptions{History: a.history, Sites: a.opts.Global, Limits: a.opts.QueryLimits, Timeout: a.opts.QueryTimeout, View: a.view,
		PromQL: comparePromQL(a.promql, series, a.opts.PrometheusURL != "")})
	api.Register(mux)
	a.promAPI.Register(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.gatherers, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "strata is Healthy.") })
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if err := a.notReady(); err != nil {
			http.Error(w, "strata is not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "strata is Ready.")
	})
	mux.Handle("GET /", a.uiFor()) // the UI: every other page
	a.lifecycle(mux)
	a.admin(mux)
	if a.opts.EnablePprof {
		registerPprof(mux)
	}
	if a.opts.Auth != nil {
		mux.HandleFunc("GET /auth/login", a.login)
		mux.HandleFunc("POST /auth/login", a.login)
		mux.HandleFunc("POST /auth/logout", a.logout)
		mux.HandleFunc("GET /auth/callback", a.callback)
		mux.HandleFunc("POST /auth/token", a.cliToken)
	}
	h := a.pools.wrap(mux)
	if a.opts.Auth != nil {
		h = a.authenticate(h)
	}
	if a.opts.LoopbackOnly {
		h = loopbackHosts(h)
	}
	return limitBody(h)
}

// topologyMetadata is the metadata of the series strata writes itself, which no target reports:
// gauges, with their help.
func topologyMetadata() map[string]promql.Metadata {
	out := map[string]promql.Metadata{}
	for name, help := range topology.FamilyHelps() {
		out[name] = promql.Metadata{Type: string(model.MetricTypeGauge), Help: help}
	}
	return out
}

// registerPprof serves Go's profiles as net/http/pprof does, but for the command line, which
// may hold a secret (a password in --prometheus.url).
func registerPprof(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index) // and each named profile: heap, goroutine, …
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/cmdline", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not served: the command line may hold a secret", http.StatusNotFound)
	})
}

// notReady says why strata cannot serve what it should, or nil: before the first refresh, with
// storage it cannot write (its history stops, a restart may lose data), or with a refresh loop
// that stopped refreshing (the graph served grows old).
func (a *App) notReady() error {
	if !a.ready.Load() {
		return errors.New("the first refresh has not finished")
	}
	if err := a.db.Problem(); err != nil {
		return err
	}
	stalled := max(3*a.opts.RefreshInterval, time.Minute)
	if last := a.refresher.LastFinished(); time.Since(last) > stalled {
		return fmt.Errorf("no refresh has finished since %s (%s ago)", last.UTC().Format(time.RFC3339), time.Since(last).Round(time.Second))
	}
	return nil
}

// Run scrapes, refreshes and serves until ctx is done, then closes the storage.
func (a *App) Run(ctx context.Context) error {
	defer func() {
		// The last refresh's series are in the write-ahead log already; closing makes the
		// next start's replay short.
		if err := a.db.Close(); err != nil {
			a.logger.Error("close the TSDB", "err", err)
			return
		}
		a.logger.Info("strata stopped: the TSDB is closed", "path", a.opts.StoragePath)
	}()
	if a.auditFile != nil {
		defer a.auditFile.Close()
	}
	if a.remote != nil {
		defer a.remote.Close() // before the TSDB's: stop tailing its WAL, then close it
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	a.runCtx, a.group, a.quit = ctx, g, cancel

	own, err := a.serveOwnHealth(ctx, g)
	if err != nil {
		return err
	}
	a.selfScrape = own
	if a.opts.Exporter != nil {
		self, err := a.serveExporter(ctx, g)
		if err != nil {
			return err
		}
		a.selfScrape += self
	}
	scrapeCfg, err := a.scrapeConfig(a.opts.ScrapeConfigs)
	if err != nil {
		return err
	}
	if scrapeCfg != nil {
		if err := a.applyScraping(scrapeCfg); err != nil {
			return err
		}
	}
	waitScrape := a.opts.Exporter != nil || strings.TrimSpace(a.opts.ScrapeConfigs) != ""

	if err := a.startAlerting(ctx, g); err != nil {
		return err
	}
	g.Go(func() error { a.db.Watch(ctx, 10*time.Second); return nil })
	changed := a.refresher.Watch(ctx)
	g.Go(func() error {
		// Let the first scrape land before the first refresh reads it.
		if waitScrape {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(min(7*time.Second, a.opts.RefreshInterval)):
			}
		}
		if a.remote != nil && !a.remote.waitTailing(ctx) {
			return nil
		}
		a.refresher.Refresh(ctx)
		a.ready.Store(true)
		a.refresher.Loop(ctx, a.opts.RefreshInterval, changed)
		return nil
	})
	g.Go(func() error { a.prepareUI(ctx); return nil })
	if a.opts.Announce != nil {
		g.Go(func() error { a.announce(ctx); return nil })
	}

	srv := newServer(a.Handler(), a.opts.QueryTimeout)
	limitConnections(srv, a.opts.MaxConnections, a.logger)
	g.Go(func() error {
		err := web.ListenAndServe(srv, a.opts.WebConfig, a.logger)
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	})
	g.Go(func() error {
		<-ctx.Done()
		a.logger.Info("stopping: the refresh and rule evaluations in progress end, queued alerts are sent, then the TSDB closes")
		// Longer than the 5 s net/http waits out a connection that never sent a request (a
		// client's spare dial): such a connection must not fail the stop.
		shutdown, c := context.WithTimeout(context.Background(), 8*time.Second)
		defer c()
		if err := srv.Shutdown(shutdown); errors.Is(err, context.DeadlineExceeded) {
			a.logger.Warn("connections still busy at the stop: closed", "waited", "8s")
			return srv.Close()
		} else if err != nil {
			return err
		}
		return nil
	})
	return g.Wait()
}

// serveExporter runs strata-exporter's collectors in this process behind a unix socket that
// only this process may open, and returns the scrape configuration of that socket.
func (a *App) serveExporter(ctx context.Context, g *errgroup.Group) (string, error) {
	e, err := exporter.New(*a.opts.Exporter, a.logger.With("component", "exporter"))
	if err != nil {
		return "", fmt.Errorf("exporter: %w", err)
	}
	h, err := e.Handler()
	if err != nil {
		return "", err
	}
	sock, err := serveSocket(ctx, g, "exporter", h)
	if err != nil {
		return "", err
	}
	return selfScrapeConfig("strata-exporter", sock), nil
}

// serveOwnHealth serves strata's own health (a.health: /metrics but the graph's series, which
// every refresh writes already) behind a unix socket, for the embedded scraper: the "strata
// itself" dashboard and alerts read it from strata's own TSDB, as Prometheus scrapes itself.
func (a *App) serveOwnHealth(ctx context.Context, g *errgroup.Group) (string, error) {
	sock, err := serveSocket(ctx, g, "strata", promhttp.HandlerFor(a.health, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	if err != nil {
		return "", err
	}
	return selfScrapeConfig("strata-self", sock), nil
}

// serveSocket serves h on a unix socket in a directory of mode 0700 that only this process
// may open, until ctx ends: a port on 127.0.0.1 would answer every local user, past
// --web.config.file's TLS and basic auth.
func serveSocket(ctx context.Context, g *errgroup.Group, name string, h http.Handler) (string, error) {
	dir, err := os.MkdirTemp("", "strata-"+name+"-")
	if err != nil {
		return "", fmt.Errorf("%s socket: %w", name, err)
	}
	sock := filepath.Join(dir, name+".sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("%s socket: %w", name, err)
	}
	srv := newServer(h, exporterTimeout)
	g.Go(func() error {
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error { <-ctx.Done(); err := srv.Close(); os.RemoveAll(dir); return err })
	return sock, nil
}

// exporterTimeout bounds a scrape of an in-process socket.
const exporterTimeout = 30 * time.Second

// selfScrapeConfig scrapes an in-process socket (Prometheus's __unix_socket__) as job, its
// instance label the job's name too.
func selfScrapeConfig(job, sock string) string {
	return fmt.Sprintf("- job_name: %s\n  static_configs:\n  - targets: [%s]\n    labels: {__unix_socket__: %q}\n", job, job, sock)
}

// scrapeConfig is the Prometheus configuration of what strata scrapes: the in-process
// exporter's (strata up) and the file's scrape_configs; nil when there is nothing.
func (a *App) scrapeConfig(scrapeConfigs string) (*promconfig.Config, error) {
	scrapeYAML := a.selfScrape + scrapeConfigs
	if strings.TrimSpace(scrapeYAML) == "" {
		return nil, nil
	}
	cfgText := fmt.Sprintf("global:\n  scrape_interval: %s\n  scrape_timeout: %s\nscrape_configs:\n%s",
		model.Duration(a.opts.ScrapeInterval), model.Duration(min(a.opts.ScrapeInterval, 10*time.Second)), indent(scrapeYAML))
	cfg, err := promconfig.Load(cfgText, a.logger)
	if err != nil {
		return nil, fmt.Errorf("scrape_configs: %s", redact.YAML(err.Error())) // Prometheus's parser quotes values, passwords too
	}
	if _, err := cfg.GetScrapeConfigs(); err != nil {
		return nil, fmt.Errorf("scrape_configs: %s", redact.YAML(err.Error()))
	}
	return cfg, nil
}

// applyScraping hands cfg (nil: nothing to scrape) to Prometheus's discovery and scrape
// managers, started the first time there is something to scrape, appending to the sink.
func (a *App) applyScraping(cfg *promconfig.Config) error {
	if cfg == nil { // no scrape configs, Prometheus's defaults
		var err error
		if cfg, err = promconfig.Load("", a.logger); err != nil {
			return err
		}
	}
	if a.scraping == nil {
		sdMetrics, err := a.discoveryMetrics()
		if err != nil {
			return err
		}
		dm := discovery.NewManager(a.runCtx, a.logger.With("component", "discovery"), a.reg, sdMetrics, discovery.Updatert(time.Second))
		if dm == nil {
			return errors.New("discovery manager")
		}
		sm, err := scrape.NewManager(&scrape.Options{DiscoveryReloadInterval: model.Duration(time.Second)},
			a.logger.With("component", "scrape"), nil, a.sink, nil, a.reg)
		if err != nil {
			return err
		}
		a.scraping = &scraping{discovery: dm, scrape: sm}
		ctx := a.runCtx
		a.group.Go(func() error { return dm.Run() })
		a.group.Go(func() error { return sm.Run(dm.SyncCh()) })
		a.group.Go(func() error { <-ctx.Done(); sm.Stop(); return nil })
		if local, ok := a.promAPI.(*promql.API); ok { // what /api/v1/targets and /api/v1/metadata answer
			local.SetScrapes(promql.Scrapes{Active: sm.TargetsActive, Own: topologyMetadata()})
		}
	}
	sdConfigs := map[string]discovery.Configs{}
	scfgs, err := cfg.GetScrapeConfigs()
	if err != nil {
		return err
	}
	for _, sc := range scfgs {
		sdConfigs[sc.JobName] = sc.ServiceDiscoveryConfigs
	}
	if err := a.scraping.discovery.ApplyConfig(sdConfigs); err != nil {
		return err
	}
	return a.scraping.scrape.ApplyConfig(cfg)
}

// discoveryMetrics are the service discoveries' metrics, registered once for the discovery
// managers of the scrapes and of the Alertmanagers.
func (a *App) discoveryMetrics() (*discovery.SDMetrics, error) {
	if a.sdMetrics == nil {
		m, err := discovery.CreateAndRegisterSDMetrics(a.reg)
		if err != nil {
			return nil, err
		}
		a.sdMetrics = m
	}
	return a.sdMetrics, nil
}

func indent(yaml string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(yaml, "\n"), "\n") {
		b.WriteString("  " + line + "\n")
	}
	return b.String()
}

// global is the refresh of a global strata (Options.Global): every site's graph read from the
// store; nil for a site's strata.
func (a *App) global() func(ctx context.Context, now time.Time) (*graph.Graph, []string, error) {
	if !a.opts.Global {
		return nil
	}
	g := &topology.Global{Store: a.history, StaleAfter: cmp.Or(a.opts.StaleAfter, 5*time.Minute)}
	a.reg.MustRegister(g.Collector())
	return g.Graph
}

// refreshTimeout bounds a refresh's sources: two thirds of the interval, so that a slow source
// does not delay the next. A global strata's one read of every site from the store is bounded
// as a query is (--query.timeout): a large estate's read may outlast the interval, which only
// delays the next.
func refreshTimeout(opts Options) time.Duration {
	if opts.Global {
		return max(opts.QueryTimeout, time.Second)
	}
	return max(opts.RefreshInterval*2/3, time.Second)
}

// writerName names this strata among the site's writers to a shared store (its host and listen
// address), when it names its site: a global strata warns of two that claim one cluster.
func writerName(opts Options) string {
	if opts.ExternalLabels.Get(topology.ClusterLabel) == "" {
		return ""
	}
	addr := ""
	if w := opts.WebConfig; w != nil && w.WebListenAddresses != nil && len(*w.WebListenAddresses) > 0 {
		addr = (*w.WebListenAddresses)[0]
	}
	return opts.LocalHost + "/" + addr
}
