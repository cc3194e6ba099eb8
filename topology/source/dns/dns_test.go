package dns

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/topology/source"
)

// TestSRVAgainstDNSMasq asks a real DNS server: the instances are the SRV targets by priority,
// then weight (descending), then target; each has its target's A (else AAAA) record and the
// SRV port; a name the server does not know is a service without instances.
func TestSRVAgainstDNSMasq(t *testing.T) {
	server, _ := testenv.DNSMasq(t, "--local=/example/", // the server's own domain: an unknown name there does not exist
		// Priority 20 comes after 10 whatever its weight; within 10, weight 60 before 30 before 30 (by target).
		"--srv-host=_http._tcp.c1ps.service.example,web-c.example,8082,20,100",
		"--srv-host=_http._tcp.c1ps.service.example,web-b.example,8081,10,30",
		"--srv-host=_http._tcp.c1ps.service.example,web-a.example,8080,10,30",
		"--srv-host=_http._tcp.c1ps.service.example,web-d.example,8083,10,60",
		"--host-record=web-a.example,192.0.2.1",
		"--host-record=web-b.example,192.0.2.2,2001:db8::2",
		"--host-record=web-c.example,2001:db8::3",
		"--host-record=web-d.example,192.0.2.4",
		// One target on two ports: two instances, named by port.
		"--srv-host=_grpc._tcp.api.service.example,api.example,9000,1,1",
		"--srv-host=_grpc._tcp.api.service.example,api.example,9001,1,1",
		"--host-record=api.example,192.0.2.9",
	)
	s, err := New(Config{Name: "consul-dns", Server: server, Services: []Service{
		{SRV: "_http._tcp.c1ps.service.example."},
		{Name: "api", SRV: "_grpc._tcp.api.service.example"},
		{Name: "gone", SRV: "_http._tcp.gone.service.example."},
	}})
	if err != nil {
		t.Fatal(err)
	}
	lbs, err := s.ListLoadBalancers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []source.LB{{Name: "consul-dns", Provider: "dns", NoHost: true, Services: []source.Service{
		{Name: "_http._tcp.c1ps.service.example", Instances: []source.Instance{
			{Name: "web-d.example", Address: "192.0.2.4", Port: 8083, Position: 0, Health: "UP", Weight: 60},
			{Name: "web-a.example", Address: "192.0.2.1", Port: 8080, Position: 1, Health: "UP", Weight: 30},
			{Name: "web-b.example", Address: "192.0.2.2", Port: 8081, Position: 2, Health: "UP", Weight: 30},
			{Name: "web-c.example", Address: "2001:db8::3", Port: 8082, Position: 3, Health: "UP", Weight: 100},
		}},
		{Name: "api", Instances: []source.Instance{
			{Name: "api.example:9000", Address: "192.0.2.9", Port: 9000, Position: 0, Health: "UP", Weight: 1},
			{Name: "api.example:9001", Address: "192.0.2.9", Port: 9001, Position: 1, Health: "UP", Weight: 1},
		}},
		{Name: "gone"},
	}}}
	if diff := cmp.Diff(want, lbs); diff != "" {
		t.Errorf("ListLoadBalancers (-want +got):\n%s", diff)
	}

	// The server's own answer, as any client gets it: the same records, in an order of its own.
	_, records, err := s.resolver.LookupSRV(context.Background(), "", "", "_http._tcp.c1ps.service.example.")
	if err != nil || len(records) != 4 {
		t.Fatalf("LookupSRV = %v, %v", records, err)
	}
	var targets []string
	for _, r := range Order(records) {
		targets = append(targets, r.Target)
	}
	if got := strings.Join(targets, " "); got != "web-d.example. web-a.example. web-b.example. web-c.example." {
		t.Errorf("Order of the server's records = %s", got)
	}
}

// TestRefreshIntervalAndDeadServer: answers are kept for refresh_interval, then asked again;
// a server that stops answering fails the source with the name it asked for.
func TestRefreshIntervalAndDeadServer(t *testing.T) {
	server, stop := testenv.DNSMasq(t, "--srv-host=_http._tcp.web.example,web.example,80,1,1", "--host-record=web.example,192.0.2.1")
	s, err := New(Config{Name: "dns", Server: server, Services: []Service{{Name: "web", SRV: "_http._tcp.web.example."}},
		RefreshInterval: time.Minute, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	if _, err := s.ListLoadBalancers(context.Background()); err != nil {
		t.Fatal(err)
	}
	stop() // within the interval, the kept answer
	now = now.Add(30 * time.Second)
	lbs, err := s.ListLoadBalancers(context.Background())
	if err != nil || len(lbs) != 1 || len(lbs[0].Services[0].Instances) != 1 {
		t.Fatalf("within refresh_interval: %+v, %v", lbs, err)
	}
	now = now.Add(time.Minute)
	_, err = s.ListLoadBalancers(context.Background())
	if err == nil || !strings.Contains(err.Error(), "service web") || !strings.Contains(err.Error(), "_http._tcp.web.example") ||
		!strings.Contains(err.Error(), server) {
		t.Errorf("a dead server after refresh_interval: %v, want the service and the name asked", err)
	}
}

func TestOrder(t *testing.T) {
	in := []*net.SRV{
		{Target: "b.", Port: 1, Priority: 1, Weight: 5},
		{Target: "a.", Port: 2, Priority: 1, Weight: 5},
		{Target: "a.", Port: 1, Priority: 1, Weight: 5},
		{Target: "z.", Port: 1, Priority: 0, Weight: 0},
		{Target: "c.", Port: 1, Priority: 1, Weight: 9},
	}
	var got []string
	for _, r := range Order(in) {
		got = append(got, r.Target+itoa(r.Port))
	}
	if diff := cmp.Diff([]string{"z.1", "c.1", "a.1", "a.2", "b.1"}, got); diff != "" {
		t.Errorf("Order (-want +got):\n%s", diff)
	}
}

func itoa(p uint16) string { return string(rune('0' + p)) }
