package topology

import (
	"cmp"
	"math"
	"strconv"
	"time"

	"github.com/strata-obs/strata/topology/source"
)

// DefaultFailingErrorRatio is --topology.failing-error-ratio: the share of an instance's
// requests that may fail before it counts as failing, whatever its health check says.
const DefaultFailingErrorRatio = 0.05

// The signal attributes of instances and services: rates of the LB's counters between two of
// its answers, its gauges, and whether an instance is failing. A value is a decimal string; a
// signal the LB does not give (no counter, a counter that went back, the first answer) is
// absent, never zero, and signal_note says why.
const (
	signalReqRate      = "req_rate"
	signal2xxRate      = "http_2xx_rate"
	signal3xxRate      = "http_3xx_rate"
	signal4xxRate      = "http_4xx_rate"
	signal5xxRate      = "http_5xx_rate"
	signalErrorRate    = "error_rate"
	signalErrorRatio   = "error_ratio"
	signalSessions     = "sessions"
	signalQueue        = "queue"
	signalResponseTime = "response_time_seconds"
	signalFailing      = "failing"
	signalNote         = "signal_note"
)

// counted is one answer's counters of an instance or a service, and when it came.
type counted struct {
	at      time.Time
	traffic source.Traffic
}

// trafficKey names an instance ("" for the service itself) of a service of an LB.
type trafficKey struct{ lb, service, instance string }

// markSignals makes the signals of every service and instance of an LB source's answer from
// its counters and those of the source's previous answer (last), and returns the counters to
// keep for the next. It writes them into lbs.
func markSignals(lbs []source.LB, at time.Time, last map[trafficKey]counted, failingRatio float64) map[trafficKey]counted {
	next := make(map[trafficKey]counted, len(last))
	for i := range lbs {
		lb := &lbs[i]
		none := noCounters(lb) // one string for all its instances
		for j := range lb.Services {
			svc := &lb.Services[j]
			key := trafficKey{lb.Name, svc.Name, ""}
			if svc.Traffic != nil {
				// A service has no health check of its own: it fails on its share of errors.
				svc.Signals = signals(last, key, svc.Traffic, countedAt(svc.TrafficAt, at))
				svc.Signals.Set(signalFailing, strconv.FormatBool(failing(source.HealthUp, svc.Signals, failingRatio)))
				next[key] = counted{countedAt(svc.TrafficAt, at), svc.Traffic}
			} else {
				svc.Signals = source.Signals{{Name: signalNote, Value: cmp.Or(svc.TrafficNote, none)}}
			}
			for k := range svc.Instances {
				inst := &svc.Instances[k]
				key := trafficKey{lb.Name, svc.Name, inst.Name}
				if inst.Name == "" {
					key.instance = inst.Address + ":" + strconv.Itoa(inst.Port)
				}
				if inst.Traffic != nil {
					inst.Signals = signals(last, key, inst.Traffic, countedAt(inst.TrafficAt, at))
					next[key] = counted{countedAt(inst.TrafficAt, at), inst.Traffic}
				} else {
					inst.Signals = make(source.Signals, 1, 2)
					inst.Signals[0] = source.Signal{Name: signalNote, Value: cmp.Or(inst.TrafficNote, none)}
				}
				inst.Signals.Set(signalFailing, strconv.FormatBool(failing(inst.Health, inst.Signals, failingRatio)))
			}
		}
	}
	return next
}

// countedAt is when counters were counted: the time a source gave, else the refresh's.
func countedAt(given, refresh time.Time) time.Time {
	if given.IsZero() {
		return refresh
	}
	return given
}

// noCounters says why an LB's source gave no traffic where it did not say itself: an
// inventory, DNS or Kubernetes LB counts no traffic that strata reads (an older HAProxy
// without the counters too). No rate is shown as none, not as zero.
func noCounters(lb *source.LB) string {
	return cmp.Or(lb.Provider, "this LB") + " counts no traffic strata reads here"
}

// failing: a health check that does not pass, or a share of failed requests at the threshold
// or above. An instance no one checks (health UNKNOWN) fails on its errors alone.
func failing(health string, signals source.Signals, threshold float64) bool {
	// UNKNOWN is no check at all (an inventory's instance), not a failed one.
	if health != source.HealthUp && health != source.HealthUnknown && health != "" {
		return true
	}
	r := signals.Get(signalErrorRatio)
	if r == "" { // no rate (most LBs count no traffic): no error to make and drop per instance
		return false
	}
	ratio, err := strconv.ParseFloat(r, 64)
	return err == nil && ratio >= threshold
}

// signals are the attributes of one instance's or service's counters now and at the last
// answer.
func signals(last map[trafficKey]counted, key trafficKey, now source.Traffic, at time.Time) source.Signals {
	out := make(source.Signals, 0, 12)
	if v, ok := now[source.TrafficSessions]; ok {
		out.Set(signalSessions, decimal(v))
	}
	if v, ok := now[source.TrafficResponseTime]; ok {
		out.Set(signalResponseTime, decimal(v))
	}
	if v, ok := now[source.TrafficQueue]; ok {
		out.Set(signalQueue, decimal(v))
	}
	prev, seen := last[key]
	switch {
	case !seen:
		out.Set(signalNote, "first count of its traffic: rates from the next refresh")
		return out
	case !at.After(prev.at):
		out.Set(signalNote, "no time between two counts: rates from the next refresh")
		return out
	}
	dt := at.Sub(prev.at).Seconds()
	rates := map[string]float64{}
	for _, k := range source.TrafficCounters() {
		v, ok := now[k]
		p, okPrev := prev.traffic[k]
		if !ok || !okPrev {
			continue
		}
		if v < p {
			// The LB restarted, or its stats were cleared: a rate of this would be negative
			// or wrong. The next refresh counts from here.
			out.Set(signalNote, "counters went back (the LB restarted or was cleared): rates from the next refresh")
			return out
		}
		rates[k] = (v - p) / dt
	}
	req, hasReq := rates[source.TrafficRequests]
	if hasReq {
		out.Set(signalReqRate, decimal(req))
	} else {
		out.Set(signalNote, "the LB counts no requests here")
	}
	for _, c := range [...]struct{ counter, attr string }{{source.TrafficHTTP2xx, signal2xxRate}, {source.TrafficHTTP3xx, signal3xxRate},
		{source.TrafficHTTP4xx, signal4xxRate}, {source.TrafficHTTP5xx, signal5xxRate}} { // in one order: the same every refresh
		k, attr := c.counter, c.attr
		if v, ok := rates[k]; ok {
			out.Set(attr, decimal(v))
		}
	}
	errRate, anyErr := 0.0, false
	for _, k := range []string{source.TrafficHTTP5xx, source.TrafficConnErrors, source.TrafficRespErrors} {
		if v, ok := rates[k]; ok {
			errRate, anyErr = errRate+v, true
		}
	}
	if anyErr {
		out.Set(signalErrorRate, decimal(errRate))
		if hasReq && req > 0 {
			out.Set(signalErrorRatio, decimal(min(1, errRate/req)))
		}
	}
	return out
}

// decimal writes a signal as a decimal number, to the millionth: no exponent, which the
// language's numeric matchers and people read alike.
func decimal(v float64) string {
	return strconv.FormatFloat(math.Round(v*1e6)/1e6, 'f', -1, 64)
}
