package caddy

import (
	"reflect"
	"strings"
	"testing"

	"github.com/strata-obs/strata/topology/source"
)

// caddyfileConfig is what `caddy adapt` makes of a Caddyfile with two sites: the reverse
// proxies sit in subroutes under a host matcher, as in most real configs. Server srv0 has its
// metrics on (`servers :443 { metrics }`), srv1 not.
const caddyfileConfig = `{"apps":{"http":{"servers":{"srv0":{"listen":[":443"],"metrics":{},"routes":[
 {"match":[{"host":["example.com"]}],"handle":[{"handler":"subroute","routes":[
   {"group":"group2","match":[{"path":["/api/*"]}],"handle":[{"handler":"subroute","routes":[
     {"handle":[{"handler":"reverse_proxy","upstreams":[{"dial":"10.0.0.5:8080"},{"dial":"10.0.0.6:8080"}]}]}]}]},
   {"group":"group2","handle":[{"handler":"subroute","routes":[
     {"handle":[{"handler":"file_server","hide":["./Caddyfile"]}]}]}]}]}],"terminal":true},
 {"match":[{"host":["static.example.com"]}],"handle":[{"handler":"reverse_proxy",
   "load_balancing":{"selection_policy":{"policy":"weighted_round_robin","weights":[3,1]}},
   "upstreams":[{"dial":"unix//run/app.sock"},{"dial":"[::1]:9000"}]}]}]},
 "srv1":{"listen":["127.0.0.1:8080",":443"],"routes":[
 {"handle":[{"handler":"reverse_proxy","upstreams":[{"dial":"{http.request.host}:80"}]}]},
 {"match":[{"path":["/v1*"]}],"handle":[{"handler":"reverse_proxy","upstreams":[{"dial":"tcp/127.0.0.1:81"}]},
   {"handler":"reverse_proxy","dynamic_upstreams":{"source":"srv","name":"_api._tcp.example.com"}}]}]}}}}}`

func TestParseConfig(t *testing.T) {
	listen, proxies, err := parseConfig([]byte(caddyfileConfig))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{":443", "127.0.0.1:8080"}; !reflect.DeepEqual(listen, want) {
		t.Errorf("listen = %q, want %q", listen, want)
	}
	const (
		inSubroute = "caddy counts server srv0's requests by top-level handler, and this reverse_proxy shares its subroute's count with other routes"
		off        = "caddy counts no requests of server srv1: its metrics are off (servers { metrics } in the Caddyfile)"
	)
	want := []proxy{
		{server: "srv0", name: "example.com/api", dials: []string{"10.0.0.5:8080", "10.0.0.6:8080"}, unmetered: inSubroute},
		{server: "srv0", name: "static.example.com", dials: []string{"unix//run/app.sock", "[::1]:9000"}, weights: []int{3, 1}, metered: "reverse_proxy"},
		{server: "srv1", name: "srv1/route0", dials: []string{"{http.request.host}:80"}, unmetered: off},
		{server: "srv1", name: "srv1/v1", dials: []string{"tcp/127.0.0.1:81"}, unmetered: off},
		{server: "srv1", name: "srv1/v1", dynamic: "srv", unmetered: off},
	}
	if !reflect.DeepEqual(proxies, want) {
		t.Errorf("proxies:\n got %+v\nwant %+v", proxies, want)
	}
}

func TestServiceNames(t *testing.T) {
	tests := []struct {
		name   string
		config string
		want   []string
	}{
		{"no matcher: the route's place", `{"apps":{"http":{"servers":{"a":{"routes":[
			{"handle":[{"handler":"static_response"}]},
			{"handle":[{"handler":"reverse_proxy"}]}]}}}}}`, []string{"a/route1"}},
		{"nested places", `{"apps":{"http":{"servers":{"a":{"routes":[
			{"handle":[{"handler":"subroute","routes":[{"handle":[{"handler":"headers"}]},
			{"handle":[{"handler":"reverse_proxy"}]}]}]}]}}}}}`, []string{"a/route0.1"}},
		{"host and path", `{"apps":{"http":{"servers":{"a":{"routes":[
			{"match":[{"host":["x.org","y.org"],"path":["/api/*"]}],"handle":[{"handler":"reverse_proxy"}]}]}}}}}`,
			[]string{"x.org/api"}},
		{"inner path under outer host", `{"apps":{"http":{"servers":{"a":{"routes":[
			{"match":[{"host":["x.org"]}],"handle":[{"handler":"subroute","routes":[
			{"match":[{"path":["*.php"]}],"handle":[{"handler":"reverse_proxy"}]},
			{"match":[{"path":["/"]}],"handle":[{"handler":"reverse_proxy"}]}]}]}]}}}}}`,
			[]string{"x.org/*.php", "x.org"}},
		{"duplicates numbered in walk order", `{"apps":{"http":{"servers":{"b":{"routes":[
			{"match":[{"host":["x.org"]}],"handle":[{"handler":"reverse_proxy"}]}]},
			"a":{"routes":[{"match":[{"host":["x.org"]}],"handle":[{"handler":"reverse_proxy"},{"handler":"reverse_proxy"}]}]}}}}}`,
			[]string{"x.org", "x.org#2", "x.org#3"}},
		{"a literal name like a numbered one", `{"apps":{"http":{"servers":{"a":{"routes":[
			{"match":[{"host":["x#2"]}],"handle":[{"handler":"reverse_proxy"}]},
			{"match":[{"host":["x"]}],"handle":[{"handler":"reverse_proxy"},{"handler":"reverse_proxy"}]}]}}}}}`,
			[]string{"x#2", "x", "x#3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, proxies, err := parseConfig([]byte(tt.config))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range services(proxies, nil, caddyMetrics{}) {
				got = append(got, s.Name)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("names = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"html", "<!DOCTYPE html><html><body>Not here</body></html>", "HTML"},
		{"truncated", `{"apps":{"http":{"servers":{"a":{"listen":[":80"`, "unexpected end of JSON input"},
		{"empty", "", "empty response"},
		{"wrong type", `{"apps":{"http":{"servers":{"a":{"listen":":80"}}}}}`, "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseConfig([]byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "decode caddy config: ") {
				t.Errorf("err = %v, want decode caddy config: …%s…", err, tt.want)
			}
		})
	}
	listen, proxies, err := parseConfig([]byte("null\n"))
	if err != nil || listen != nil || proxies != nil {
		t.Errorf("a Caddy without config: %q %v %v, want nothing and no error", listen, proxies, err)
	}
}

func TestSplitDial(t *testing.T) {
	tests := []struct {
		dial string
		addr string
		port int
	}{
		{"127.0.0.1:8081", "127.0.0.1", 8081},
		{"tcp/10.0.0.1:80", "10.0.0.1", 80},
		{"tcp6/[::1]:443", "::1", 443},
		{"[fe80::1]:8080", "fe80::1", 8080},
		{"backend.internal:3000", "backend.internal", 3000},
		{"unix//run/app.sock", "unix//run/app.sock", 0},
		{"unix/@abstract", "unix/@abstract", 0},
		{"{http.request.host}:80", "{http.request.host}", 80},
		{"10.0.0.1:{env.PORT}", "10.0.0.1:{env.PORT}", 0},
		{"10.0.0.1:8000-8010", "10.0.0.1:8000-8010", 0},
		{"localhost", "localhost", 0},
		{"", "", 0},
	}
	for _, tt := range tests {
		addr, port := splitDial(tt.dial)
		if addr != tt.addr || port != tt.port {
			t.Errorf("splitDial(%q) = %q, %d; want %q, %d", tt.dial, addr, port, tt.addr, tt.port)
		}
	}
}

func TestHealth(t *testing.T) {
	no := false
	status, err := parseUpstreams([]byte(`[
		{"address":"10.0.0.1:80","num_requests":3,"fails":0},
		{"address":"10.0.0.2:80","num_requests":0,"fails":2},
		{"address":"10.0.0.3:80","num_requests":0,"fails":0},
		{"address":"10.0.0.4:80","num_requests":0,"fails":0,"healthy":false}]`))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(status["10.0.0.4:80"], upstreamStatus{Address: "10.0.0.4:80", Healthy: &no}) {
		t.Errorf("status of 10.0.0.4:80 = %+v", status["10.0.0.4:80"])
	}
	active := parseMetrics([]byte(`# HELP caddy_reverse_proxy_upstreams_healthy Health status of reverse proxy upstreams.
# TYPE caddy_reverse_proxy_upstreams_healthy gauge
caddy_reverse_proxy_upstreams_healthy{upstream="10.0.0.1:80"} 1
caddy_reverse_proxy_upstreams_healthy{upstream="10.0.0.3:80"} 0
caddy_reverse_proxy_upstreams_healthy{upstream="10.0.0.5:80"} 0
`)).healthy
	tests := []struct {
		dial, want string
	}{
		{"10.0.0.1:80", source.HealthUp},
		{"10.0.0.2:80", source.HealthDown},    // passive checks counted failures
		{"10.0.0.3:80", source.HealthDown},    // active checks failed
		{"10.0.0.4:80", source.HealthDown},    // Caddy ≤ 2.5 said so
		{"10.0.0.5:80", source.HealthUnknown}, // not in Caddy's pool: the gauge alone is not enough
		{"10.0.0.9:80", source.HealthUnknown},
	}
	for _, tt := range tests {
		if got := health(tt.dial, status, active); got != tt.want {
			t.Errorf("health(%s) = %s, want %s", tt.dial, got, tt.want)
		}
	}
	if got := health("10.0.0.3:80", status, nil); got != source.HealthUp {
		t.Errorf("without metrics health = %s, want UP", got)
	}
}

func TestParseUpstreamsErrors(t *testing.T) {
	for _, body := range []string{"<html>404</html>", `[{"address":"a"`, `{"address":"a"}`, ""} {
		if _, err := parseUpstreams([]byte(body)); err == nil {
			t.Errorf("parseUpstreams(%q) gave no error", body)
		}
	}
}

func TestParseHealthyGauge(t *testing.T) {
	got := parseMetrics([]byte(`caddy_reverse_proxy_upstreams_healthy{upstream="a:1"} 1
caddy_reverse_proxy_upstreams_healthy{ upstream = "b:2" , x="y"} 0 1700000000000
caddy_reverse_proxy_upstreams_healthy{upstream="q\"\\:3"} 0
caddy_reverse_proxy_upstreams_healthy{upstream="c:4"}
caddy_reverse_proxy_upstreams_healthy{upstream="d:5} 0
caddy_reverse_proxy_upstreams_healthy{other="e:6"} 0
caddy_reverse_proxy_upstreams_healthy{upstream="f:7"} x
caddy_reverse_proxy_upstreams_healthy_total{upstream="g:8"} 0
`)).healthy
	want := map[string]bool{"a:1": true, "b:2": false, `q"\:3`: false}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestServices(t *testing.T) {
	_, proxies, err := parseConfig([]byte(caddyfileConfig))
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]upstreamStatus{"10.0.0.5:8080": {}, "10.0.0.6:8080": {Fails: 1}, "[::1]:9000": {}}
	metrics := parseMetrics([]byte(`caddy_http_requests_total{handler="reverse_proxy",server="srv0"} 12
caddy_http_requests_total{handler="subroute",server="srv0"} 40
caddy_http_request_errors_total{handler="reverse_proxy",server="srv0"} 2
caddy_http_requests_in_flight{handler="reverse_proxy",server="srv0"} 1
caddy_http_response_duration_seconds_count{code="200",handler="reverse_proxy",method="GET",server="srv0"} 7
caddy_http_response_duration_seconds_count{code="503",handler="reverse_proxy",method="GET",server="srv0"} 2
`))
	got := services(proxies, status, metrics)
	const (
		upstream   = "caddy counts no traffic per upstream, only per server and handler"
		inSubroute = "caddy counts server srv0's requests by top-level handler, and this reverse_proxy shares its subroute's count with other routes"
		off        = "caddy counts no requests of server srv1: its metrics are off (servers { metrics } in the Caddyfile)"
	)
	want := []source.Service{
		{Name: "example.com/api", Labels: map[string]string{"server": "srv0"}, TrafficNote: inSubroute, Instances: []source.Instance{
			{Name: "10.0.0.5:8080", Address: "10.0.0.5", Port: 8080, Position: 0, Health: source.HealthUp, Weight: 1, TrafficNote: upstream},
			{Name: "10.0.0.6:8080", Address: "10.0.0.6", Port: 8080, Position: 1, Health: source.HealthDown, Weight: 1, TrafficNote: upstream},
		}},
		{Name: "static.example.com", Labels: map[string]string{"server": "srv0"},
			// 12 requests: 7 answered 200, 2 answered 503 by the upstreams, 2 failed in Caddy,
			// 1 still in flight.
			Traffic: source.Traffic{"requests": 12, "http_5xx": 2, "response_errors": 2, "sessions": 1},
			Instances: []source.Instance{
				{Name: "unix//run/app.sock", Address: "unix//run/app.sock", Position: 0, Health: source.HealthUnknown, Weight: 3, TrafficNote: upstream},
				{Name: "[::1]:9000", Address: "::1", Port: 9000, Position: 1, Health: source.HealthUp, Weight: 1, TrafficNote: upstream},
			}},
		{Name: "srv1/route0", Labels: map[string]string{"server": "srv1"}, TrafficNote: off, Instances: []source.Instance{
			{Name: "{http.request.host}:80", Address: "{http.request.host}", Port: 80, Position: 0, Health: source.HealthUnknown, Weight: 1, TrafficNote: upstream},
		}},
		{Name: "srv1/v1", Labels: map[string]string{"server": "srv1"}, TrafficNote: off, Instances: []source.Instance{
			{Name: "tcp/127.0.0.1:81", Address: "127.0.0.1", Port: 81, Position: 0, Health: source.HealthUnknown, Weight: 1, TrafficNote: upstream},
		}},
		{Name: "srv1/v1#2", Labels: map[string]string{"server": "srv1", "dynamic_upstreams": "srv"}, TrafficNote: off},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("services:\n got %+v\nwant %+v", got, want)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(caddyfileConfig))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"apps":{"http":{"servers":{"a":{"routes":[{"match":[{"path":["*"]}],"handle":[{"handler":"reverse_proxy","upstreams":[{"dial":"x"}]}]}]}}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, proxies, err := parseConfig(b)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, s := range services(proxies, nil, caddyMetrics{}) {
			if seen[s.Name] {
				t.Fatalf("service name %q twice", s.Name)
			}
			seen[s.Name] = true
			for i, in := range s.Instances {
				if in.Position != i || in.Port < 0 || in.Port > 65535 || in.Weight < 1 {
					t.Fatalf("bad instance %+v at %d", in, i)
				}
			}
		}
	})
}

func FuzzParseUpstreamsAndMetrics(f *testing.F) {
	f.Add([]byte(`[{"address":"127.0.0.1:8081","num_requests":0,"fails":0}]`))
	f.Add([]byte(`caddy_reverse_proxy_upstreams_healthy{upstream="127.0.0.1:8081"} 1` + "\n"))
	f.Add([]byte(`caddy_reverse_proxy_upstreams_healthy{upstream="a\\",b="c"} 0`))
	f.Add([]byte(caddy26Metrics))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseUpstreams(b)
		_ = parseMetrics(b)
	})
}

// TestMetered: a proxy gets the request counts of the top-level handler whose every request
// reaches it and no other proxy, as Caddy 2.6 counts them, or none and the reason.
func TestMetered(t *testing.T) {
	const (
		rp        = `{"handler":"reverse_proxy","upstreams":[{"dial":"10.0.0.5:80"}]}`
		subrouted = `{"match":[{"host":["%s"]}],"handle":[{"handler":"subroute","routes":[{"handle":[` + rp + `]}]}],"terminal":true}`
	)
	server := func(metrics string, routes ...string) string {
		return `{"apps":{"http":{"servers":{"srv0":{"listen":[":443"],` + metrics + `"routes":[` + strings.Join(routes, ",") + `]}}}}}`
	}
	site := func(host string) string { return strings.Replace(subrouted, "%s", host, 1) }
	tests := []struct {
		name, config string
		want         []string // per proxy: the handler label, or the reason
	}{
		{"a Caddyfile's one site: its subroute", server(`"metrics":{},`, site("example.com")), []string{"subroute"}},
		{"a top-level reverse_proxy", server(`"metrics":{},`, `{"handle":[{"handler":"headers"},`+rp+`]}`), []string{"reverse_proxy"}},
		{"a subroute's first route in a subroute's first route", server(`"metrics":{},`,
			`{"handle":[{"handler":"subroute","routes":[{"handle":[{"handler":"subroute","routes":[{"handle":[`+rp+`]}]}]}]}]}`),
			[]string{"subroute"}},
		{"metrics off", server(``, site("example.com")),
			[]string{"caddy counts no requests of server srv0: its metrics are off (servers { metrics } in the Caddyfile)"}},
		{"two sites share the subroute count", server(`"metrics":{},`, site("a.example.com"), site("b.example.com")), []string{
			"caddy counts server srv0's requests by top-level handler, and 2 subroute handlers share this one's count",
			"caddy counts server srv0's requests by top-level handler, and 2 subroute handlers share this one's count",
		}},
		{"two top-level proxies share theirs", server(`"metrics":{},`, `{"match":[{"path":["/a"]}],"handle":[`+rp+`]}`, `{"handle":[`+rp+`]}`), []string{
			"caddy counts server srv0's requests by top-level handler, and 2 reverse_proxy handlers share this one's count",
			"caddy counts server srv0's requests by top-level handler, and 2 reverse_proxy handlers share this one's count",
		}},
		{"a matcher in the subroute", server(`"metrics":{},`,
			`{"handle":[{"handler":"subroute","routes":[{"match":[{"path":["/api/*"]}],"handle":[`+rp+`]}]}]}`),
			[]string{"caddy counts server srv0's requests by top-level handler, and this reverse_proxy shares its subroute's count with other routes"}},
		{"a handler before it in the subroute (encode)", server(`"metrics":{},`,
			`{"handle":[{"handler":"subroute","routes":[{"handle":[{"handler":"encode"},`+rp+`]}]}]}`),
			[]string{"caddy counts server srv0's requests by top-level handler, and this reverse_proxy shares its subroute's count with other routes"}},
		{"not the subroute's first route", server(`"metrics":{},`,
			`{"handle":[{"handler":"subroute","routes":[{"handle":[{"handler":"vars"}]},{"handle":[`+rp+`]}]}]}`),
			[]string{"caddy counts server srv0's requests by top-level handler, and this reverse_proxy shares its subroute's count with other routes"}},
		{"a named route shares it", server(`"metrics":{},"named_routes":{"api":{"handle":[`+rp+`]}},`, `{"handle":[`+rp+`]}`), []string{
			"caddy counts server srv0's requests by top-level handler, and 2 reverse_proxy handlers share this one's count",
		}},
		{"caddy 2.9's app metrics", `{"apps":{"http":{"metrics":{},"servers":{"srv0":{"routes":[{"handle":[` + rp + `]}]}}}}}`,
			[]string{"strata reads the request counts of caddy 2.6 to 2.8 (servers { metrics }), not those of apps.http.metrics (caddy 2.9 and later)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, proxies, err := parseConfig([]byte(tt.config))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range proxies {
				got = append(got, p.metered+p.unmetered)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}
