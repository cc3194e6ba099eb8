package topology

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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
		return []source.LB{{Name: "edge", Services: []source.Service{{Name: "c1ps",
			Traffic:   source.Traffic{"requests": counts[0] * 3},
			Instances: []source.Instance{{Name: "s0", Health: health, Traffic: tr}, {Name: "inv", Health: "UP"}}}}}}
	}
	signalsOf := func(lbs []source.LB) (svc, inst, bare map[string]string) {
		s := lbs[0].Services[0]
		return s.Signals, s.Instances[0].Signals, s.Instances[1].Signals
	}

	first := answer("UP", 1000, 10, 0, 0)
	last := markSignals(first, t0, nil, 0.05)
	_, inst, bare := signalsOf(first)
	if diff := cmp.Diff(map[string]string{"sessions": "7", "response_time_seconds": "0.012", "failing": "false",
		"signal_note": "first count of its traffic: rates from the next refresh"}, inst); diff != "" {
		t.Errorf("first answer (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"failing": "false"}, bare); diff != "" {
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
	if svc["req_rate"] != "60" || svc["failing"] != "" {
		t.Errorf("the service's signals %v: want req_rate 60 from its own counter, and no failing", svc)
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
