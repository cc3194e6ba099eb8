package caddy

import (
	"reflect"
	"strings"
	"testing"

	"github.com/strata-obs/strata/topology/source"
)

// caddyfileConfig is what `caddy adapt` makes of a Caddyfile with two sites: the reverse
// proxies sit in subroutes under a host matcher, as in most real configs.
const caddyfileConfig = `{"apps":{"http":{"servers":{"srv0":{"listen":[":443"],"routes":[
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
	want := []proxy{
		{server: "srv0", name: "example.com/api", dials: []string{"10.0.0.5:8080", "10.0.0.6:8080"}},
		{server: "srv0", name: "static.example.com", dials: []string{"unix//run/app.sock", "[::1]:9000"}, weights: []int{3, 1}},
		{server: "srv1", name: "srv1/route0", dials: []string{"{http.request.host}:80"}},
		{server: "srv1", name: "srv1/v1", dials: []string{"tcp/127.0.0.1:81"}},
		{server: "srv1", name: "srv1/v1", dynamic: "srv"},
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
			for _, s := range services(proxies, nil, nil) {
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
	active := parseHealthyGauge([]byte(`# HELP caddy_reverse_proxy_upstreams_healthy Health status of reverse proxy upstreams.
# TYPE caddy_reverse_proxy_upstreams_healthy gauge
caddy_reverse_proxy_upstreams_healthy{upstream="10.0.0.1:80"} 1
caddy_reverse_proxy_upstreams_healthy{upstream="10.0.0.3:80"} 0
caddy_reverse_proxy_upstreams_healthy{upstream="10.0.0.5:80"} 0
`))
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
	got := parseHealthyGauge([]byte(`caddy_reverse_proxy_upstreams_healthy{upstream="a:1"} 1
caddy_reverse_proxy_upstreams_healthy{ upstream = "b:2" , x="y"} 0 1700000000000
caddy_reverse_proxy_upstreams_healthy{upstream="q\"\\:3"} 0
caddy_reverse_proxy_upstreams_healthy{upstream="c:4"}
caddy_reverse_proxy_upstreams_healthy{upstream="d:5} 0
caddy_reverse_proxy_upstreams_healthy{other="e:6"} 0
caddy_reverse_proxy_upstreams_healthy{upstream="f:7"} x
caddy_reverse_proxy_upstreams_healthy_total{upstream="g:8"} 0
`))
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
	got := services(proxies, status, nil)
	want := []source.Service{
		{Name: "example.com/api", Labels: map[string]string{"server": "srv0"}, Instances: []source.Instance{
			{Name: "10.0.0.5:8080", Address: "10.0.0.5", Port: 8080, Position: 0, Health: source.HealthUp, Weight: 1},
			{Name: "10.0.0.6:8080", Address: "10.0.0.6", Port: 8080, Position: 1, Health: source.HealthDown, Weight: 1},
		}},
		{Name: "static.example.com", Labels: map[string]string{"server": "srv0"}, Instances: []source.Instance{
			{Name: "unix//run/app.sock", Address: "unix//run/app.sock", Position: 0, Health: source.HealthUnknown, Weight: 3},
			{Name: "[::1]:9000", Address: "::1", Port: 9000, Position: 1, Health: source.HealthUp, Weight: 1},
		}},
		{Name: "srv1/route0", Labels: map[string]string{"server": "srv1"}, Instances: []source.Instance{
			{Name: "{http.request.host}:80", Address: "{http.request.host}", Port: 80, Position: 0, Health: source.HealthUnknown, Weight: 1},
		}},
		{Name: "srv1/v1", Labels: map[string]string{"server": "srv1"}, Instances: []source.Instance{
			{Name: "tcp/127.0.0.1:81", Address: "127.0.0.1", Port: 81, Position: 0, Health: source.HealthUnknown, Weight: 1},
		}},
		{Name: "srv1/v1#2", Labels: map[string]string{"server": "srv1", "dynamic_upstreams": "srv"}},
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
		for _, s := range services(proxies, nil, nil) {
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
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseUpstreams(b)
		_ = parseHealthyGauge(b)
	})
}
