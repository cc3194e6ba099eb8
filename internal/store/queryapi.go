package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	config_util "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/strata-obs/strata/internal/redact"
)

// QueryAPIReader reads series through Prometheus's HTTP query API (/api/v1/query), for a
// store that serves no remote read: Thanos Query, and any other that speaks PromQL. It answers
// only what reading the topology back needs: the series a set of matchers selects, each with
// its last sample before the query's end (as an instant query at that time finds it, within
// the store's lookback, after its staleness markers and its replica deduplication), and the
// sample's own time (timestamp()); with the hint Func "timestamp" (the caller needs the times
// alone, as of an info series whose value is 1), only the time, in one query instead of two:
// the store's answer for a large fleet's families is most of a global strata's refresh. A store
// member that does not answer is the store's partial response, a warning of the answer, not an
// error.
func QueryAPIReader(raw string, timeout time.Duration) (storage.Queryable, error) {
	u, err := url.Parse(strings.TrimSuffix(raw, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("prometheus.url %s: does not parse", redact.URL(raw))
	}
	var rt http.RoundTripper = limitedBodies{api.DefaultRoundTripper}
	if u.User != nil { // as basic auth, never in a logged URL
		password, _ := u.User.Password()
		rt = config_util.NewBasicAuthRoundTripper(config_util.NewInlineSecret(u.User.Username()), config_util.NewInlineSecret(password), rt)
		u.User = nil
	}
	client, err := api.NewClient(api.Config{Address: u.String(), RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("prometheus.url %s: %w", redact.URL(raw), err)
	}
	a := v1.NewAPI(client)
	return storage.QueryableFunc(func(mint, maxt int64) (storage.Querier, error) {
		return &queryAPIQuerier{api: a, maxt: maxt, timeout: timeout}, nil
	}), nil
}

type queryAPIQuerier struct {
	api     v1.API
	maxt    int64
	timeout time.Duration
}

// maxAnswerSeries bounds what one selector may bring back: a fleet of 100 sites' largest
// family (containers) with room to spare; maxAnswerBytes bounds its JSON before it is decoded.
const (
	maxAnswerSeries = 5_000_000
	maxAnswerBytes  = 2 << 30
)

// A store's warnings go into every answer of strata's that read it: at most maxWarnings of
// them, each cut at maxWarningBytes (a member down is one line per member, not a page).
const (
	maxWarnings     = 10
	maxWarningBytes = 512
)

// storeWarnings are the store's warnings of an answer, bounded, each saying it is the store's.
func storeWarnings(ws v1.Warnings) annotations.Annotations {
	var out annotations.Annotations
	for i, w := range ws {
		if i == maxWarnings {
			out.Add(fmt.Errorf("the store: %d more warnings", len(ws)-maxWarnings))
			break
		}
		if len(w) > maxWarningBytes {
			w = strings.ToValidUTF8(w[:maxWarningBytes], "") + "…"
		}
		out.Add(fmt.Errorf("the store: %s", w))
	}
	return out
}

// limitedBodies ends an answer's body with an error past maxAnswerBytes.
type limitedBodies struct{ http.RoundTripper }

func (l limitedBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.RoundTripper.RoundTrip(r)
	if err == nil {
		resp.Body = &limitedBody{ReadCloser: resp.Body, left: maxAnswerBytes}
	}
	return resp, err
}

type limitedBody struct {
	io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, fmt.Errorf("the store's answer is larger than %d bytes", int64(maxAnswerBytes))
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

func (q *queryAPIQuerier) Select(ctx context.Context, _ bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	maxt := q.maxt
	if hints != nil && hints.End != 0 {
		maxt = hints.End
	}
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	sel := "{" + strings.Join(parts, ", ") + "}"
	at := time.UnixMilli(maxt)
	if q.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, q.timeout)
		defer cancel()
	}
	times, w1, err := q.vector(ctx, "timestamp("+sel+")", at)
	if err != nil {
		return storage.ErrSeriesSet(err)
	}
	timesOnly := hints != nil && hints.Func == "timestamp"
	var values model.Vector
	var w2 v1.Warnings
	if !timesOnly {
		if values, w2, err = q.vector(ctx, sel, at); err != nil {
			return storage.ErrSeriesSet(err)
		}
	}
	set := &vectorSet{warnings: storeWarnings(append(w1, w2...))}
	// timestamp() drops the name, which every series of one selector shares.
	name := ""
	for _, m := range ms {
		if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
			name = m.Value
		}
	}
	if timesOnly {
		// A caller that needs only the times (the hint PromQL gives a selector inside
		// timestamp()): one query, and each sample's value is its time in seconds, as
		// timestamp() has it. The selector must name its series: the name is put back.
		if name == "" {
			return storage.ErrSeriesSet(fmt.Errorf("read %s for its times alone: the selector must name one metric", sel))
		}
		for _, s := range times {
			set.series = append(set.series, sample{labels: metricLabels(s.Metric, name), t: int64(float64(s.Value) * 1000), v: float64(s.Value)})
		}
		return set
	}
	when := make(map[string]float64, len(times))
	for _, s := range times {
		when[withoutName(s.Metric).String()] = float64(s.Value)
	}
	for _, s := range values {
		t, ok := when[withoutName(s.Metric).String()]
		if !ok {
			continue
		}
		set.series = append(set.series, sample{labels: metricLabels(s.Metric, ""), t: int64(t * 1000), v: float64(s.Value)})
	}
	return set
}

// metricLabels are a series' labels, with the metric name name when it has none.
func metricLabels(m model.Metric, name string) labels.Labels {
	b := labels.NewScratchBuilder(len(m) + 1)
	for k, v := range m {
		b.Add(string(k), string(v))
	}
	if _, ok := m[model.MetricNameLabel]; !ok && name != "" {
		b.Add(model.MetricNameLabel, name)
	}
	b.Sort()
	return b.Labels()
}

func (q *queryAPIQuerier) vector(ctx context.Context, expr string, at time.Time) (model.Vector, v1.Warnings, error) {
	v, ws, _, err := q.api.Query(ctx, expr, at)
	if err != nil {
		return nil, nil, fmt.Errorf("ask the store %s: %w", expr, err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, nil, fmt.Errorf("the store answered %s with a %s, not an instant vector", expr, v.Type())
	}
	if len(vec) > maxAnswerSeries {
		return nil, nil, fmt.Errorf("the store answered %s with %d series, more than %d", expr, len(vec), maxAnswerSeries)
	}
	return vec, ws, nil
}

func withoutName(m model.Metric) model.Metric {
	out := make(model.Metric, len(m))
	for k, v := range m {
		if k != model.MetricNameLabel {
			out[k] = v
		}
	}
	return out
}

var errNoLabels = errors.New("the query API reader lists no labels")

func (q *queryAPIQuerier) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, errNoLabels
}

func (q *queryAPIQuerier) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, errNoLabels
}

func (q *queryAPIQuerier) Close() error { return nil }

// vectorSet is an instant query's answer as series of one sample each.
type vectorSet struct {
	series   []sample
	i        int
	warnings annotations.Annotations
}

// sample is a float sample, as chunks.Sample.
type sample struct {
	labels labels.Labels
	t      int64
	v      float64
}

func (x sample) T() int64                      { return x.t }
func (x sample) ST() int64                     { return 0 }
func (x sample) F() float64                    { return x.v }
func (x sample) H() *histogram.Histogram       { return nil }
func (x sample) FH() *histogram.FloatHistogram { return nil }
func (x sample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (x sample) Copy() chunks.Sample           { return x }

func (s *vectorSet) Next() bool { s.i++; return s.i <= len(s.series) }
func (s *vectorSet) At() storage.Series {
	x := s.series[s.i-1]
	return storage.NewListSeries(x.labels, []chunks.Sample{x})
}
func (s *vectorSet) Err() error                        { return nil }
func (s *vectorSet) Warnings() annotations.Annotations { return s.warnings }
