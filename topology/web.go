package topology

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/mdlayher/vsock"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"

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

// serve listens where flags say (the addresses, or systemd's sockets), each listener holding
// at most maxConns connections, and serves srv with exporter-toolkit's TLS and basic auth
// (--web.config.file) until the server is shut down.
func serve(srv *http.Server, flags *web.FlagConfig, maxConns int, logger *slog.Logger) error {
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	if flags.WebSystemdSocket != nil && *flags.WebSystemdSocket {
		ls, err := activation.Listeners()
		if err != nil {
			return err
		}
		if len(ls) == 0 {
			return errors.New("no socket activation file descriptors found")
		}
		listeners = ls
	} else {
		for _, address := range *flags.WebListenAddresses {
			var (
				l   net.Listener
				err error
			)
			if strings.HasPrefix(address, "vsock://") {
				l, err = listenVsock(address)
			} else {
				l, err = net.Listen("tcp", address)
			}
			if err != nil {
				return err
			}
			listeners = append(listeners, l)
		}
	}
	if n := fileBoundConnections(maxConns); n < maxConns {
		logger.Warn("fewer connections than --web.max-connections: the process may open few files (ulimit -n)", "max_connections", n)
		maxConns = n
	}
	tracker := &connTracker{}
	srv.ConnState = tracker.state
	limited := make([]net.Listener, len(listeners))
	for i, l := range listeners {
		limited[i] = newConnLimit(l, maxConns, tracker)
	}
	return web.ServeMultiple(limited, srv, flags, logger)
}

func listenVsock(address string) (net.Listener, error) {
	_, port, err := net.SplitHostPort(strings.TrimPrefix(address, "vsock://"))
	if err != nil {
		return nil, fmt.Errorf("vsock address %s: %w", address, err)
	}
	var p uint32
	if _, err := fmt.Sscan(port, &p); err != nil {
		return nil, fmt.Errorf("vsock address %s: port: %w", address, err)
	}
	return vsock.Listen(p, nil)
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

// connLimit bounds a listener's open connections (--web.max-connections, as Prometheus has
// it). Prometheus makes the connection over the limit wait until one closes, so that a crowd
// of idle keep-alive connections shuts everyone else out until they time out; here the
// connection over the limit takes the place of the one idle the longest (or of one opened
// over a second ago that still sent nothing): a client in the middle of a request keeps its
// connection, a client that holds an idle one loses it and, as HTTP clients do, opens another
// when it needs one.
type connLimit struct {
	net.Listener
	max     int
	tracker *connTracker
	closed  chan struct{}
	once    sync.Once
}

func newConnLimit(l net.Listener, maxConns int, t *connTracker) *connLimit {
	return &connLimit{Listener: l, max: maxConns, tracker: t, closed: make(chan struct{})}
}

// Accept makes room, then accepts. The server calls it from one goroutine.
func (l *connLimit) Accept() (net.Conn, error) {
	for {
		victim, full := l.tracker.room(l, l.max)
		if !full {
			break
		}
		if victim != nil {
			victim.Close()
			continue
		}
		select {
		case <-l.tracker.freed:
		case <-l.closed:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.tracker.add(l, c), nil
}

func (l *connLimit) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// connTracker knows each open connection of the limited listeners and whether it is busy,
// from the server's ConnState hook.
type connTracker struct {
	mu    sync.Mutex
	conns map[*trackedConn]struct{}
	freed chan struct{} // one signal per close, dropped when nobody waits
}

type trackedConn struct {
	net.Conn
	t     *connTracker
	owner *connLimit
	once  sync.Once
	// since is when the connection became idle or new; zero while a request is served.
	since time.Time
	fresh bool // no request read yet
}

func (t *connTracker) add(owner *connLimit, c net.Conn) net.Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conns == nil {
		t.conns = map[*trackedConn]struct{}{}
		t.freed = make(chan struct{}, 1)
	}
	tc := &trackedConn{Conn: c, t: t, owner: owner, since: time.Now(), fresh: true}
	t.conns[tc] = struct{}{}
	return tc
}

// room tells whether owner is full and, if so, which connection to close for a new one: the
// one idle the longest, else a fresh one over a second old; nil when all are busy.
func (t *connTracker) room(owner *connLimit, maxConns int) (victim *trackedConn, full bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.freed == nil {
		t.freed = make(chan struct{}, 1)
	}
	n := 0
	var oldest *trackedConn
	for c := range t.conns {
		if c.owner != owner {
			continue
		}
		n++
		if c.since.IsZero() || (c.fresh && time.Since(c.since) < time.Second) {
			continue
		}
		if oldest == nil || c.since.Before(oldest.since) {
			oldest = c
		}
	}
	if n < maxConns {
		return nil, false
	}
	return oldest, true
}

// state follows a connection through the server's states.
func (t *connTracker) state(c net.Conn, s http.ConnState) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	tc, ok := c.(*trackedConn)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch s {
	case http.StateActive:
		tc.since, tc.fresh = time.Time{}, false
	case http.StateIdle:
		tc.since = time.Now()
	}
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.t.mu.Lock()
		delete(c.t.conns, c)
		c.t.mu.Unlock()
		select {
		case c.t.freed <- struct{}{}:
		default:
		}
	})
	return err
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
}

func newQueryPools(timeout time.Duration, concurrency int, reg prometheus.Registerer) *queryPools {
	p := &queryPools{timeout: timeout, pools: map[string]chan struct{}{},
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strata_queries_in_flight",
			Help: "Requests that evaluate a query, by pool (promql, topology, ui): running, or waiting for a place (--query.max-concurrency).",
		}, []string{"pool", "state"}),
	}
	for _, name := range []string{"promql", "topology", "ui"} {
		p.pools[name] = make(chan struct{}, concurrency)
		p.inFlight.WithLabelValues(name, "running")
		p.inFlight.WithLabelValues(name, "waiting")
	}
	reg.MustRegister(p.inFlight)
	return p
}

// pool is the pool of a request's path, nil for one that evaluates nothing.
func (p *queryPools) pool(path string) (string, chan struct{}) {
	switch {
	case path == "/metrics", strings.HasPrefix(path, "/-/"), path == "/api/v1/topology/sources",
		strings.HasPrefix(path, "/api/v1/status/"), strings.HasPrefix(path, ui.AssetsPath):
		return "", nil
	case path == "/api/v1/query", path == "/api/v1/query_range", path == "/api/v1/series", path == "/api/v1/labels",
		strings.HasPrefix(path, "/api/v1/label/"), path == "/promql":
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
			refuse(w, r, http.StatusServiceUnavailable, "timeout", fmt.Sprintf("no place to run the query within %s (--query.timeout): %d %s queries run at once (--query.max-concurrency)",
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
func refuse(w http.ResponseWriter, r *http.Request, code int, errType, msg string) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeError(w, code, errType, msg)
		return
	}
	http.Error(w, msg, code)
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
			refuse(w, r, http.StatusForbidden, "forbidden", "strata up answers requests to 127.0.0.1 or localhost only (Host: "+
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
