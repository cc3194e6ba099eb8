package caddy

import (
	"maps"
	"math"
	"strconv"
	"strings"

	"github.com/strata-obs/strata/topology/source"
)

// The families of Caddy's Prometheus metrics (GET /metrics on the admin API) the source reads.
// The request counts are labelled by server and handler module name; Caddy keeps none per
// upstream.
const (
	healthyGauge  = "caddy_reverse_proxy_upstreams_healthy"      // {upstream}
	requestsTotal = "caddy_http_requests_total"                  // {server, handler}
	errorsTotal   = "caddy_http_request_errors_total"            // {server, handler}
	inFlight      = "caddy_http_requests_in_flight"              // {server, handler}
	headersCount  = "caddy_http_response_duration_seconds_count" // {server, handler, code, method}
)

// noUpstreamCounts is every instance's signal_note: Caddy's pool keeps an upstream's requests
// in flight and recent failures, but no count of its requests.
const noUpstreamCounts = "caddy counts no traffic per upstream, only per server and handler"

// caddyMetrics is what the source reads of Caddy's metrics.
type caddyMetrics struct {
	// healthy is the caddy_reverse_proxy_upstreams_healthy gauge by upstream: in Caddy 2.6
	// the only place that shows the result of active health checks, refreshed every 10 s.
	healthy map[string]bool
	// handlers are the request counts of the servers' top-level handlers.
	handlers map[handlerKey]source.Traffic
	// unread says why there are no request counts (/metrics did not answer, or held counts
	// that could not be read); empty when they were read.
	unread string
}

// handlerKey is the labels of a request count: the server and the handler's module name.
type handlerKey struct{ server, handler string }

// parseMetrics reads Caddy's metrics. A line of the health gauge that cannot be read is
// skipped, since the gauge only refines what /reverse_proxy/upstreams says; one of the request
// counts leaves no count at all, since a sum without it would be a wrong number.
func parseMetrics(b []byte) caddyMetrics {
	m := caddyMetrics{healthy: map[string]bool{}, handlers: map[handlerKey]source.Traffic{}}
	for _, line := range strings.Split(string(b), "\n") {
		name, labels, v, ok := sampleLine(line)
		switch name {
		case healthyGauge:
			if upstream, has := labels["upstream"]; ok && has {
				m.healthy[upstream] = v != 0
			}
		case requestsTotal, errorsTotal, inFlight, headersCount:
			server, hasServer := labels["server"]
			handler, hasHandler := labels["handler"]
			if !ok || !hasServer || !hasHandler || math.IsNaN(v) || v < 0 {
				m.unread = "caddy's /metrics holds request counts strata cannot read"
				continue
			}
			key := handlerKey{server, handler}
			t := m.handlers[key]
			if t == nil {
				t = noTraffic()
				m.handlers[key] = t
			}
			switch name {
			case requestsTotal:
				t[source.TrafficRequests] += v
			case errorsTotal:
				// A request the handler failed: the upstream refused or timed out, and Caddy
				// answered 502 or 504 itself, after the handler, so that no code counts it.
				t[source.TrafficRespErrors] += v
			case inFlight:
				t[source.TrafficSessions] += v
			case headersCount:
				// The times to first byte count each status the handler wrote, by code: the
				// upstreams' own 5xx, and none of the failed requests. The round-trip
				// durations would do as well in Caddy 2.6 and 2.7, but 2.8 counts the failed
				// ones under their 502 there too, which would count them twice.
				if strings.HasPrefix(labels["code"], "5") {
					t[source.TrafficHTTP5xx] += v
				}
			}
		}
	}
	if m.unread != "" {
		m.handlers = nil
	}
	return m
}

// noTraffic is the counts of a handler Caddy has counted nothing of: it makes a handler's
// series at its first request.
func noTraffic() source.Traffic {
	return source.Traffic{source.TrafficRequests: 0, source.TrafficHTTP5xx: 0, source.TrafficRespErrors: 0, source.TrafficSessions: 0}
}

// traffic is what Caddy counts of one proxy's requests, or why it counts nothing of them.
// Caddy has no response time but a histogram, whose mean over a refresh strata does not make.
func (m caddyMetrics) traffic(p proxy) (source.Traffic, string) {
	switch {
	case p.unmetered != "":
		return nil, p.unmetered
	case m.unread != "":
		return nil, m.unread
	}
	if t, ok := m.handlers[handlerKey{p.server, p.metered}]; ok {
		return maps.Clone(t), ""
	}
	return noTraffic(), ""
}

// sampleLine reads a sample line of the Prometheus text format, `name{label="value",…} value
// [timestamp]`: its name, also when the rest cannot be read (ok false).
func sampleLine(line string) (name string, labels map[string]string, value float64, ok bool) {
	end := strings.IndexAny(line, "{ ")
	if end < 0 {
		return line, nil, 0, false
	}
	name, rest := line[:end], line[end:]
	labels = map[string]string{}
	if r, brace := strings.CutPrefix(rest, "{"); brace {
		if labels, rest, ok = parseLabels(r); !ok {
			return name, nil, 0, false
		}
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return name, nil, 0, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	return name, labels, v, err == nil
}

// parseLabels reads `name="value",…}` of the Prometheus text format (after the opening
// brace) and returns what follows the closing brace.
func parseLabels(s string) (labels map[string]string, rest string, ok bool) {
	labels = map[string]string{}
	for {
		s = strings.TrimLeft(s, " ")
		if r, done := strings.CutPrefix(s, "}"); done {
			return labels, r, true
		}
		name, after, found := strings.Cut(s, "=")
		after = strings.TrimLeft(after, " ")
		if !found || !strings.HasPrefix(after, `"`) {
			return nil, "", false
		}
		var value strings.Builder
		i := 1
		for ; i < len(after) && after[i] != '"'; i++ {
			c := after[i]
			if c == '\\' && i+1 < len(after) {
				i++
				switch after[i] {
				case 'n':
					c = '\n'
				default: // \\ and \"
					c = after[i]
				}
			}
			value.WriteByte(c)
		}
		if i >= len(after) {
			return nil, "", false
		}
		labels[strings.TrimSpace(name)] = value.String()
		s = strings.TrimPrefix(strings.TrimLeft(after[i+1:], " "), ",")
	}
}
