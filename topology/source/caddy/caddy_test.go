package caddy_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/caddy"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		cfg  caddy.Config
		err  string
	}{
		{"ok", caddy.Config{Name: "web", AdminURL: "http://127.0.0.1:2019"}, ""},
		{"https with a path", caddy.Config{Name: "web", AdminURL: "https://caddy.internal/admin/"}, ""},
		{"no name", caddy.Config{AdminURL: "http://127.0.0.1:2019"}, "name is empty"},
		{"no url", caddy.Config{Name: "web"}, "admin_url is empty"},
		{"no scheme", caddy.Config{Name: "web", AdminURL: "127.0.0.1:2019"}, "not an http(s) URL"},
		{"unix", caddy.Config{Name: "web", AdminURL: "unix:///run/caddy.sock"}, "not an http(s) URL"},
		{"bad url", caddy.Config{Name: "web", AdminURL: "http://[::1"}, "admin_url"},
		{"negative timeout", caddy.Config{Name: "web", AdminURL: "http://127.0.0.1:2019", Timeout: -time.Second}, "negative timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := caddy.New(tt.cfg)
			if tt.err == "" {
				if err != nil || s.Name() != tt.cfg.Name {
					t.Fatalf("New = %v, %v", s, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("err = %v, want …%s…", err, tt.err)
			}
		})
	}
}

// TestBadAdminAnswers serves what a wrong URL, a proxy in front of Caddy or a dying Caddy
// answers: each is a clear error, none a panic.
func TestBadAdminAnswers(t *testing.T) {
	const config = `{"apps":{"http":{"servers":{"a":{"listen":[":80"],"routes":[{"handle":[
		{"handler":"reverse_proxy","upstreams":[{"dial":"127.0.0.1:8081"}]}]}]}}}}}`
	const upstreams = `[{"address":"127.0.0.1:8081","num_requests":0,"fails":0}]`
	tests := []struct {
		name              string
		config, upstreams string // "" answers 404
		want              string
	}{
		{"html", "<html><body>Welcome to nginx!</body></html>", upstreams, "decode caddy config: response is HTML"},
		{"truncated config", config[:40], upstreams, "unexpected end of JSON input"},
		{"no config endpoint", "", upstreams, "404 Not Found"},
		{"no upstreams endpoint", config, "", "read caddy upstreams: GET http://"},
		{"truncated upstreams", config, upstreams[:20], "decode upstream status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mux := http.NewServeMux()
			answer := func(path, body string) {
				mux.HandleFunc("GET "+path, func(w http.ResponseWriter, _ *http.Request) {
					if body == "" {
						http.NotFound(w, nil)
						return
					}
					io.WriteString(w, body)
				})
			}
			answer("/config/", tt.config)
			answer("/reverse_proxy/upstreams", tt.upstreams)
			srv := httptest.NewServer(mux)
			defer srv.Close()
			s, err := caddy.New(caddy.Config{Name: "web", AdminURL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			lbs, err := s.ListLoadBalancers(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ListLoadBalancers = %v, %v; want error …%s…", lbs, err, tt.want)
			}
		})
	}

	t.Run("connection refused", func(t *testing.T) {
		s, err := caddy.New(caddy.Config{Name: "web", AdminURL: "http://" + testenv.FreeAddr(t)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ListLoadBalancers(context.Background()); err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("err = %v, want connection refused", err)
		}
	})
	t.Run("metrics missing is no error", func(t *testing.T) {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /config/", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, config) })
		mux.HandleFunc("GET /reverse_proxy/upstreams", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, upstreams) })
		srv := httptest.NewServer(mux)
		defer srv.Close()
		s, _ := caddy.New(caddy.Config{Name: "web", AdminURL: srv.URL})
		lbs, err := s.ListLoadBalancers(context.Background())
		if err != nil || len(lbs) != 1 || lbs[0].Services[0].Instances[0].Health != source.HealthUp {
			t.Errorf("ListLoadBalancers = %+v, %v; want the upstream UP", lbs, err)
		}
	})
}

// TestRealCaddy runs Debian's caddy with two servers: "web" proxies example.com/api/* (in a
// subroute, as the Caddyfile adapter writes it) to u1 and u2 with active health checks;
// "passive" proxies to u3 and u4 with passive health checks and has a route with dynamic
// upstreams. Then u2 and u4 stop.
func TestRealCaddy(t *testing.T) {
	u1, u2, u3, u4 := upstream(t, "u1"), upstream(t, "u2"), upstream(t, "u3"), upstream(t, "u4")
	webAddr, passiveAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)

	proxyTo := func(ups ...*httptest.Server) []any {
		var list []any
		for _, u := range ups {
			list = append(list, map[string]any{"dial": u.Listener.Addr().String()})
		}
		return list
	}
	// StartCaddy disables automatic HTTPS on both: web's host matcher would turn it on, and
	// Caddy would serve TLS and ask an ACME CA for example.com's certificate.
	proc := testenv.StartCaddy(t, map[string]any{
		"web": map[string]any{
			"listen": []string{webAddr},
			"routes": []any{map[string]any{
				"match": []any{map[string]any{"host": []string{"example.com"}}},
				"handle": []any{map[string]any{"handler": "subroute", "routes": []any{map[string]any{
					"match": []any{map[string]any{"path": []string{"/api/*"}}},
					"handle": []any{map[string]any{
						"handler":   "reverse_proxy",
						"upstreams": proxyTo(u1, u2),
						"health_checks": map[string]any{"active": map[string]any{
							"uri": "/", "interval": "100ms", "timeout": "1s",
						}},
					}},
				}}}},
			}},
		},
		"passive": map[string]any{
			"listen": []string{passiveAddr},
			"routes": []any{
				map[string]any{
					"match": []any{map[string]any{"path": []string{"/dyn/*"}}},
					"handle": []any{map[string]any{
						"handler":           "reverse_proxy",
						"dynamic_upstreams": map[string]any{"source": "a", "name": "localhost", "port": "9"},
					}},
				},
				map[string]any{"handle": []any{map[string]any{
					"handler":        "reverse_proxy",
					"upstreams":      proxyTo(u3, u4),
					"load_balancing": map[string]any{"selection_policy": map[string]any{"policy": "round_robin"}},
					"health_checks": map[string]any{"passive": map[string]any{
						"fail_duration": "1m", "max_fails": 1,
					}},
				}}},
			},
		},
	})

	// The config is real: a request through the web server reaches u1 or u2.
	if body := get(t, "http://"+webAddr+"/api/hello", "example.com"); body != "u1" && body != "u2" {
		t.Fatalf("request through caddy answered %q, want u1 or u2", body)
	}

	s, err := caddy.New(caddy.Config{Name: "web-lb", AdminURL: "http://" + proc.Admin, Host: "node-1", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	lbs, err := s.ListLoadBalancers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	instance := func(u *httptest.Server, pos int, health string) source.Instance {
		addr := u.Listener.Addr().(*net.TCPAddr)
		return source.Instance{Name: addr.String(), Address: "127.0.0.1", Port: addr.Port, Position: pos, Health: health, Weight: 1,
			TrafficNote: upstreamNote}
	}
	off := func(server string) string {
		return "caddy counts no requests of server " + server + ": its metrics are off (servers { metrics } in the Caddyfile)"
	}
	want := []source.LB{{
		Name: "web-lb", Provider: "caddy", Host: "node-1",
		Addresses: []string{passiveAddr, webAddr}, // servers in name order
		Services: []source.Service{
			{Name: "passive/dyn", Labels: map[string]string{"server": "passive", "dynamic_upstreams": "a"}, TrafficNote: off("passive")},
			{Name: "passive/route1", Labels: map[string]string{"server": "passive"}, TrafficNote: off("passive"), Instances: []source.Instance{
				instance(u3, 0, source.HealthUp), instance(u4, 1, source.HealthUp),
			}},
			{Name: "example.com/api", Labels: map[string]string{"server": "web"}, TrafficNote: off("web"), Instances: []source.Instance{
				instance(u1, 0, source.HealthUp), instance(u2, 1, source.HealthUp),
			}},
		},
	}}
	if !reflect.DeepEqual(lbs, want) {
		t.Fatalf("caddy with all upstreams up:\n got %+v\nwant %+v", lbs, want)
	}

	u2.Close()
	u4.Close()

	// Passive health: Caddy counts a failed request against u4 at once (round robin sends
	// every second request there), and /reverse_proxy/upstreams shows the count.
	failed := false
	for i := 0; i < 10 && !failed; i++ {
		failed = statusOf(t, "http://"+passiveAddr+"/") == http.StatusBadGateway
	}
	if !failed {
		t.Fatalf("no request through caddy failed after u4 stopped\ncaddy's log:\n%s", proc.Process.Log())
	}
	want[0].Services[1].Instances[1].Health = source.HealthDown
	lbs, err = s.ListLoadBalancers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := lbs[0].Services[1]; !reflect.DeepEqual(got, want[0].Services[1]) {
		t.Errorf("after u4 stopped and a request failed:\n got %+v\nwant %+v", got, want[0].Services[1])
	}

	// Active health: the checks see u2 refuse connections within 100 ms, but Caddy 2.6 shows
	// it only through /metrics, whose gauge it refreshes every 10 s.
	want[0].Services[2].Instances[1].Health = source.HealthDown
	start := time.Now()
	for {
		lbs, err = s.ListLoadBalancers(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got := lbs[0].Services[2]; reflect.DeepEqual(got, want[0].Services[2]) {
			t.Logf("u2 DOWN %s after it stopped", time.Since(start).Round(100*time.Millisecond))
			break
		}
		if time.Since(start) > 15*time.Second {
			t.Fatalf("15 s after u2 stopped:\n got %+v\nwant %+v\ncaddy's log:\n%s", lbs[0].Services[2], want[0].Services[2], proc.Process.Log())
		}
		time.Sleep(250 * time.Millisecond)
	}

	// Caddy stopped: the next read fails at once, well before its timeout.
	proc.Process.Stop()
	start = time.Now()
	lbs, err = s.ListLoadBalancers(context.Background())
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("with caddy stopped: %+v, %v; want connection refused", lbs, err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("with caddy stopped the error took %s", took)
	}
}

// upstream is a backend on 127.0.0.1 that answers its name.
func upstream(t *testing.T, name string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, name)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// request GETs url with that Host header ("" for the URL's).
func request(t *testing.T, url, host string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func get(t *testing.T, url, host string) string {
	t.Helper()
	resp := request(t, url, host)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	return string(b)
}

func statusOf(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// upstreamNote is every Caddy instance's signal_note: Caddy counts nothing per upstream.
const upstreamNote = "caddy counts no traffic per upstream, only per server and handler"

// TestRealCaddyTraffic runs Caddy with its metrics on and two servers: "web" is the one site
// of a Caddyfile (example.com, a subroute, a reverse_proxy to ok and to bad, which answers 500
// to every request), "dead" a top-level reverse_proxy to a port where nothing listens (Caddy
// answers 502 itself). The services' counts are what the clients saw and what Caddy's own
// /metrics says; the instances have none, and say why. Caddy restarted counts from zero again.
func TestRealCaddyTraffic(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(ok.Close)
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	t.Cleanup(bad.Close)
	webAddr, deadAddr, nowhere := testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t)
	servers := func() map[string]any {
		return map[string]any{
			"web": map[string]any{
				"listen":  []string{webAddr},
				"metrics": map[string]any{},
				"routes": []any{map[string]any{
					"match": []any{map[string]any{"host": []string{"example.com"}}},
					"handle": []any{map[string]any{"handler": "subroute", "routes": []any{map[string]any{
						"handle": []any{map[string]any{
							"handler":        "reverse_proxy",
							"upstreams":      []any{map[string]any{"dial": hostPort(ok)}, map[string]any{"dial": hostPort(bad)}},
							"load_balancing": map[string]any{"selection_policy": map[string]any{"policy": "round_robin"}},
						}},
					}}}},
					"terminal": true,
				}},
			},
			"dead": map[string]any{
				"listen":  []string{deadAddr},
				"metrics": map[string]any{},
				"routes": []any{map[string]any{"handle": []any{map[string]any{
					"handler": "reverse_proxy", "upstreams": []any{map[string]any{"dial": nowhere}},
				}}}},
			},
		}
	}
	// send makes n requests through web and m through dead, and counts what the clients got.
	send := func(n, m int) (answers map[int]int) {
		answers = map[int]int{}
		for range n {
			answers[statusOfHost(t, "http://"+webAddr+"/", "example.com")]++
		}
		for range m {
			answers[statusOfHost(t, "http://"+deadAddr+"/", "")]++
		}
		return answers
	}

	proc := testenv.StartCaddy(t, servers())
	answers := send(20, 3)
	if want := map[int]int{200: 10, 500: 10, 502: 3}; !reflect.DeepEqual(answers, want) {
		t.Fatalf("the clients got %v, want %v (round robin over ok and bad, dead refused)", answers, want)
	}
	web, dead := read(t, proc.Admin)
	wantWeb := source.Traffic{"requests": 20, "http_5xx": 10, "response_errors": 0, "sessions": 0}
	wantDead := source.Traffic{"requests": 3, "http_5xx": 0, "response_errors": 3, "sessions": 0}
	if !reflect.DeepEqual(web.Traffic, wantWeb) || !reflect.DeepEqual(dead.Traffic, wantDead) {
		t.Errorf("counts:\n web %v, want %v\ndead %v, want %v", web.Traffic, wantWeb, dead.Traffic, wantDead)
	}
	caddySays(t, proc.Admin, "web", "subroute", web.Traffic)
	caddySays(t, proc.Admin, "dead", "reverse_proxy", dead.Traffic)
	for _, svc := range []source.Service{web, dead} {
		if svc.TrafficNote != "" {
			t.Errorf("service %s: note %q beside its counts", svc.Name, svc.TrafficNote)
		}
		for _, inst := range svc.Instances {
			if inst.Traffic != nil || inst.TrafficNote != upstreamNote {
				t.Errorf("instance %s: traffic %v, note %q; want none and %q", inst.Name, inst.Traffic, inst.TrafficNote, upstreamNote)
			}
		}
	}

	// Caddy restarted (the same configuration, a new process): its counts start from zero,
	// below the last ones, which the refresh takes for a restart and makes no rate of.
	proc.Process.Stop()
	proc = testenv.StartCaddy(t, servers())
	send(2, 0)
	web, dead = read(t, proc.Admin)
	if web.Traffic["requests"] != 2 || dead.Traffic["requests"] != 0 {
		t.Errorf("after a restart: web %v, dead %v; want 2 and 0 requests", web.Traffic, dead.Traffic)
	}
	caddySays(t, proc.Admin, "web", "subroute", web.Traffic)
}

// read lists the LB of the Caddy at admin and returns its services web and dead.
func read(t *testing.T, admin string) (web, dead source.Service) {
	t.Helper()
	s, err := caddy.New(caddy.Config{Name: "edge", AdminURL: "http://" + admin})
	if err != nil {
		t.Fatal(err)
	}
	lbs, err := s.ListLoadBalancers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range lbs[0].Services {
		switch svc.Name {
		case "example.com":
			web = svc
		case "dead/route0":
			dead = svc
		}
	}
	if web.Name == "" || dead.Name == "" {
		t.Fatalf("services %+v, want example.com and dead/route0", lbs[0].Services)
	}
	return web, dead
}

// caddySays checks counts against Caddy's own /metrics, scraped and parsed apart from the
// source: requests, errors and requests in flight of the server's handler, and the 5xx
// counts of its times to first byte.
func caddySays(t *testing.T, admin, server, handler string, got source.Traffic) {
	t.Helper()
	fams, err := testenv.Scrape(nil, "http://"+admin+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"server": server, "handler": handler}
	value := func(name string) float64 {
		sum := 0.0
		for _, s := range fams.Samples(name, labels) {
			sum += s.Value
		}
		return sum
	}
	fivexx := 0.0
	for _, m := range fams["caddy_http_response_duration_seconds"].GetMetric() {
		l := map[string]string{}
		for _, lp := range m.GetLabel() {
			l[lp.GetName()] = lp.GetValue()
		}
		if testenv.Matches(l, labels) && strings.HasPrefix(l["code"], "5") {
			fivexx += float64(m.GetHistogram().GetSampleCount())
		}
	}
	want := source.Traffic{
		"requests":        value("caddy_http_requests_total"),
		"http_5xx":        fivexx,
		"response_errors": value("caddy_http_request_errors_total"),
		"sessions":        value("caddy_http_requests_in_flight"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("server %s: the source counts %v, caddy's /metrics %v", server, got, want)
	}
}

func hostPort(srv *httptest.Server) string { return srv.Listener.Addr().String() }

func statusOfHost(t *testing.T, url, host string) int {
	t.Helper()
	resp := request(t, url, host)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
