package caddy

import (
	"reflect"
	"testing"

	"github.com/strata-obs/strata/topology/source"
)

// caddy26Metrics is what Caddy 2.6.2 answers on /metrics with server web's metrics on and a
// top-level reverse_proxy: 10 requests answered (5 of them 500 by an upstream), 1 that failed
// to reach its upstream (Caddy answered 502), counted under no code. The families the source
// does not read are cut short.
const caddy26Metrics = `# HELP caddy_http_request_duration_seconds Histogram of round-trip request durations.
# TYPE caddy_http_request_duration_seconds histogram
caddy_http_request_duration_seconds_bucket{code="200",handler="reverse_proxy",method="GET",server="web",le="0.005"} 5
caddy_http_request_duration_seconds_bucket{code="200",handler="reverse_proxy",method="GET",server="web",le="+Inf"} 5
caddy_http_request_duration_seconds_sum{code="200",handler="reverse_proxy",method="GET",server="web"} 0.0093
caddy_http_request_duration_seconds_count{code="200",handler="reverse_proxy",method="GET",server="web"} 5
caddy_http_request_duration_seconds_bucket{code="500",handler="reverse_proxy",method="GET",server="web",le="+Inf"} 5
caddy_http_request_duration_seconds_sum{code="500",handler="reverse_proxy",method="GET",server="web"} 0.0086
caddy_http_request_duration_seconds_count{code="500",handler="reverse_proxy",method="GET",server="web"} 5
# HELP caddy_http_request_errors_total Number of requests resulting in middleware errors.
# TYPE caddy_http_request_errors_total counter
caddy_http_request_errors_total{handler="reverse_proxy",server="web"} 1
# HELP caddy_http_requests_in_flight Number of requests currently handled by this server.
# TYPE caddy_http_requests_in_flight gauge
caddy_http_requests_in_flight{handler="reverse_proxy",server="web"} 0
# HELP caddy_http_requests_total Counter of HTTP(S) requests made.
# TYPE caddy_http_requests_total counter
caddy_http_requests_total{handler="reverse_proxy",server="web"} 11
caddy_http_requests_total{handler="subroute",server="other"} 4
# HELP caddy_http_response_duration_seconds Histogram of times to first byte in response bodies.
# TYPE caddy_http_response_duration_seconds histogram
caddy_http_response_duration_seconds_bucket{code="200",handler="reverse_proxy",method="GET",server="web",le="+Inf"} 5
caddy_http_response_duration_seconds_sum{code="200",handler="reverse_proxy",method="GET",server="web"} 0.0081
caddy_http_response_duration_seconds_count{code="200",handler="reverse_proxy",method="GET",server="web"} 5
caddy_http_response_duration_seconds_bucket{code="500",handler="reverse_proxy",method="GET",server="web",le="+Inf"} 5
caddy_http_response_duration_seconds_sum{code="500",handler="reverse_proxy",method="GET",server="web"} 0.0079
caddy_http_response_duration_seconds_count{code="500",handler="reverse_proxy",method="GET",server="web"} 5
# HELP caddy_reverse_proxy_upstreams_healthy Health status of reverse proxy upstreams.
# TYPE caddy_reverse_proxy_upstreams_healthy gauge
caddy_reverse_proxy_upstreams_healthy{upstream="127.0.0.1:19081"} 1
caddy_reverse_proxy_upstreams_healthy{upstream="127.0.0.1:19082"} 0
`

func TestParseMetrics(t *testing.T) {
	m := parseMetrics([]byte(caddy26Metrics))
	want := caddyMetrics{
		healthy: map[string]bool{"127.0.0.1:19081": true, "127.0.0.1:19082": false},
		handlers: map[handlerKey]source.Traffic{
			{"web", "reverse_proxy"}: {"requests": 11, "http_5xx": 5, "response_errors": 1, "sessions": 0},
			{"other", "subroute"}:    {"requests": 4, "http_5xx": 0, "response_errors": 0, "sessions": 0},
		},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("\n got %+v\nwant %+v", m, want)
	}

	tr, note := m.traffic(proxy{server: "web", metered: "reverse_proxy"})
	if !reflect.DeepEqual(tr, want.handlers[handlerKey{"web", "reverse_proxy"}]) || note != "" {
		t.Errorf("a metered proxy: %v, %q", tr, note)
	}
	// Caddy makes a handler's series at its first request: before it, it has counted none.
	if tr, note := m.traffic(proxy{server: "quiet", metered: "reverse_proxy"}); !reflect.DeepEqual(tr, noTraffic()) || note != "" {
		t.Errorf("a metered proxy without requests yet: %v, %q; want zero counts", tr, note)
	}
	if tr, note := m.traffic(proxy{server: "web", unmetered: "why"}); tr != nil || note != "why" {
		t.Errorf("an unmetered proxy: %v, %q", tr, note)
	}
}

// TestParseMetricsUnreadable: a request count that cannot be read leaves every count out,
// since a sum without it would be a wrong number; the health gauge is still read.
func TestParseMetricsUnreadable(t *testing.T) {
	for _, line := range []string{
		`caddy_http_requests_total{handler="reverse_proxy",server="web"} many`,
		`caddy_http_requests_total{handler="reverse_proxy"} 3`,
		`caddy_http_request_errors_total{handler="reverse_proxy",server="web} 3`,
		`caddy_http_response_duration_seconds_count{code="500",handler="reverse_proxy",server="web"} NaN`,
		`caddy_http_requests_in_flight{handler="reverse_proxy",server="web"} -1`,
		`caddy_http_requests_total 3`,
	} {
		m := parseMetrics([]byte(caddy26Metrics + line + "\n"))
		tr, note := m.traffic(proxy{server: "web", metered: "reverse_proxy"})
		if tr != nil || note != "caddy's /metrics holds request counts strata cannot read" {
			t.Errorf("with %s: %v, %q; want no counts and why", line, tr, note)
		}
		if len(m.healthy) != 2 {
			t.Errorf("with %s: health %v, want the gauge read", line, m.healthy)
		}
	}
}
