package promql

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/scrape"
)

// Scrapes is what strata scrapes, for /api/v1/targets and /api/v1/metadata, which Grafana's
// Prometheus data source asks for (its metric browser, its alerting view): the scrape
// manager's active targets by pool, and the metadata of the series strata makes itself (its
// topology families), which no target reports.
type Scrapes struct {
	Active func() map[string][]*scrape.Target // nil: strata scrapes nothing
	Own    map[string]Metadata                // by metric name
}

// Metadata is one metric's, as Prometheus's metadata API answers it.
type Metadata struct {
	Type string `json:"type"`
	Help string `json:"help"`
	Unit string `json:"unit"`
}

// SetScrapes tells the API what strata scrapes; the scrape manager starts after the API.
func (a *API) SetScrapes(s Scrapes) { a.scrapes.Store(&s) }

// targetJSON is a target as Prometheus's /api/v1/targets answers it.
type targetJSON struct {
	DiscoveredLabels   labels.Labels `json:"discoveredLabels"`
	Labels             labels.Labels `json:"labels"`
	ScrapePool         string        `json:"scrapePool"`
	ScrapeURL          string        `json:"scrapeUrl"`
	GlobalURL          string        `json:"globalUrl"`
	LastError          string        `json:"lastError"`
	LastScrape         time.Time     `json:"lastScrape"`
	LastScrapeDuration float64       `json:"lastScrapeDuration"`
	Health             string        `json:"health"`
	ScrapeInterval     string        `json:"scrapeInterval"`
	ScrapeTimeout      string        `json:"scrapeTimeout"`
}

// targets answers /api/v1/targets: the targets strata scrapes, by state (active, dropped or
// any; strata drops none it keeps) and pool, as Prometheus does.
func (a *API) targets(r *http.Request) result {
	state := r.FormValue("state")
	if state == "" {
		state = "any"
	}
	if state != "active" && state != "dropped" && state != "any" {
		return result{err: badData("invalid state %q: want active, dropped or any", state)}
	}
	pool := r.FormValue("scrapePool")
	active := []targetJSON{}
	counts := map[string]int{}
	for name, ts := range a.activeTargets() {
		if pool != "" && name != pool {
			continue
		}
		counts[name] = 0
		if state == "dropped" {
			continue
		}
		for _, t := range ts {
			active = append(active, targetOf(name, t))
		}
	}
	slices.SortFunc(active, func(x, y targetJSON) int {
		if c := strings.Compare(x.ScrapePool, y.ScrapePool); c != 0 {
			return c
		}
		return strings.Compare(x.ScrapeURL, y.ScrapeURL)
	})
	data := map[string]any{"activeTargets": active, "droppedTargets": []targetJSON{}, "droppedTargetCounts": counts}
	if state == "dropped" {
		delete(data, "activeTargets")
	}
	if state == "active" {
		delete(data, "droppedTargets")
	}
	return result{data: data}
}

func targetOf(pool string, t *scrape.Target) targetJSON {
	b := labels.NewBuilder(labels.EmptyLabels())
	u := t.URL().Redacted() // a password in an address is the target's, not the answer's
	lastErr := ""
	if err := t.LastError(); err != nil {
		lastErr = err.Error()
	}
	return targetJSON{DiscoveredLabels: t.DiscoveredLabels(b), Labels: t.Labels(labels.NewBuilder(labels.EmptyLabels())), ScrapePool: pool,
		ScrapeURL: u, GlobalURL: u, LastError: lastErr, LastScrape: t.LastScrape(), LastScrapeDuration: t.LastScrapeDuration().Seconds(),
		Health: string(t.Health()), ScrapeInterval: t.GetValue(model.ScrapeIntervalLabel), ScrapeTimeout: t.GetValue(model.ScrapeTimeoutLabel)}
}

// metadata answers /api/v1/metadata: each metric's type, help and unit, as the targets
// strata scrapes report them and as strata writes its own, once per distinct one; limit
// bounds the metrics, limit_per_metric each one's entries, metric picks one.
func (a *API) metadata(r *http.Request) result {
	limit, err := optionalCount(r, "limit")
	if err != nil {
		return result{err: err}
	}
	perMetric, err := optionalCount(r, "limit_per_metric")
	if err != nil {
		return result{err: err}
	}
	want := r.FormValue("metric")
	all := map[string][]Metadata{}
	add := func(name string, m Metadata) {
		if (want != "" && name != want) || slices.Contains(all[name], m) {
			return
		}
		if _, seen := all[name]; !seen && limit >= 0 && len(all) >= limit {
			return
		}
		if perMetric >= 0 && len(all[name]) >= perMetric {
			return
		}
		all[name] = append(all[name], m)
	}
	if s := a.scrapes.Load(); s != nil {
		for _, name := range slices.Sorted(maps.Keys(s.Own)) {
			add(name, s.Own[name])
		}
	}
	pools := a.activeTargets()
	for _, name := range slices.Sorted(maps.Keys(pools)) {
		for _, t := range pools[name] {
			for _, m := range t.ListMetadata() {
				add(m.MetricFamily, Metadata{Type: string(m.Type), Help: m.Help, Unit: m.Unit})
			}
		}
	}
	return result{data: all}
}

func (a *API) activeTargets() map[string][]*scrape.Target {
	if s := a.scrapes.Load(); s != nil && s.Active != nil {
		return s.Active()
	}
	return nil
}

// optionalCount is a parameter that bounds a count: -1 (none) when absent, as Prometheus's
// metadata API takes it; a negative one is none too.
func optionalCount(r *http.Request, name string) (int, *apiError) {
	v := r.FormValue(name)
	if v == "" {
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, badData("%s must be a number", name)
	}
	if n < 0 {
		return -1, nil
	}
	return n, nil
}
