package topology

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-obs/strata/internal/store/storetest"
	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/source"
)

// TestSignals: rates come from two answers' counters over the time between them; the first
// answer, a counter that went back and a row without counters give no rate (absent, with a
// note), never zero; an instance fails on its health or on its share of failed requests.
func TestSignals(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	answer := func(health string, counts ...float64) []source.LB {
		tr := source.Traffic{"requests": counts[0], "http_5xx": counts[1], "connection_errors": counts[2],
			"response_errors": counts[3], "sessions": 7, "response_time_seconds": 0.012}
		return []source.LB{{Name: "edge", Provider: "haproxy", Services: []source.Service{{Name: "c1ps",
			Traffic:   source.Traffic{"requests": counts[0] * 3},
			Instances: []source.Instance{{Name: "s0", Health: health, Traffic: tr}, {Name: "inv", Health: "UP"}}}}}}
	}
	signalsOf := func(lbs []source.LB) (svc, inst, bare map[string]string) {
		s := lbs[0].Services[0]
		return s.Signals.Map(), s.Instances[0].Signals.Map(), s.Instances[1].Signals.Map()
	}

	first := answer("UP", 1000, 10, 0, 0)
	last := markSignals(first, t0, nil, 0.05)
	_, inst, bare := signalsOf(first)
	if diff := cmp.Diff(map[string]string{"sessions": "7", "response_time_seconds": "0.012", "failing": "false",
		"signal_note": "first count of its traffic: rates from the next refresh"}, inst); diff != "" {
		t.Errorf("first answer (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"failing": "false", "signal_note": "haproxy counts no traffic strata reads here"}, bare); diff != "" {
		t.Errorf("an instance without counters (-want +got):\n%s", diff)
	}

	// 15 s later: 300 requests, 30 of them 5xx, 3 connection errors: 33 failed of 300.
	second := answer("UP", 1300, 40, 3, 0)
	last = markSignals(second, t0.Add(15*time.Second), last, 0.05)
	svc, inst, _ := signalsOf(second)
	if diff := cmp.Diff(map[string]string{"req_rate": "20", "http_5xx_rate": "2", "error_rate": "2.2", "error_ratio": "0.11",
		"sessions": "7", "response_time_seconds": "0.012", "failing": "true"}, inst); diff != "" {
		t.Errorf("second answer (-want +got):\n%s", diff)
	}
	if svc["req_rate"] != "60" || svc["failing"] != "false" {
		t.Errorf("the service's signals %v: want req_rate 60 from its own counter, not failing (it counts no errors)", svc)
	}

	// Under the threshold it does not fail; with a failed health check it does, whatever the
	// traffic says.
	third := answer("UP", 2300, 41, 3, 0)
	last = markSignals(third, t0.Add(30*time.Second), last, 0.05)
	if _, inst, _ := signalsOf(third); inst["error_ratio"] != "0.001" || inst["failing"] != "false" {
		t.Errorf("a healthy instance: %v", inst)
	}
	down := answer("DOWN", 2400, 41, 3, 0)
	last = markSignals(down, t0.Add(45*time.Second), last, 0.05)
	if _, inst, _ := signalsOf(down); inst["failing"] != "true" || inst["error_ratio"] != "0" {
		t.Errorf("a DOWN instance without errors: %v, want failing", inst)
	}

	// HAProxy restarted: its counters start again from zero.
	restarted := answer("UP", 5, 0, 0, 0)
	markSignals(restarted, t0.Add(60*time.Second), last, 0.05)
	if _, inst, _ := signalsOf(restarted); inst["req_rate"] != "" || inst["error_ratio"] != "" ||
		inst["signal_note"] != "counters went back (the LB restarted or was cleared): rates from the next refresh" {
		t.Errorf("after a reset: %v, want no rate and the reason", inst)
	}
}

// TestSignalsOfAServiceAlone: an LB that counts a service's traffic but none of its
// instances' (Caddy) gives the service its rates and each instance the source's reason, not
// zeros; a service it counts nothing of says why too; counts that went back (Caddy restarted)
// give no rate.
func TestSignalsOfAServiceAlone(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	const perUpstream = "caddy counts no traffic per upstream, only per server and handler"
	answer := func(requests, fivexx float64) []source.LB {
		return []source.LB{{Name: "web", Provider: "caddy", Services: []source.Service{
			{Name: "example.com", Traffic: source.Traffic{"requests": requests, "http_5xx": fivexx, "response_errors": 0, "sessions": 0},
				Instances: []source.Instance{{Name: "10.0.0.5:80", Health: "UP", TrafficNote: perUpstream}}},
			{Name: "srv1/route0", TrafficNote: "caddy counts no requests of server srv1: its metrics are off"},
		}}}
	}
	last := markSignals(answer(20, 10), t0, nil, 0.05)
	second := answer(120, 60)
	last = markSignals(second, t0.Add(10*time.Second), last, 0.05)
	svc, inst, other := second[0].Services[0], second[0].Services[0].Instances[0], second[0].Services[1]
	if diff := cmp.Diff(map[string]string{"req_rate": "10", "http_5xx_rate": "5", "error_rate": "5", "error_ratio": "0.5",
		"sessions": "0", "failing": "true"}, svc.Signals.Map()); diff != "" {
		t.Errorf("the counted service (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"signal_note": perUpstream, "failing": "false"}, inst.Signals.Map()); diff != "" {
		t.Errorf("its instance (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"signal_note": "caddy counts no requests of server srv1: its metrics are off"}, other.Signals.Map()); diff != "" {
		t.Errorf("a service without counts (-want +got):\n%s", diff)
	}

	restarted := answer(2, 1)
	markSignals(restarted, t0.Add(20*time.Second), last, 0.05)
	if diff := cmp.Diff(map[string]string{"sessions": "0", "failing": "false",
		"signal_note": "counters went back (the LB restarted or was cleared): rates from the next refresh"}, restarted[0].Services[0].Signals.Map()); diff != "" {
		t.Errorf("after caddy restarted (-want +got):\n%s", diff)
	}
}

// TestSignalSeriesAndHistory: the signals are series whose value is the number, joinable with
// instance_info by lb, service and server; none for an instance without the signal; and a past
// graph has them back as attributes.
func TestSignalSeriesAndHistory(t *testing.T) {
	db := storetest.Open(t, t.TempDir())
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	counts := func(req, errs float64) []source.LB {
		return []source.LB{{Name: "edge", Provider: "haproxy", Services: []source.Service{{Name: "c1ps", Instances: []source.Instance{
			{Name: "s0", Address: "192.0.2.7", Port: 80, Health: "UP", Traffic: source.Traffic{"requests": req, "http_5xx": errs, "sessions": 3}},
			{Name: "s1", Address: "192.0.2.8", Port: 80, Health: "UP"},
		}}}}}
	}
	src := &scriptedLBs{lbs: counts(100, 0)}
	r := NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{src}, Sink: db, Now: func() time.Time { return now }},
		slog.New(slog.DiscardHandler))
	r.Refresh(context.Background())
	now = now.Add(10 * time.Second)
	src.lbs = counts(300, 100) // 20 requests/s, half of them 5xx
	r.Refresh(context.Background())

	got := map[string]float64{}
	for _, s := range r.Samples() {
		if name := s.Name(); strings.HasPrefix(name, "strata_topology_instance_") && name != "strata_topology_instance_info" {
			if s.Labels.Get("lb") != "edge" || s.Labels.Get("service") != "c1ps" {
				t.Errorf("%s: want the instance_info labels lb and service", s.Labels)
			}
			got[name+"/"+s.Labels.Get("server")] = s.Value
		}
	}
	want := map[string]float64{
		"strata_topology_instance_request_rate/s0": 20, "strata_topology_instance_error_rate/s0": 10,
		"strata_topology_instance_error_ratio/s0": 0.5, "strata_topology_instance_sessions/s0": 3,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("signal series (-want +got; none for s1, whose LB counts nothing):\n%s", diff)
	}

	past, _, err := GraphAt(context.Background(), db, now)
	if err != nil {
		t.Fatal(err)
	}
	inst, ok := past.Get(graph.Ref{Kind: graph.Instance, ID: "edge/c1ps/s0"})
	if !ok || inst.Attrs.Get("error_ratio") != "0.5" || inst.Attrs.Get("req_rate") != "20" || inst.Attrs.Get("sessions") != "3" {
		t.Errorf("the past graph's instance: %+v, want its signals back", inst)
	}
}

// TestFailingHealth: a check that fails is failing whatever the errors; an instance no one
// checks (UNKNOWN, an inventory's) fails on its errors alone.
func TestFailingHealth(t *testing.T) {
	for _, c := range []struct {
		health, ratio string
		want          bool
	}{
		{"DOWN", "", true}, {"MAINT", "0", true}, {"UP", "0.01", false}, {"UP", "0.05", true},
		{"UNKNOWN", "", false}, {"UNKNOWN", "0.5", true}, {"", "0", false},
	} {
		if got := failing(c.health, source.Signals{{Name: "error_ratio", Value: c.ratio}}, 0.05); got != c.want {
			t.Errorf("failing(%s, error_ratio %q) = %v, want %v", c.health, c.ratio, got, c.want)
		}
	}
}

// TestSignalsByClass: each response class the LB counts has its rate, and the queue is a gauge
// shown as it is.
func TestSignalsByClass(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	answer := func(ok, notFound, queue float64) []source.LB {
		return []source.LB{{Name: "edge", Provider: "haproxy", Services: []source.Service{{Name: "c1ps", Instances: []source.Instance{{Name: "s0", Health: "UP",
			Traffic: source.Traffic{"requests": ok + notFound, "http_2xx": ok, "http_4xx": notFound, "http_5xx": 0, "queue": queue}}}}}}}
	}
	last := markSignals(answer(100, 10, 0), t0, nil, 0.05)
	next := answer(400, 70, 3)
	markSignals(next, t0.Add(10*time.Second), last, 0.05)
	got := next[0].Services[0].Instances[0].Signals.Map()
	for attr, want := range map[string]string{"http_2xx_rate": "30", "http_4xx_rate": "6", "http_5xx_rate": "0", "queue": "3", "req_rate": "36", "error_ratio": "0"} {
		if got[attr] != want {
			t.Errorf("%s = %q, want %q (all: %v)", attr, got[attr], want, got)
		}
	}
	if _, ok := got["http_3xx_rate"]; ok {
		t.Errorf("a class the LB does not count has a rate: %v", got)
	}
}
