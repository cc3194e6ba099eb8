// Package exporter is strata-exporter, the node agent: it serves the collectors' facts on
// /metrics with a per-scrape deadline, plus /-/healthy and /-/ready, over HTTP or TLS and basic
// auth (--web.config.file, through prometheus/exporter-toolkit).
package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/strata-obs/strata/exporter/collector"
)

// Options are strata-exporter's settings, parsed from flags by cmd/strata-exporter.
type Options struct {
	Collector   collector.Config
	Enabled     []string // collector names
	HostName    string   // --host.name or NODE_NAME; empty: the hostname under --path.procfs
	WebConfig   *web.FlagConfig
	MetricsPath string
	// ScrapeTimeout bounds a scrape when Prometheus does not send its own timeout.
	ScrapeTimeout time.Duration
}

// Exporter runs the collectors for one host.
type Exporter struct {
	opts   Options
	set    *collector.Set
	logger *slog.Logger
	self   *prometheus.Registry // the exporter's own process and build metrics
}

// New builds the enabled collectors.
func New(opts Options, logger *slog.Logger) (*Exporter, error) {
	opts.Collector.Logger = logger
	set, err := collector.NewSet(opts.Collector, collector.Factories(), opts.Enabled)
	if err != nil {
		return nil, err
	}
	self := prometheus.NewRegistry()
	self.MustRegister(
		versioncollector.NewCollector("strata_exporter"),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	)
	if opts.ScrapeTimeout <= 0 {
		opts.ScrapeTimeout = 10 * time.Second
	}
	return &Exporter{opts: opts, set: set, logger: logger, self: self}, nil
}

// Host is the value of the host label: --host.name, else the hostname under --path.procfs.
func (e *Exporter) Host() string { return HostName(e.opts) }

// HostName is the host label opts give: --host.name, else the hostname under --path.procfs.
func HostName(opts Options) string {
	if opts.HostName != "" {
		return opts.HostName
	}
	return HostNameUnder(opts.Collector.ProcFS)
}

// HostNameUnder is the hostname the kernel under procfs reports: the one rule by which the
// exporter and strata name the host they run on.
func HostNameUnder(procfs string) string {
	if h, err := os.ReadFile(procfs + "/sys/kernel/hostname"); err == nil {
		if s := strings.TrimSpace(string(h)); s != "" {
			return s
		}
	}
	// The exporter's own hostname is the host's only when it reads the host's own /proc; in a
	// container with the host mounted elsewhere it would be the container's, a wrong join key.
	if filepath.Clean(procfs) == "/proc" {
		h, _ := os.Hostname()
		return h
	}
	return ""
}

// Gather runs one scrape of every enabled collector.
func (e *Exporter) Gather(ctx context.Context) []prometheus.Metric {
	return e.set.Gather(ctx, e.Host())
}

// scrapeCollector adapts one scrape to client_golang's Collector, so each /metrics request
// gathers with its own deadline.
type scrapeCollector struct {
	ctx context.Context
	e   *Exporter
}

func (scrapeCollector) Describe(chan<- *prometheus.Desc) {} // unchecked: label sets vary

func (s scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range s.e.Gather(s.ctx) {
		ch <- m
	}
}

// scrapeTimeout honours Prometheus's X-Prometheus-Scrape-Timeout-Seconds, less a margin to
// write the answer, up to maxScrapeTimeout; else (no header, or not a positive number) the
// configured timeout.
func (e *Exporter) scrapeTimeout(r *http.Request) time.Duration {
	if v := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"); v != "" {
		// Compared before it is converted: 1e10 seconds is past what a Duration holds, and
		// would wrap to a deadline already gone.
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs > 0 {
			return time.Duration(min(secs, maxScrapeTimeout.Seconds())*float64(time.Second)) * 9 / 10
		}
	}
	return e.opts.ScrapeTimeout
}

// maxScrapeTimeout bounds the timeout a scraper may ask for: Prometheus's own is at most its
// scrape interval, minutes at most.
const maxScrapeTimeout = 10 * time.Minute

// Handler serves /metrics, /-/healthy, /-/ready and a landing page.
func (e *Exporter) Handler() (http.Handler, error) {
	mux := http.NewServeMux()
	path := e.opts.MetricsPath
	if path == "" {
		path = "/metrics"
	}
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), e.scrapeTimeout(r))
		defer cancel()
		reg := prometheus.NewRegistry()
		reg.MustRegister(scrapeCollector{ctx, e})
		promhttp.HandlerFor(prometheus.Gatherers{reg, e.self}, promhttp.HandlerOpts{
			ErrorLog:      slog.NewLogLogger(e.logger.Handler(), slog.LevelError),
			ErrorHandling: promhttp.ContinueOnError,
		}).ServeHTTP(w, r)
	})
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "strata-exporter is Healthy.")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "strata-exporter is Ready.")
	})
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "strata-exporter",
		Description: "strata's node agent: kernel, OS image, hardware, containers and listeners of this host",
		Links: []web.LandingLinks{
			{Address: path, Text: "Metrics"},
			{Address: "/-/healthy", Text: "Health"},
		},
	})
	if err != nil {
		return nil, err
	}
	mux.Handle("/", landing)
	return mux, nil
}

// Run serves until ctx is done.
func Run(ctx context.Context, opts Options, logger *slog.Logger) error {
	e, err := New(opts, logger)
	if err != nil {
		return err
	}
	handler, err := e.Handler()
	if err != nil {
		return err
	}
	logger.Info("starting strata-exporter", "host", e.Host(), "collectors", strings.Join(e.set.Names(), ","))
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- web.ListenAndServe(srv, opts.WebConfig, logger) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}
