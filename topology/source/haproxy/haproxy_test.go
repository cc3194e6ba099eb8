package haproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/topology/source"
)

// These tests run the real HAProxy (Debian's haproxy package; .ci/run installs it), each its
// own, from a configuration written into the test's directory. Everything listens on
// 127.0.0.1 only.

// The runtime API's unix socket is testenv.StartHAProxy's to add.
const haproxyConfig = `global
  stats socket ipv4@127.0.0.1:{{tcp_api_port}} level admin
  maxconn 256

` + testenv.HAProxyDefaults + `
frontend fe
  bind 127.0.0.1:{{frontend_port}}
  option socket-stats
  default_backend c1ps

frontend stats
  bind 127.0.0.1:{{stats_port}}
  stats enable
  stats uri /stats
  stats show-legends

backend c1ps
  server c1ps-0 {{c1ps-0}} check inter 200ms fall 1 rise 1
  server c1ps-1 {{c1ps-1}} check inter 200ms fall 1 rise 1
  server c1ps-2 {{c1ps-2}} check inter 200ms fall 1 rise 1

backend weighted
  server heavy {{c1ps-0}} weight 50 check inter 200ms fall 1 rise 1
  server light {{c1ps-1}} weight 5 check inter 200ms fall 1 rise 1
  server unchecked {{c1ps-2}} weight 20

backend empty
`

// realHAProxy is one HAProxy process with c1ps's three servers as net/http test servers.
type realHAProxy struct {
	*testenv.HAProxy
	tcpAPI   string // tcp://127.0.0.1:port, the runtime API over TCP
	statsURL string // the stats page as CSV
	frontend string // fe's bind address
	c1ps     []*httptest.Server
}

func startHAProxy(t *testing.T) *realHAProxy {
	t.Helper()
	h := &realHAProxy{}
	for range 3 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "ok\n")
		}))
		t.Cleanup(srv.Close)
		h.c1ps = append(h.c1ps, srv)
	}
	h.HAProxy = testenv.StartHAProxy(t, func() string {
		tcpPort, frontendPort, statsPort := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
		h.tcpAPI = fmt.Sprintf("tcp://127.0.0.1:%d", tcpPort)
		h.statsURL = fmt.Sprintf("http://127.0.0.1:%d/stats;csv", statsPort)
		h.frontend = fmt.Sprintf("127.0.0.1:%d", frontendPort)
		return strings.NewReplacer(
			"{{tcp_api_port}}", strconv.Itoa(tcpPort),
			"{{frontend_port}}", strconv.Itoa(frontendPort),
			"{{stats_port}}", strconv.Itoa(statsPort),
			"{{c1ps-0}}", h.c1ps[0].Listener.Addr().String(),
			"{{c1ps-1}}", h.c1ps[1].Listener.Addr().String(),
			"{{c1ps-2}}", h.c1ps[2].Listener.Addr().String(),
		).Replace(haproxyConfig)
	})
	return h
}

// source returns a Source reading h through the unix socket, the TCP runtime API or the stats
// page ("unix", "tcp", "http").
func (h *realHAProxy) source(t *testing.T, via string) *Source {
	t.Helper()
	cfg := Config{Name: "edge"}
	switch via {
	case "unix":
		cfg.RuntimeAPI = "unix://" + h.Socket
	case "tcp":
		cfg.RuntimeAPI = h.tcpAPI
	case "http":
		cfg.StatsURL = h.statsURL
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// command sends one command to the runtime API, as an operator would with socat.
func (h *realHAProxy) command(t *testing.T, command string) {
	t.Helper()
	t.Logf("%s: %q", command, h.Command(t, command))
}

func (h *realHAProxy) list(t *testing.T, s *Source) source.LB {
	t.Helper()
	lbs, err := s.ListLoadBalancers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(lbs) != 1 {
		t.Fatalf("%d lbs, want 1", len(lbs))
	}
	return lbs[0]
}

// addrPort splits a test server's address.
func addrPort(srv *httptest.Server) (string, int) {
	a := srv.Listener.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

// waitForLB polls s until ok accepts its lb, for up to 5 s (checks run every 200 ms).
func waitForLB(t *testing.T, h *realHAProxy, s *Source, what string, ok func(source.LB) bool) source.LB {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		lb := h.list(t, s)
		if ok(lb) {
			return lb
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 5s, still not %s: %+v", what, lb)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func healths(lb source.LB, service string) []string {
	var hs []string
	for _, svc := range lb.Services {
		if svc.Name == service {
			for _, inst := range svc.Instances {
				hs = append(hs, inst.Health)
			}
		}
	}
	return hs
}

func healthsAre(service string, want ...string) func(source.LB) bool {
	return func(lb source.LB) bool { return slices.Equal(healths(lb, service), want) }
}

// The lb holds every backend, the empty one too, with its servers in the configuration's
// order, their addresses, ports and weights; all UP once the checks pass, the server without
// checks too; and fe's listener as the lb's address.
func TestRealHAProxyServersInConfigOrder(t *testing.T) {
	h := startHAProxy(t)
	s := h.source(t, "unix")
	up := source.HealthUp
	lb := waitForLB(t, h, s, "all up", healthsAre("c1ps", up, up, up))

	inst := func(pos int, name string, srv *httptest.Server, weight int) source.Instance {
		addr, port := addrPort(srv)
		return source.Instance{Name: name, Address: addr, Port: port, Position: pos, Health: up, Weight: weight}
	}
	want := source.LB{
		Name: "edge", Provider: "haproxy",
		Addresses: []string{h.frontend},
		Services: []source.Service{
			{Name: "c1ps", Instances: []source.Instance{
				inst(0, "c1ps-0", h.c1ps[0], 1),
				inst(1, "c1ps-1", h.c1ps[1], 1),
				inst(2, "c1ps-2", h.c1ps[2], 1),
			}},
			{Name: "weighted", Instances: []source.Instance{
				inst(0, "heavy", h.c1ps[0], 50),
				inst(1, "light", h.c1ps[1], 5),
				inst(2, "unchecked", h.c1ps[2], 20),
			}},
			{Name: "empty"},
		},
	}
	if diff := cmp.Diff(want, lb, ignoreTraffic); diff != "" {
		t.Errorf("lb (-want +got):\n%s", diff)
	}
}

// Health follows HAProxy: a server that stops answering turns DOWN, `disable server` puts one
// in MAINT, `set server … state drain` in DRAIN, and `enable server` brings it back.
func TestRealHAProxyHealth(t *testing.T) {
	h := startHAProxy(t)
	s := h.source(t, "unix")
	up, down, maint, drain := source.HealthUp, source.HealthDown, source.HealthMaint, source.HealthDrain
	waitForLB(t, h, s, "all up", healthsAre("c1ps", up, up, up))

	h.c1ps[1].Close()
	waitForLB(t, h, s, "c1ps-1 down", healthsAre("c1ps", up, down, up))

	h.command(t, "disable server c1ps/c1ps-0")
	waitForLB(t, h, s, "c1ps-0 in maintenance", healthsAre("c1ps", maint, down, up))

	h.command(t, "set server c1ps/c1ps-2 state drain")
	waitForLB(t, h, s, "c1ps-2 draining", healthsAre("c1ps", maint, down, drain))

	h.command(t, "enable server c1ps/c1ps-0")
	waitForLB(t, h, s, "c1ps-0 back", healthsAre("c1ps", up, down, drain))

	// The weighted backend shares the stopped server: `light` is checked and follows, while
	// `unchecked` stays UP as far as HAProxy knows.
	waitForLB(t, h, s, "weighted's light down", healthsAre("weighted", up, down, up))
}

// `set server … addr … port …` shows at once, over the runtime API and on the stats page:
// this is how the time-travel tests change an instance's address.
func TestRealHAProxySetServerAddr(t *testing.T) {
	h := startHAProxy(t)
	port := testenv.FreePort(t)
	h.command(t, fmt.Sprintf("set server c1ps/c1ps-1 addr 127.0.0.2 port %d", port))
	for _, via := range []string{"unix", "tcp", "http"} {
		lb := h.list(t, h.source(t, via))
		got := lb.Services[0].Instances[1]
		if got.Name != "c1ps-1" || got.Address != "127.0.0.2" || got.Port != port {
			t.Errorf("%s: c1ps's instance 1 is %s at %s:%d, want c1ps-1 at 127.0.0.2:%d", via, got.Name, got.Address, got.Port, port)
		}
	}
}

// The runtime API over unix and TCP sockets and the stats page as CSV give the same lb:
// services, instances, addresses, weights and health.
func TestRealHAProxyStatsPageMatchesRuntimeAPI(t *testing.T) {
	h := startHAProxy(t)
	unix, tcp, page := h.source(t, "unix"), h.source(t, "tcp"), h.source(t, "http")
	up, down, maint, drain := source.HealthUp, source.HealthDown, source.HealthMaint, source.HealthDrain
	waitForLB(t, h, unix, "all up", healthsAre("c1ps", up, up, up))
	h.c1ps[2].Close()
	h.command(t, "disable server c1ps/c1ps-0")
	h.command(t, "set server c1ps/c1ps-1 state drain")
	want := waitForLB(t, h, unix, "settled", healthsAre("c1ps", maint, drain, down))

	for name, s := range map[string]*Source{"tcp runtime API": tcp, "stats page": page} {
		got := h.list(t, s)
		if diff := cmp.Diff(want, got, ignoreTraffic); diff != "" {
			t.Errorf("%s differs from the unix socket (-unix +%s):\n%s", name, name, diff)
		}
	}
}

// A stopped HAProxy is an error at once, through each way in: the caller marks the source
// stale; nothing waits for the timeout or panics.
func TestRealHAProxyStopped(t *testing.T) {
	h := startHAProxy(t)
	sources := map[string]*Source{"unix": h.source(t, "unix"), "tcp": h.source(t, "tcp"), "http": h.source(t, "http")}
	h.Process.Stop()
	for via, s := range sources {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		lbs, err := s.ListLoadBalancers(ctx)
		took := time.Since(start)
		cancel()
		if err == nil {
			t.Errorf("%s: no error from a stopped HAProxy, %d lbs", via, len(lbs))
			continue
		}
		if errors.Is(err, context.DeadlineExceeded) || took > 2*time.Second {
			t.Errorf("%s: waited %v for a stopped HAProxy: %v", via, took, err)
		}
		t.Logf("%s: %v", via, err)
	}
}
