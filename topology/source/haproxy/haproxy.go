// Package haproxy reads a load balancer from HAProxy: from its runtime API (the stats socket:
// `show stat` and `show servers state`), or, where only that is exposed, from its stats page as
// CSV.
//
// In strata's terms (docs/design.md, "Configuration"):
//
//   - lb: the HAProxy process, named by Config.Name. Its addresses are its frontends'
//     listeners, which HAProxy lists only for frontends with `option socket-stats`; without it
//     the lb has no addresses.
//   - service: a backend or listen section; a backend without servers is still a service.
//   - instance: a server, under its name in the configuration. Its position is its order in
//     the backend, which is the configuration's order, the order `show stat` lists servers in.
//   - An instance on a loopback address runs on the lb's host (Config.Host; empty means this
//     host, where the socket is).
//
// Over the runtime API, address and port come from `show servers state` (srv_addr, srv_port),
// which answers them at every socket level, whereas `show stat` fills its addr column only at
// level operator or admin; a server whose host name has not resolved has no srv_addr and is
// reported under its host name (srv_fqdn). Over HTTP they come from the CSV's addr column,
// which HAProxy fills only when the stats section says `stats show-legends`: without it the
// instances have no address. Both follow `set server … addr` at once.
//
// Health is read from the status column's first word, which is the server's current state
// (the "n/m" after it counts checks towards the next state):
//
//	status                                     health
//	UP, UP 1/3                                 UP
//	no check                                   UP (see below)
//	DOWN, DOWN 1/2, DOWN (agent)               DOWN
//	NOLB, DRAIN, DRAIN 1/2, DRAIN (agent)      DRAIN (persistent sessions only, no new ones)
//	MAINT, MAINT (via b/s), MAINT (resolution) MAINT
//	anything else                              UNKNOWN
//
// A server without health checks ("no check") that is not in maintenance is reachable as far
// as HAProxy knows, and HAProxy sends it traffic: it is reported UP.
//
// Weight is the weight the operator set (the configuration's, or `set server … weight`), not
// the effective weight that slowstart or an agent scales.
//
// To use another column of HAProxy's answers, add it to StatRow or ServerState and find it by
// its header name in ParseStat or ParseServersState (never by position: versions move
// columns), then map it in buildLB; testdata/ holds real answers to test it on.
package haproxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/strata-obs/strata/topology/source"
)

// DefaultTimeout bounds one ListLoadBalancers call when Config.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Config says where one HAProxy answers. Set RuntimeAPI or StatsURL, not both.
type Config struct {
	Name       string // the lb's name
	RuntimeAPI string // unix:///run/haproxy/admin.sock or tcp://127.0.0.1:9999
	StatsURL   string // http://127.0.0.1:8404/stats;csv (user:password@ for basic auth)
	Host       string // the host HAProxy runs on; empty means this host
	Timeout    time.Duration
}

// Source reads one HAProxy. It holds no connection between calls: each call dials anew, so a
// restarted HAProxy is picked up by the next refresh.
type Source struct {
	cfg      Config
	network  string // unix or tcp, with RuntimeAPI
	address  string
	statsURL *url.URL
	client   *http.Client
}

var _ source.LoadBalancers = (*Source)(nil)

// New checks cfg and returns a Source for it.
func New(cfg Config) (*Source, error) {
	if cfg.Name == "" {
		return nil, errors.New("haproxy source: name is empty")
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("haproxy source %s: timeout %v is negative", cfg.Name, cfg.Timeout)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	s := &Source{cfg: cfg}
	var err error
	switch {
	case cfg.RuntimeAPI != "" && cfg.StatsURL != "":
		err = errors.New("runtime_api and stats_url are both set: use one")
	case cfg.RuntimeAPI != "":
		s.network, s.address, err = parseRuntimeAPI(cfg.RuntimeAPI)
	case cfg.StatsURL != "":
		s.statsURL, err = parseStatsURL(cfg.StatsURL)
		s.client = &http.Client{}
	default:
		err = errors.New("set runtime_api (unix:///path or tcp://host:port) or stats_url (http://…/stats;csv)")
	}
	if err != nil {
		return nil, fmt.Errorf("haproxy source %s: %w", cfg.Name, err)
	}
	return s, nil
}

func parseRuntimeAPI(raw string) (network, address string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without url.Error's repetition of raw
		}
		return "", "", fmt.Errorf("runtime_api %q: want unix:///path or tcp://host:port: %w", raw, err)
	}
	switch u.Scheme {
	case "unix":
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") {
			return "", "", fmt.Errorf("runtime_api %q: want unix:// and an absolute path, as in unix:///run/haproxy/admin.sock", raw)
		}
		return "unix", u.Path, nil
	case "tcp":
		if u.Hostname() == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") {
			return "", "", fmt.Errorf("runtime_api %q: want tcp://host:port, as in tcp://127.0.0.1:9999", raw)
		}
		return "tcp", u.Host, nil
	default:
		return "", "", fmt.Errorf("runtime_api %q: want a unix:// or tcp:// address", raw)
	}
}

func parseStatsURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the URL, password included: say only what is wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("stats_url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("stats_url %q: want an http:// or https:// URL", u.Redacted())
	}
	// Without ;csv HAProxy answers with its HTML page: say so now rather than on each refresh.
	if !strings.Contains(u.Path+"?"+u.RawQuery, ";csv") {
		return nil, fmt.Errorf("stats_url %q does not ask for CSV: end it in ;csv, as in http://127.0.0.1:8404/stats;csv", u.Redacted())
	}
	return u, nil
}

// Name is the source's name: the lb's.
func (s *Source) Name() string { return s.cfg.Name }

// ListLoadBalancers reads HAProxy's backends and servers now. An HAProxy that does not answer
// is an error within the timeout, never a hang: the caller keeps the last graph, marked stale.
func (s *Source) ListLoadBalancers(ctx context.Context) ([]source.LB, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	var (
		rows   []StatRow
		states []ServerState
		err    error
	)
	if s.statsURL != nil {
		rows, err = s.getStatsCSV(ctx)
	} else {
		rows, states, err = s.readRuntimeAPI(ctx)
	}
	if err != nil {
		return nil, err
	}
	return []source.LB{buildLB(s.cfg, rows, states)}, nil
}

// buildLB maps HAProxy's rows to the lb (see the package doc). states, where read, give the
// servers' current addresses.
func buildLB(cfg Config, rows []StatRow, states []ServerState) source.LB {
	type serverKey struct{ backend, server string }
	stateOf := make(map[serverKey]ServerState, len(states))
	for _, st := range states {
		stateOf[serverKey{st.Backend, st.Server}] = st
	}

	lb := source.LB{Name: cfg.Name, Provider: "haproxy", Host: cfg.Host}
	serviceAt := make(map[string]int) // backend → index in lb.Services
	service := func(backend string) *source.Service {
		i, ok := serviceAt[backend]
		if !ok {
			i = len(lb.Services)
			serviceAt[backend] = i
			lb.Services = append(lb.Services, source.Service{Name: backend})
		}
		return &lb.Services[i]
	}
	for _, row := range rows {
		switch row.Type {
		case RowListener:
			if row.Addr != "" && !slices.Contains(lb.Addresses, row.Addr) {
				lb.Addresses = append(lb.Addresses, row.Addr)
			}
		case RowBackend:
			service(row.Proxy).Traffic = row.Traffic
		case RowServer:
			svc := service(row.Proxy)
			inst := source.Instance{
				Name:     row.Name,
				Position: len(svc.Instances),
				Health:   Health(row.Status),
				Weight:   row.Weight,
				Traffic:  row.Traffic,
			}
			if st, ok := stateOf[serverKey{row.Proxy, row.Name}]; ok {
				inst.Address, inst.Port = st.Address, st.Port
				if inst.Address == "" {
					inst.Address = st.FQDN
				}
			} else if row.Addr != "" {
				inst.Address, inst.Port = splitAddr(row.Addr)
			}
			svc.Instances = append(svc.Instances, inst)
		}
	}
	return lb
}

// Health normalises a server's status column (see the package doc).
func Health(status string) string {
	if status == "no check" {
		return source.HealthUp
	}
	word, _, _ := strings.Cut(status, " ")
	switch word {
	case "UP":
		return source.HealthUp
	case "DOWN":
		return source.HealthDown
	case "NOLB", "DRAIN":
		return source.HealthDrain
	case "MAINT":
		return source.HealthMaint
	}
	return source.HealthUnknown
}
