package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestLoopbackHosts: strata up answers requests addressed to it by an IP address or as
// localhost, and refuses any other name: a page that points a name of its own at 127.0.0.1
// (DNS rebinding) gets a 403, not the graph.
func TestLoopbackHosts(t *testing.T) {
	h := loopbackHosts(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("the graph")) }))
	for host, want := range map[string]int{
		"127.0.0.1:9730": 200, "localhost:9730": 200, "LOCALHOST": 200, "[::1]:9730": 200, "10.1.2.3": 200,
		"strata.localhost:9730": 200, "localhost.:9730": 200,
		"evil.example:9730": 403, "evil.example": 403, "127.0.0.1.nip.io:9730": 403, "localhost.evil.example": 403, "": 403,
	} {
		for _, path := range []string{"/api/v1/topology/query?q=host", "/"} {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Host = host
			h.ServeHTTP(rec, req)
			if rec.Code != want {
				t.Errorf("Host %q, %s: %d, want %d", host, path, rec.Code, want)
			}
			if rec.Code == 403 && rec.Body.String() == "the graph" {
				t.Errorf("Host %q: refused, and answered", host)
			}
		}
	}
}

// TestAllLoopback: the Host check is on only when every listen address is a loopback one.
func TestAllLoopback(t *testing.T) {
	for _, c := range []struct {
		addrs []string
		want  bool
	}{
		{[]string{"127.0.0.1:9730"}, true},
		{[]string{"[::1]:9730", "localhost:9730"}, true},
		{[]string{":9730"}, false},
		{[]string{"127.0.0.1:9730", "0.0.0.0:9731"}, false},
		{[]string{"10.0.0.1:9730"}, false},
		{nil, false},
	} {
		if got := allLoopback(c.addrs); got != c.want {
			t.Errorf("allLoopback(%v) = %v, want %v", c.addrs, got, c.want)
		}
	}
}
