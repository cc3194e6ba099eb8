// Command strata joins load balancers, containers and hosts into one graph and serves it.
//
//	strata up                        everything on this machine, no configuration
//	strata serve --config.file=F     topology, storage and API for a fleet
//	strata query 'Q'                 ask a server a path query (--explain promql for its PromQL)
//	strata promql 'EXPR'             ask a server a PromQL query
//	strata plan ['HOST PATH']        ask a server the waves to patch hosts in (--check: is a wave safe now)
//	strata check config F            validate a configuration file
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"
	"github.com/prometheus/prometheus/model/labels"
	"k8s.io/klog/v2"

	"github.com/strata-obs/strata/exporter"
	"github.com/strata-obs/strata/exporter/collector"
	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/query/promql"
	"github.com/strata-obs/strata/server"
	"github.com/strata-obs/strata/topology/config"
)

func main() {
	setGOGC()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// defaultGOGC is Prometheus's own default: strata holds a TSDB head and a large graph that
// live long, and collecting a little more often keeps the heap's high-water mark a quarter
// lower for a few percent of CPU. The GOGC environment variable wins.
const defaultGOGC = 75

func setGOGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGOGC)
	}
}

// common are the flags of up and serve.
type common struct {
	web               *web.FlagConfig
	storagePath       string
	storageRetention  time.Duration
	refresh           time.Duration
	staleAfter        time.Duration
	failingErrorRatio float64
	scrapeInterval    time.Duration
	promURL           string
	remoteWriteURL    string
	remoteWriteAll    bool
	auditFile         string
	// set tells which flags the user gave: those win over the file.
	refreshSet, staleSet bool
	queryLimits          query.Limits
	queryTimeout         time.Duration
	queryMaxSamples      int
	queryConcurrency     int
	maxConnections       int
	enablePprof          bool
	enableLifecycle      bool
	enableAdminAPI       bool
}

func addCommon(cmd *kingpin.CmdClause, c *common, listen string) {
	c.web = kingpinflag.AddFlags(cmd, listen)
	cmd.Flag("storage.path", "Where the embedded TSDB keeps its data.").Default("data/").StringVar(&c.storagePath)
	cmd.Flag("storage.retention", "How long the embedded TSDB keeps samples.").Default("15d").DurationVar(&c.storageRetention)
	cmd.Flag("topology.refresh-interval", "How often the graph is rebuilt and written as series; overrides the file.").
		Default("15s").IsSetByUser(&c.refreshSet).DurationVar(&c.refresh)
	cmd.Flag("topology.stale-after", "How long a failed source's last report is kept, marked stale; overrides the file.").
		Default("5m").IsSetByUser(&c.staleSet).DurationVar(&c.staleAfter)
	cmd.Flag("topology.failing-error-ratio", "Share of an instance's requests that may fail (5xx, connection and response errors) before it is failing, whatever its health check says.").
		Default(strconv.FormatFloat(server.DefaultFailingErrorRatio, 'f', -1, 64)).Float64Var(&c.failingErrorRatio)
	cmd.Flag("scrape.interval", "Global scrape interval of the embedded scraper (default: the refresh interval).").DurationVar(&c.scrapeInterval)
	cmd.Flag("prometheus.url", "Read the exporters' series from this Prometheus (remote read) instead of the embedded TSDB; overrides the file.").StringVar(&c.promURL)
	cmd.Flag("audit.file", "Write the audit lines (one per request that reads data, where access control is on) to this file, as JSON, instead of the log.").StringVar(&c.auditFile)
	cmd.Flag("prometheus.remote-write-url", "Send the strata_topology_* series to this URL by Prometheus's remote write protocol (e.g. http://prometheus:9090/api/v1/write); overrides the file.").StringVar(&c.remoteWriteURL)
	cmd.Flag("prometheus.remote-write-exporters", "Send the exporters' series that strata scrapes by remote write too, with the external labels (or the file's prometheus.remote_write_exporters).").BoolVar(&c.remoteWriteAll)
	d := query.DefaultLimits
	cmd.Flag("query.timeout", "Longest a query (path, PromQL or page) may take, its wait for a place included.").
		Default(server.DefaultQueryTimeout.String()).DurationVar(&c.queryTimeout)
	cmd.Flag("query.max-concurrency", "Most queries that run at once in each pool (PromQL, the topology API, the UI's pages); the others wait.").
		Default(strconv.Itoa(server.DefaultQueryConcurrency)).IntVar(&c.queryConcurrency)
	cmd.Flag("query.max-samples", "Most samples a PromQL query may hold in memory at once, and steps a subquery may take.").
		Default(strconv.Itoa(promql.DefaultMaxSamples)).IntVar(&c.queryMaxSamples)
	cmd.Flag("query.max-length", "Longest query text, path or PromQL, in bytes.").Default(strconv.Itoa(d.MaxLength)).IntVar(&c.queryLimits.MaxLength)
	cmd.Flag("query.max-steps", "Most steps a path query may have.").Default(strconv.Itoa(d.MaxSteps)).IntVar(&c.queryLimits.MaxSteps)
	cmd.Flag("query.max-matchers", "Most matchers a path query may have, in its steps and where stages together.").
		Default(strconv.Itoa(d.MaxMatchers)).IntVar(&c.queryLimits.MaxMatchers)
	cmd.Flag("query.max-columns", "Most attributes a path query may project, or group one count by.").
		Default(strconv.Itoa(d.MaxColumns)).IntVar(&c.queryLimits.MaxColumns)
	cmd.Flag("query.max-stages", "Most | stages a path query may have.").Default(strconv.Itoa(d.MaxStages)).IntVar(&c.queryLimits.MaxStages)
	cmd.Flag("query.max-visited", "Most entities a path query may visit.").Default(strconv.Itoa(d.MaxVisited)).IntVar(&c.queryLimits.MaxVisited)
	cmd.Flag("query.max-results", "Most cells (rows × columns) a path query's answer, or a graph answer, may hold.").
		Default(strconv.Itoa(d.MaxResults)).IntVar(&c.queryLimits.MaxResults)
	cmd.Flag("web.max-connections", "Most connections open at once; past it, a new one takes the place of the one idle the longest.").
		Default(strconv.Itoa(server.DefaultMaxConnections)).IntVar(&c.maxConnections)
	cmd.Flag("web.enable-pprof", "Serve Go's profiles (CPU, heap, goroutines, …) under /debug/pprof/, to an admin role where access control is on.").
		BoolVar(&c.enablePprof)
	cmd.Flag("web.enable-lifecycle", "Serve POST /-/reload (read the configuration file again, as SIGHUP does) and POST /-/quit (stop gracefully), as Prometheus's flag does.").
		BoolVar(&c.enableLifecycle)
	cmd.Flag("web.enable-admin-api", "Serve POST /api/v1/admin/tsdb/snapshot (a copy of the embedded TSDB to back up), as Prometheus's flag does.").
		BoolVar(&c.enableAdminAPI)
}

func run(args []string, stdout, stderr *os.File) int {
	app := kingpin.New("strata", "strata links the load balancer to the container to the hardware.")
	app.Version(version.Print("strata"))
	app.HelpFlag.Short('h')
	app.UsageWriter(stdout)
	logConfig := &promslog.Config{}
	promslogflag.AddFlags(app, logConfig)

	up := app.Command("up", "Run everything on this machine with no configuration: this host's facts, local load balancers, the graph and the API on 127.0.0.1:9730.")
	var upFlags common
	addCommon(up, &upFlags, "127.0.0.1:9730")
	hostName := up.Flag("host.name", "This host's name in the graph (default: $NODE_NAME, else the hostname).").Envar("NODE_NAME").String()

	serve := app.Command("serve", "Serve the topology of a fleet from a configuration file.")
	var serveFlags common
	addCommon(serve, &serveFlags, ":9730")
	configFile := serve.Flag("config.file", "strata's configuration file (YAML).").Default("strata.yml").String()

	queryCmd := app.Command("query", "Ask a strata server a path query, e.g. strata query 'service{name=\"c1ps\"} -> instance[0] -> host .kernel_release'.")
	var queryFlags client
	addClient(queryCmd, &queryFlags)
	queryCmd.Flag("explain", "Print the equivalent PromQL instead of the answer.").EnumVar(&queryFlags.explain, "promql")
	queryText := queryCmd.Arg("query", "The path query.").Required().String()

	promqlCmd := app.Command("promql", "Ask a strata server a PromQL instant query.")
	var promqlFlags client
	addClient(promqlCmd, &promqlFlags)
	promqlExpr := promqlCmd.Arg("expr", "The PromQL expression.").Required().String()

	planCmd := app.Command("plan", "Ask a strata server the waves in which to patch hosts (default: those failing the lifecycle policy) so that no service drops below its healthy instances, e.g. strata plan --min-healthy 0.66 'host{zone=\"eu-1a\"}'.")
	var planOpts planFlags
	addPlan(planCmd, &planOpts)
	planHosts := planCmd.Arg("hosts", "A path to the hosts to patch (default host{lifecycle=\"fail\"}).").String()

	loginCmd := app.Command("login", "Log in to a strata server through its OpenID Connect provider, in a browser, and keep the token for strata query and strata promql.")
	var loginOpts loginFlags
	addLogin(loginCmd, &loginOpts)

	check := app.Command("check", "Check a configuration.")
	checkConfig := check.Command("config", "Validate a configuration file without starting.")
	checkFile := checkConfig.Arg("file", "The configuration file.").Required().String()

	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	logger := promslog.New(logConfig)
	if limit := setMemoryLimit(); limit > 0 && (cmd == up.FullCommand() || cmd == serve.FullCommand()) {
		logger.Info("soft memory limit from the cgroup's", "bytes", limit, "ratio", memoryLimitRatio)
	}
	// client-go (the kubernetes source) logs through klog: into the same structured log.
	klog.SetSlogLogger(logger.With("component", "client-go"))

	switch cmd {
	case queryCmd.FullCommand():
		return runQuery(queryFlags, *queryText, stdout, stderr)
	case promqlCmd.FullCommand():
		return runPromQL(promqlFlags, *promqlExpr, stdout, stderr)
	case planCmd.FullCommand():
		return runPlan(planOpts, *planHosts, stdout, stderr)
	case loginCmd.FullCommand():
		return runLogin(loginOpts, stdout, stderr)
	case checkConfig.FullCommand():
		cfg, err := config.Load(*checkFile, server.Providers())
		if err == nil {
			err = server.Check(*checkFile, cfg)
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: OK\n", *checkFile)
		return 0
	case up.FullCommand():
		opts := upOptions(upFlags, *hostName)
		opts.Announce = func(found string) { fmt.Fprintln(stdout, found) }
		return serveUntilSignal(opts, logger)
	case serve.FullCommand():
		cfg, err := config.Load(*configFile, server.Providers())
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		opts, err := serveOptions(serveFlags, cfg)
		if err != nil {
			logger.Error("strata serve", "err", err)
			return 1
		}
		opts.Reload = func() (server.Options, error) {
			cfg, err := config.Load(*configFile, server.Providers())
			if err != nil {
				return server.Options{}, err
			}
			return serveOptions(serveFlags, cfg)
		}
		return serveUntilSignal(opts, logger)
	}
	return 2
}

// serveUntilSignal serves until SIGINT or SIGTERM, reading the configuration again at each
// SIGHUP, as Prometheus does.
func serveUntilSignal(opts server.Options, logger *slog.Logger) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := server.New(ctx, opts, logger)
	if err != nil {
		logger.Error("strata stopped", "err", err)
		return 1
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				a.Reload() // it logs what it did, and /metrics says whether it took
			}
		}
	}()
	if err := a.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		logger.Error("strata stopped", "err", err)
		return 1
	}
	return 0
}

func (c common) options() server.Options {
	return server.Options{
		WebConfig: c.web, StoragePath: c.storagePath, StorageRetention: c.storageRetention,
		RefreshInterval: c.refresh, StaleAfter: c.staleAfter, ScrapeInterval: c.scrapeInterval, FailingErrorRatio: c.failingErrorRatio,
		PrometheusURL: c.promURL, RemoteWriteURL: c.remoteWriteURL, AuditFile: c.auditFile, Allowlist: config.DefaultLabelAllowlist(),
		QueryLimits: c.queryLimits, QueryTimeout: c.queryTimeout, QueryMaxSamples: c.queryMaxSamples,
		QueryConcurrency: c.queryConcurrency, MaxConnections: c.maxConnections, EnablePprof: c.enablePprof,
		EnableLifecycle: c.enableLifecycle, EnableAdminAPI: c.enableAdminAPI,
	}
}

// upOptions: this host's exporter in process, and the load balancers found on this machine.
func upOptions(c common, hostName string) server.Options {
	opts := c.options()
	exp := &exporter.Options{Collector: collector.DefaultConfig(), Enabled: collector.DefaultEnabled(), HostName: hostName}
	opts.Exporter = exp
	opts.LocalHost = exporter.HostName(*exp)
	opts.LBSources = server.LocalLBs(opts.LocalHost)
	opts.LoopbackOnly = true
	opts.DefaultRules = true
	return opts
}

// serveOptions: the sources and scrape configs of the file; flags override the file's
// prometheus settings.
func serveOptions(c common, cfg *config.Config) (server.Options, error) {
	opts := c.options()
	if c.staleSet { // the inventory holds a cut back for as long
		cfg.Topology.StaleAfter = c.staleAfter
	}
	lbs, facts, err := server.BuildSources(cfg)
	if err != nil {
		return opts, err
	}
	opts.LBSources, opts.FactSources = lbs, facts
	opts.ScrapeConfigs = string(cfg.ScrapeConfigs)
	if opts.PrometheusURL == "" {
		opts.PrometheusURL = cfg.Prometheus.URL
	}
	if opts.RemoteWriteURL == "" {
		opts.RemoteWriteURL = cfg.Prometheus.RemoteWrite
	}
	opts.RemoteWriteExporters = c.remoteWriteAll || cfg.Prometheus.RemoteWriteExporters
	if opts.RemoteWriteExporters && opts.RemoteWriteURL == "" {
		return opts, errors.New("--prometheus.remote-write-exporters sends the exporters' series by remote write: set --prometheus.remote-write-url (or the file's prometheus.remote_write) too")
	}
	opts.ExternalLabels = labels.FromMap(cfg.Global.ExternalLabels)
	opts.Global = cfg.Federation
	opts.RuleFiles, opts.DefaultRules = cfg.RuleFiles, !cfg.RuleFilesSet
	opts.Alerting, opts.ConfigDir = string(cfg.Alerting), cfg.Dir
	opts.EvaluationInterval = cfg.Global.EvaluationInterval
	opts.Lifecycle = cfg.Lifecycle
	opts.Config = cfg
	if !c.refreshSet && cfg.Topology.RefreshInterval > 0 {
		opts.RefreshInterval = cfg.Topology.RefreshInterval
	}
	if !c.staleSet && cfg.Topology.StaleAfter > 0 {
		opts.StaleAfter = cfg.Topology.StaleAfter
	}
	if cfg.Topology.LabelAllowlist != nil { // an explicit [] copies no label
		opts.Allowlist = cfg.Topology.LabelAllowlist
	}
	if opts.Auth, err = server.BuildAuth(cfg); err != nil {
		return opts, err
	}
	return opts, nil
}
