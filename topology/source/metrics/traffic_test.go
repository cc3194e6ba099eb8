package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-obs/strata/topology/source"
)

// TestScrapedTraffic: an LB without counters gets them from its exporter's series labelled
// with its name, counted at the sample's time: a backend's http requests before its sessions,
// a server's 5xx alone of its responses; a series of another LB, or with no lb label, is not
// read, and counters a source gave are kept.
func TestScrapedTraffic(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	scraped := at.Add(-4 * time.Second)
	src := sourceOver(t, scraped, map[string]float64{
		`haproxy_backend_http_requests_total{lb="edge",proxy="c1ps"}`:                        300,
		`haproxy_backend_sessions_total{lb="edge",proxy="c1ps"}`:                             290,
		`haproxy_server_sessions_total{lb="edge",proxy="c1ps",server="s0"}`:                  150,
		`haproxy_server_http_responses_total{lb="edge",proxy="c1ps",server="s0",code="2xx"}`: 10,
		`haproxy_server_http_responses_total{lb="edge",proxy="c1ps",server="s0",code="5xx"}`: 140,
		`haproxy_server_response_time_average_seconds{lb="edge",proxy="c1ps",server="s0"}`:   0.25,
		`haproxy_server_sessions_total{lb="other",proxy="c1ps",server="s1"}`:                 999,
		`haproxy_server_sessions_total{proxy="c1ps",server="s1"}`:                            999,
		`haproxy_server_sessions_total{lb="edge",proxy="c1ps",server="given"}`:               999,
	})
	st := NewScrapedTraffic(src.q, 5*time.Minute)
	lbs := []source.LB{{Name: "edge", Services: []source.Service{{Name: "c1ps", TrafficNote: "none", Instances: []source.Instance{
		{Name: "s0", TrafficNote: "none"}, {Name: "s1"}, {Name: "given", Traffic: source.Traffic{"requests": 1}}}}}}}
	if err := st.Fill(context.Background(), lbs, at); err != nil {
		t.Fatal(err)
	}
	svc := lbs[0].Services[0]
	if diff := cmp.Diff(source.Traffic{"requests": 300}, svc.Traffic); diff != "" || !svc.TrafficAt.Equal(scraped) || svc.TrafficNote != "" {
		t.Errorf("service: traffic (-want +got)\n%s at %s note %q", diff, svc.TrafficAt, svc.TrafficNote)
	}
	s0 := svc.Instances[0]
	if diff := cmp.Diff(source.Traffic{"requests": 150, "http_2xx": 10, "http_5xx": 140, "response_time_seconds": 0.25}, s0.Traffic); diff != "" || !s0.TrafficAt.Equal(scraped) {
		t.Errorf("s0: traffic (-want +got)\n%s at %s", diff, s0.TrafficAt)
	}
	if s1 := svc.Instances[1]; s1.Traffic != nil {
		t.Errorf("s1 got another LB's or an unlabelled series' counters: %v", s1.Traffic)
	}
	if g := svc.Instances[2]; g.Traffic["requests"] != 1 || !g.TrafficAt.IsZero() {
		t.Errorf("counters a source gave were replaced: %v", g.Traffic)
	}
}
