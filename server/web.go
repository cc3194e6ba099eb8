package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-obs/strata/internal/httpapi"
	"github.com/strata-obs/strata/ui"
)

// The HTTP server's bounds: no request, connection or crowd of either can take the process
// down, stall it, or starve /-/healthy.
const (
	// readHeaderTimeout closes a connection that opens and sends no request (slowloris).
	readHeaderTimeout = 10 * time.Second
	// readTimeout bounds reading a whole request, body included.
	readTimeout = time.Minute
	// idleTimeout closes a keep-alive connection no request used for that long.
	idleTimeout = 2 * time.Minute
	// maxHeaderBytes bounds a request's line and headers: a GET of the longest query
	// --query.max-length allows, percent-encoded, fits.
	maxHeaderBytes = 512 << 10
	// maxBodyBytes bounds a request's body: a POSTed form of the same query.
	maxBodyBytes = 1 << 20
	// writeMargin is how long past --query.timeout an answer may take to be written.
	writeMargin = time.Minute
)

// newServer is the HTTP server of h with its timeouts. The write timeout outlasts the query
// timeout, so that an answer that took all of it is still written.
func newServer(h http.Handler, queryTimeout time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      queryTimeout + writeMargin,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
}

// limitBody bounds every request's body.
func limitBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		h.ServeHTTP(w, r)
	})
}

// limitConnections bounds the server's open connections to maxConns (--web.max-connections,
// as Prometheus has it), lowered where the process may open few files. Prometheus makes the
// connection over the limit wait until one closes, so that a crowd of idle keep-alive
// connections shuts everyone else out until they time out; here a new connection over the
// limit takes the place of the one idle the longest (or of one opened over a second ago that
// still sent nothing), and is closed at once when every other one is busy with a request. A
// client that loses an idle connection opens another when it needs one, as HTTP clients do.
// It works on the server's connection states, so that exporter-toolkit still makes the
// listeners (addresses, systemd's sockets) and serves TLS and basic auth.
func limitConnections(srv *http.Server, maxConns int, logger *slog.Logger) {
	if n := fileBoundConnections(maxConns); n < maxConns {
		logger.Warn("fewer connections than --web.max-connections: the process may open few files (ulimit -n)", "max_connections", n)
		maxConns = n
	}
	t := &connTracker{max: maxConns, conns: map[net.Conn]*connInfo{}}
	srv.ConnState = t.state
}

// fileBoundConnections is maxConns, or less when the process may not open that many files
// with room to spare: the TSDB, the scrapes and the sources need theirs, and a process out of
// descriptors fails its compactions and answers nothing, not even /-/healthy.
func fileBoundConnections(maxConns int) int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<30 {
		return maxConns
	}
	spare := max(128, int(lim.Cur)/4)
	return max(1, min(maxConns, int(lim.Cur)-spare))
}

// connTracker knows each open connection and since when it has been idle.
type connTracker struct {
	max   int
	mu    sync.Mutex
	conns map[net.Conn]*connInfo
}

type connInfo struct {
	since time.Time // when it became idle or was opened; zero while a request is served
	fresh bool      // no request read yet
}

// state follows a connection through the server's states, and makes room for a new one.
func (t *connTracker) state(c net.Conn, s http.ConnState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch s {
	case http.StateNew:
		if len(t.conns) >= t.max {
			victim := t.oldestIdle()
			if victim == nil {
				closeConn(c) // every place busy with a request: no room
				return
			}
			closeConn(victim)
			delete(t.conns, victim)
		}
		t.conns[c] = &connInfo{since: time.Now(), fresh: true}
	case http.StateActive:
		if ci := t.conns[c]; ci != nil {
			ci.since, ci.fresh = time.Time{}, false
		}
	case http.StateIdle:
		if ci := t.conns[c]; ci != nil {
			ci.since = time.Now()
		}
	case http.StateClosed, http.StateHijacked:
		delete(t.conns, c)
	}
}

// closeConn closes a connection's socket at once: a TLS connection's own Close would first
// send its peer a close_notify, which can wait seconds on a peer that reads nothing.
func closeConn(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	_ = c.Close()
}

// oldestIdle is the connection idle the longest, else a fresh one over a second old; nil when
// every one is busy.
func (t *connTracker) oldestIdle() net.Conn {
	var victim net.Conn
	var since time.Time
	for c, ci := range t.conns {
		if ci.since.IsZero() || (ci.fresh && time.Since(ci.since) < time.Second) {
			continue
		}
		if victim == nil || ci.since.Before(since) {
			victim, since = c, ci.since
		}
	}
	return victim
}

// queryPools bound the requests that evaluate something (a path query, a graph, a page,
// PromQL): each runs within --query.timeout from its arrival, and at most
// --query.max-concurrency of each pool at once; the others wait their turn within the same
// timeout. Three pools, so that one kind of work cannot hold up another: PromQL (as in
// Prometheus: a slow dashboard does not hold up the path queries of an incident), the
// topology API's queries (a mission question takes a millisecond), and the UI's pages (a fleet
// page of 10,000 hosts takes a third of a second). Health, readiness, /metrics, the sources'
// status and the UI's assets never wait.
type queryPools struct {
	timeout  time.Duration
	pools    map[string]chan struct{}
	inFlight *prometheus.GaugeVec
	duration *prometheus.HistogramVec
}

func newQueryPools(timeout time.Duration, concurrency int, reg prometheus.Registerer) *queryPools {
	p := &queryPools{timeout: timeout, pools: map[string]chan struct{}{},
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strata_queries_in_flight",
			Help: "Requests that evaluate a query, by pool (promql, topology, ui): running, or waiting for a place (--query.max-concurrency).",
		}, []string{"pool", "state"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "strata_query_duration_seconds",
			Help: "How long requests that evaluate a query took, by pool (promql, topology, ui), their wait for a place included.",
			// 1 ms to a minute (--query.timeout's default is 2m).
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}, []string{"pool"}),
	}
	for _, name := range []string{"promql", "topology", "ui"} {
		p.pools[name] = make(chan struct{}, concurrency)
		p.inFlight.WithLabelValues(name, "running")
		p.inFlight.WithLabelValues(name, "waiting")
		p.duration.WithLabelValues(name)
	}
	reg.MustRegister(p.inFlight, p.duration)
	return p
}

// pool is the pool of a request's path, nil for one that evaluates nothing.
func (p *queryPools) pool(path string) (string, chan struct{}) {
	switch {
	case path == "/metrics", strings.HasPrefix(path, "/-/"), path == "/api/v1/topology/sources", strings.HasPrefix(path, "/debug/pprof/"),
		path == "/api/v1/targets", path == "/api/v1/metadata", path == "/api/v1/rules", path == "/api/v1/alerts",
		strings.HasPrefix(path, "/api/v1/status/"), strings.HasPrefix(path, "/api/v1/admin/"), strings.HasPrefix(path, ui.AssetsPath):
		return "", nil
	case path == "/api/v1/query", path == "/api/v1/query_range", path == "/api/v1/series", path == "/api/v1/labels",
		strings.HasPrefix(path, "/api/v1/label/"), path == "/promql", path == "/api/v1/format_query", path == "/api/v1/query_exemplars":
		return "promql", p.pools["promql"]
	case strings.HasPrefix(path, "/api/"):
		return "topology", p.pools["topology"]
	}
	return "ui", p.pools["ui"]
}

func (p *queryPools) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, slots := p.pool(r.URL.Path)
		if slots == nil {
			h.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), p.timeout)
		defer cancel()
		start := time.Now()
		defer func() { p.duration.WithLabelValues(name).Observe(time.Since(start).Seconds()) }()
		waiting := p.inFlight.WithLabelValues(name, "waiting")
		waiting.Inc()
		select {
		case slots <- struct{}{}:
			waiting.Dec()
		case <-ctx.Done():
			waiting.Dec()
			if r.Context().Err() != nil {
				return // the client went away
			}
			refuse(w, r, httpapi.Timeout, fmt.Sprintf("no place to run the query within %s (--query.timeout): %d %s queries run at once (--query.max-concurrency)",
				p.timeout, cap(slots), name))
			return
		}
		running := p.inFlight.WithLabelValues(name, "running")
		running.Inc()
		defer func() { running.Dec(); <-slots }()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// refuse answers an API request with Prometheus's envelope, a page with plain text.
func refuse(w http.ResponseWriter, r *http.Request, t httpapi.ErrorType, msg string) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		httpapi.Error(w, t, msg)
		return
	}
	http.Error(w, msg, t.Status())
}

// loopbackHosts answers only requests whose Host names this machine by an IP address or as
// localhost. A web page the user opens elsewhere can make their browser send requests to a
// server on 127.0.0.1 through a name of its own that it points there (DNS rebinding), and
// read the answers as its own; such a request carries that name in its Host header.
func loopbackHosts(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
		if net.ParseIP(host) == nil && !strings.EqualFold(host, "localhost") && !strings.HasSuffix(strings.ToLower(host), ".localhost") {
			refuse(w, r, httpapi.Forbidden, "strata up answers requests to 127.0.0.1 or localhost only (Host: "+
				fmt.Sprintf("%.64q", r.Host)+"); to serve other names, run strata serve")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// allLoopback tells whether every address listens on loopback only.
func allLoopback(addresses []string) bool {
	for _, a := range addresses {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return false
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return false
		}
	}
	return len(addresses) > 0
}
