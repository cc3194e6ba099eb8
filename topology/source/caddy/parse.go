package caddy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-obs/strata/topology/source"
)

// The part of Caddy's JSON config (GET /config/) that says where reverse proxies send requests.
// Everything else in the config is ignored, so new Caddy modules do not break the walk.
type (
	caddyConfig struct {
		Apps struct {
			HTTP struct {
				Servers map[string]caddyServer `json:"servers"`
				// Metrics here is Caddy 2.9's and later's, whose counts strata does not read: see countedBy.
				Metrics *struct{} `json:"metrics"`
			} `json:"http"`
		} `json:"apps"`
	}
	caddyServer struct {
		Listen []string     `json:"listen"`
		Routes []caddyRoute `json:"routes"`
		// Metrics, present (`servers { metrics }` in a Caddyfile), turns Caddy 2.6's to 2.8's
		// request counts on for the server; absent, Caddy counts nothing of its requests.
		Metrics *struct{} `json:"metrics"`
		// NamedRoutes (Caddy 2.7 and later, run by the invoke handler) are counted as
		// top-level routes are, under the same labels.
		NamedRoutes map[string]caddyRoute `json:"named_routes"`
	}
	caddyRoute struct {
		Match  []caddyMatcherSet `json:"match"`
		Handle []caddyHandler    `json:"handle"`
	}
	// A route matches when any of its matcher sets does; only host and path name a service.
	caddyMatcherSet struct {
		Host []string `json:"host"`
		Path []string `json:"path"`
	}
	// caddyHandler holds the fields of the two handlers that matter: "subroute" (Routes) and
	// "reverse_proxy" (the rest).
	caddyHandler struct {
		Handler   string       `json:"handler"`
		Routes    []caddyRoute `json:"routes"`
		Upstreams []struct {
			Dial string `json:"dial"`
		} `json:"upstreams"`
		DynamicUpstreams *struct {
			Source string `json:"source"`
		} `json:"dynamic_upstreams"`
		LoadBalancing struct {
			SelectionPolicy struct {
				Policy  string `json:"policy"`
				Weights []int  `json:"weights"`
			} `json:"selection_policy"`
		} `json:"load_balancing"`
	}
)

// proxy is one reverse_proxy handler of the config, in walk order.
type proxy struct {
	server  string   // the apps.http.servers key it was found under
	name    string   // the service name before de-duplication
	dials   []string // static upstreams, in config order
	weights []int    // weighted_round_robin weights by upstream index, if any
	dynamic string   // the dynamic_upstreams source module ("a", "srv", …), "" when static
	// metered is the handler label of the server's request counts that count this proxy's
	// requests and no others; "" when none do, and unmetered says why.
	metered, unmetered string
}

// parseConfig reads Caddy's JSON config: the servers' listen addresses (servers in name
// order) and every reverse_proxy handler, servers in name order and routes in config order.
func parseConfig(b []byte) (listen []string, proxies []proxy, err error) {
	var cfg *caddyConfig // Caddy answers null when it runs without a config
	if err := decodeJSON(b, &cfg); err != nil {
		return nil, nil, fmt.Errorf("decode caddy config: %w", err)
	}
	if cfg == nil {
		return nil, nil, nil
	}
	servers := cfg.Apps.HTTP.Servers
	// JSON objects have no order; server names give a stable one.
	for _, name := range slices.Sorted(maps.Keys(servers)) {
		srv := servers[name]
		listen = appendUnique(listen, srv.Listen...)
		var found []proxy
		walkRoutes(name, srv.Routes, routeAt{}, func(p proxy) { found = append(found, p) })
		for _, p := range found {
			p.metered, p.unmetered = countedBy(name, srv, cfg.Apps.HTTP.Metrics != nil, p.metered)
			proxies = append(proxies, p)
		}
	}
	return listen, proxies, nil
}

// countedBy says which of a server's request counts count one proxy's requests and no others
// (read from its walk: under, the top-level handler every request of which reaches the proxy),
// or why none do. Caddy 2.6 to 2.8 count the requests of a server's top-level handlers only
// (and its named routes'; subroutes', error routes' and handle_response's go uncounted), by
// server and handler module name: two top-level reverse_proxy handlers of a server share one
// count, and a subroute's count holds all the requests it got, whatever route in it served them.
// Caddy 2.9 moved the metrics option to the http app and, from 2.11, counts per route: counts
// strata does not know how to read are none.
func countedBy(server string, srv caddyServer, appMetrics bool, under string) (label, why string) {
	switch {
	case appMetrics:
		return "", "strata reads the request counts of caddy 2.6 to 2.8 (servers { metrics }), not those of apps.http.metrics (caddy 2.9 and later)"
	case srv.Metrics == nil:
		return "", fmt.Sprintf("caddy counts no requests of server %s: its metrics are off (servers { metrics } in the Caddyfile)", server)
	case under == "":
		return "", fmt.Sprintf("caddy counts server %s's requests by top-level handler, and this reverse_proxy shares its subroute's count with other routes", server)
	}
	n := 0
	for _, r := range slices.Concat(srv.Routes, slices.Collect(maps.Values(srv.NamedRoutes))) {
		for _, h := range r.Handle {
			if h.Handler == under {
				n++
			}
		}
	}
	if n > 1 {
		return "", fmt.Sprintf("caddy counts server %s's requests by top-level handler, and %d %s handlers share this one's count", server, n, under)
	}
	return under, ""
}

// routeAt is where the walk stands: the host and path matchers of the nearest routes that
// had them, and the route indexes from the server down ("0.2" is route 2 of the subroute
// in the server's route 0). Under is the top-level handler every request of which reaches
// this route's one handler ("" when some go elsewhere, or at the top level itself).
type routeAt struct {
	host, path, index, under string
}

func walkRoutes(server string, routes []caddyRoute, at routeAt, found func(proxy)) {
	for i, r := range routes {
		here := at
		here.index = strconv.Itoa(i)
		if at.index != "" {
			here.index = at.index + "." + here.index
		}
		// A subroute's first route, matching everything and holding one handler, gets every
		// request of the subroute: reverse_proxy answers them all, so none reach a later one.
		if i != 0 || len(r.Match) != 0 || len(r.Handle) != 1 {
			here.under = ""
		}
		host, path := firstHostPath(r.Match)
		if host != "" {
			here.host = host
		}
		if path != "" {
			here.path = path
		}
		for _, h := range r.Handle {
			under := here.under
			if at.index == "" {
				under = h.Handler
			}
			switch h.Handler {
			case "subroute":
				inner := here
				inner.under = under
				walkRoutes(server, h.Routes, inner, found)
			case "reverse_proxy":
				p := proxy{server: server, name: here.serviceName(server), metered: under}
				for _, u := range h.Upstreams {
					p.dials = append(p.dials, u.Dial)
				}
				if sp := h.LoadBalancing.SelectionPolicy; sp.Policy == "weighted_round_robin" {
					p.weights = sp.Weights
				}
				if h.DynamicUpstreams != nil {
					p.dynamic = h.DynamicUpstreams.Source
					if p.dynamic == "" {
						p.dynamic = "unknown"
					}
				}
				found(p)
			}
		}
	}
}

// firstHostPath returns the first host and the first path of a route's matcher sets.
func firstHostPath(sets []caddyMatcherSet) (host, path string) {
	for _, s := range sets {
		if host == "" && len(s.Host) > 0 {
			host = s.Host[0]
		}
		if path == "" && len(s.Path) > 0 {
			path = s.Path[0]
		}
	}
	return host, path
}

// serviceName names a reverse_proxy handler the way a person reads the Caddyfile it came
// from: "example.com/api" for `example.com { handle /api/* { reverse_proxy … } }`, the
// server and the path when only a path matches ("srv0/api"), else the route's place
// ("srv0/route0.1").
func (at routeAt) serviceName(server string) string {
	path := strings.TrimSuffix(strings.TrimSuffix(at.path, "*"), "/")
	if path != "" && !strings.HasPrefix(path, "/") {
		path = "/" + path // "*.php" reads better as example.com/*.php
	}
	switch {
	case at.host != "":
		return at.host + path
	case path != "":
		return server + path
	default:
		return server + "/route" + at.index
	}
}

// upstreamStatus is one entry of GET /reverse_proxy/upstreams: Caddy's global pool of
// upstream hosts, keyed by their dial address.
type upstreamStatus struct {
	Address     string `json:"address"`
	NumRequests int    `json:"num_requests"`
	// Fails counts the failed requests of the last fail_duration; it stays 0 unless passive
	// health checks are configured.
	Fails int `json:"fails"`
	// Healthy is there in Caddy 2.4 and 2.5 only: 2.6 moved active health to each handler's
	// upstreams and dropped it from this endpoint.
	Healthy *bool `json:"healthy"`
}

// parseUpstreams reads GET /reverse_proxy/upstreams into a map by address.
func parseUpstreams(b []byte) (map[string]upstreamStatus, error) {
	var list []upstreamStatus
	if err := decodeJSON(b, &list); err != nil {
		return nil, fmt.Errorf("decode upstream status: %w", err)
	}
	status := make(map[string]upstreamStatus, len(list))
	for _, u := range list {
		status[u.Address] = u
	}
	return status, nil
}

// health says what an upstream's status says: DOWN when it failed recently (passive checks),
// when an older Caddy calls it unhealthy, or when active checks failed (the gauge); UNKNOWN
// when Caddy's pool does not know the address; else UP.
func health(dial string, status map[string]upstreamStatus, activeHealthy map[string]bool) string {
	st, ok := status[dial]
	switch {
	case !ok:
		return source.HealthUnknown
	case st.Fails > 0, st.Healthy != nil && !*st.Healthy:
		return source.HealthDown
	}
	if up, ok := activeHealthy[dial]; ok && !up {
		return source.HealthDown
	}
	return source.HealthUp
}

// services turns the proxies into services with unique names: a name met again gets "#2",
// "#3", … in walk order, so the same config always gives the same names.
func services(proxies []proxy, status map[string]upstreamStatus, metrics caddyMetrics) []source.Service {
	out := make([]source.Service, 0, len(proxies))
	taken := map[string]bool{}
	for _, p := range proxies {
		name := p.name
		for n := 2; taken[name]; n++ {
			name = fmt.Sprintf("%s#%d", p.name, n)
		}
		taken[name] = true
		svc := source.Service{Name: name, Labels: map[string]string{"server": p.server}}
		svc.Traffic, svc.TrafficNote = metrics.traffic(p)
		if p.dynamic != "" {
			// Dynamic upstreams (SRV or A lookups at request time) have no list to report:
			// the service is there, its instances are not.
			svc.Labels["dynamic_upstreams"] = p.dynamic
		}
		for i, dial := range p.dials {
			addr, port := splitDial(dial)
			weight := 1
			if i < len(p.weights) && p.weights[i] > 0 {
				weight = p.weights[i]
			}
			svc.Instances = append(svc.Instances, source.Instance{
				Name:        dial,
				Address:     addr,
				Port:        port,
				Position:    i,
				Health:      health(dial, status, metrics.healthy),
				Weight:      weight,
				TrafficNote: noUpstreamCounts,
			})
		}
		out = append(out, svc)
	}
	return out
}

// splitDial splits an upstream's dial address ("10.0.0.5:8080", "tcp/[::1]:80",
// "unix//run/app.sock") into address and port. A unix socket keeps its whole dial address and
// port 0; so does an address with a placeholder or a port range, which Caddy resolves per request.
func splitDial(dial string) (address string, port int) {
	rest := dial
	if network, after, ok := strings.Cut(dial, "/"); ok {
		switch {
		case strings.HasPrefix(network, "unix"):
			return dial, 0
		case strings.HasPrefix(network, "tcp"), strings.HasPrefix(network, "udp"):
			rest = after
		}
	}
	host, portText, err := net.SplitHostPort(rest)
	if err != nil {
		return rest, 0
	}
	p, err := strconv.Atoi(portText)
	if err != nil || p < 0 || p > 65535 {
		return rest, 0
	}
	return host, p
}

// decodeJSON decodes b into v with errors that say what came instead of JSON: an HTML page
// from a proxy or a wrong URL is the usual cause.
func decodeJSON(b []byte, v any) error {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 {
		return errors.New("empty response, not JSON")
	}
	if trimmed[0] == '<' {
		return fmt.Errorf("response is HTML or XML, not JSON: %q", snippet(trimmed))
	}
	return json.Unmarshal(trimmed, v)
}

// snippet is the start of a response body, for error messages.
func snippet(b []byte) string {
	const limit = 120
	s := strings.TrimSpace(string(b))
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return s
}

func appendUnique(list []string, items ...string) []string {
	for _, it := range items {
		if !slices.Contains(list, it) {
			list = append(list, it)
		}
	}
	return list
}
