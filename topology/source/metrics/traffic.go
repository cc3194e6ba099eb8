package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/prometheus/storage"

	"github.com/strata-obs/strata/topology/source"
)

// The LB's own traffic from its exporter's series, for an LB whose source gives no counters (an
// inventory LB that is a HAProxy strata cannot reach but scrapes): the refresh fills the
// Traffic its source left nil from the series scraped of the LB's exporter, and makes rates of
// them as of any source's counters.
//
// Which LB a series belongs to is the `lb` label the scrape configuration gives its target
// (static_configs: [{targets: ["lb1:8405"], labels: {lb: edge}}]), equal to the LB's name in
// strata: an exporter's own labels name a backend and a server, never the LB, and two LBs
// often have backends of the same name. A series without it is not read.
//
// To read another exporter: add its rows to trafficFamilies.

// trafficFamily is one series of an LB exporter and the Traffic key it fills: of a service
// (its labels name the backend) or of an instance (the backend and the server).
type trafficFamily struct {
	metric        string
	key           string
	service, inst string // the labels naming the service and the instance; inst "" for a service's
	// only keeps the series whose label has that value (code="5xx"); all are summed.
	only [2]string
}

// trafficFamilies are the exporters read: HAProxy's built-in one (its `prometheus-exporter`
// service), whose names and labels follow HAProxy's `show stat` columns. A key filled by a
// family earlier in the list is not filled again by a later one (http requests before sessions).
var trafficFamilies = []trafficFamily{
	{metric: "haproxy_backend_http_requests_total", key: source.TrafficRequests, service: "proxy"},
	{metric: "haproxy_backend_sessions_total", key: source.TrafficRequests, service: "proxy"}, // TCP mode
	{metric: "haproxy_backend_http_responses_total", key: source.TrafficHTTP2xx, service: "proxy", only: [2]string{"code", "2xx"}},
	{metric: "haproxy_backend_http_responses_total", key: source.TrafficHTTP3xx, service: "proxy", only: [2]string{"code", "3xx"}},
	{metric: "haproxy_backend_http_responses_total", key: source.TrafficHTTP4xx, service: "proxy", only: [2]string{"code", "4xx"}},
	{metric: "haproxy_backend_http_responses_total", key: source.TrafficHTTP5xx, service: "proxy", only: [2]string{"code", "5xx"}},
	{metric: "haproxy_backend_connection_errors_total", key: source.TrafficConnErrors, service: "proxy"},
	{metric: "haproxy_backend_response_errors_total", key: source.TrafficRespErrors, service: "proxy"},
	{metric: "haproxy_backend_current_sessions", key: source.TrafficSessions, service: "proxy"},
	{metric: "haproxy_backend_current_queue", key: source.TrafficQueue, service: "proxy"},
	{metric: "haproxy_backend_response_time_average_seconds", key: source.TrafficResponseTime, service: "proxy"},
	// A server's requests are its sessions, as show stat's stot: HAProxy 2.6's exporter has no
	// per-server request counter.
	{metric: "haproxy_server_sessions_total", key: source.TrafficRequests, service: "proxy", inst: "server"},
	{metric: "haproxy_server_http_responses_total", key: source.TrafficHTTP2xx, service: "proxy", inst: "server", only: [2]string{"code", "2xx"}},
	{metric: "haproxy_server_http_responses_total", key: source.TrafficHTTP3xx, service: "proxy", inst: "server", only: [2]string{"code", "3xx"}},
	{metric: "haproxy_server_http_responses_total", key: source.TrafficHTTP4xx, service: "proxy", inst: "server", only: [2]string{"code", "4xx"}},
	{metric: "haproxy_server_http_responses_total", key: source.TrafficHTTP5xx, service: "proxy", inst: "server", only: [2]string{"code", "5xx"}},
	{metric: "haproxy_server_connection_errors_total", key: source.TrafficConnErrors, service: "proxy", inst: "server"},
	{metric: "haproxy_server_response_errors_total", key: source.TrafficRespErrors, service: "proxy", inst: "server"},
	{metric: "haproxy_server_current_sessions", key: source.TrafficSessions, service: "proxy", inst: "server"},
	{metric: "haproxy_server_current_queue", key: source.TrafficQueue, service: "proxy", inst: "server"},
	{metric: "haproxy_server_response_time_average_seconds", key: source.TrafficResponseTime, service: "proxy", inst: "server"},
}

// lbLabel is the scrape label that names the LB a series belongs to.
const lbLabel = "lb"

// ScrapedTraffic reads LB exporters' series from a storage.
type ScrapedTraffic struct {
	q        storage.Queryable
	lookback time.Duration
}

// NewScrapedTraffic reads from q; a series counts when it has a sample within lookback before
// the refresh (5m by default) that is not a staleness marker.
func NewScrapedTraffic(q storage.Queryable, lookback time.Duration) *ScrapedTraffic {
	if lookback <= 0 {
		lookback = 5 * time.Minute
	}
	return &ScrapedTraffic{q: q, lookback: lookback}
}

// Fill gives every service and instance of lbs that has no Traffic the counters its LB's
// exporter series hold at time at, when some do, counted at their newest sample's time: rates
// are made over the scrapes' interval, and a refresh that finds no new scrape makes none. The
// rest are left as they are.
func (s *ScrapedTraffic) Fill(ctx context.Context, lbs []source.LB, at time.Time) error {
	type key struct{ lb, service, inst string }
	wanted := map[key]bool{}
	names := map[string]bool{}
	for _, lb := range lbs {
		for _, svc := range lb.Services {
			if svc.Traffic == nil {
				wanted[key{lb.Name, svc.Name, ""}] = true
				names[lb.Name] = true
			}
			for _, inst := range svc.Instances {
				if inst.Traffic == nil && inst.Name != "" {
					wanted[key{lb.Name, svc.Name, inst.Name}] = true
					names[lb.Name] = true
				}
			}
		}
	}
	if len(wanted) == 0 {
		return nil
	}
	mint, maxt := at.Add(-s.lookback).UnixMilli(), at.UnixMilli()
	q, err := s.q.Querier(mint, maxt)
	if err != nil {
		return fmt.Errorf("open querier: %w", err)
	}
	defer q.Close()

	found := map[key]source.Traffic{}
	newest := map[key]int64{}               // the newest sample's time: when the LB counted
	filledBy := map[key]map[string]string{} // the family that filled each key, so a later one does not
	for _, f := range trafficFamilies {
		ss, err := latest(ctx, q, mint, maxt, f.metric)
		if err != nil {
			return err
		}
		for _, ser := range ss {
			k := key{ser.labels.Get(lbLabel), ser.labels.Get(f.service), ""}
			if f.inst != "" {
				k.inst = ser.labels.Get(f.inst)
			}
			if !wanted[k] || (f.only[0] != "" && ser.labels.Get(f.only[0]) != f.only[1]) {
				continue
			}
			if by := filledBy[k][f.key]; by != "" && by != f.metric {
				continue
			}
			if found[k] == nil {
				found[k], filledBy[k] = source.Traffic{}, map[string]string{}
			}
			if f.key == source.TrafficResponseTime { // an average: two targets' is not their sum
				found[k][f.key] = max(found[k][f.key], ser.value)
			} else { // counts: an LB of two HAProxy processes counts both
				found[k][f.key] += ser.value
			}
			filledBy[k][f.key] = f.metric
			newest[k] = max(newest[k], ser.t)
		}
	}
	for i := range lbs {
		lb := &lbs[i]
		if !names[lb.Name] {
			continue
		}
		for j := range lb.Services {
			svc := &lb.Services[j]
			if t := found[key{lb.Name, svc.Name, ""}]; svc.Traffic == nil && t != nil {
				svc.Traffic, svc.TrafficNote, svc.TrafficAt = t, "", time.UnixMilli(newest[key{lb.Name, svc.Name, ""}]).UTC()
			}
			for k := range svc.Instances {
				inst := &svc.Instances[k]
				if t := found[key{lb.Name, svc.Name, inst.Name}]; inst.Traffic == nil && inst.Name != "" && t != nil {
					inst.Traffic, inst.TrafficNote, inst.TrafficAt = t, "", time.UnixMilli(newest[key{lb.Name, svc.Name, inst.Name}]).UTC()
				}
			}
		}
	}
	return nil
}
