package promql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/common/version"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// Sample is one element of an instant vector: a series and its value.
type Sample struct {
	Labels labels.Labels
	Value  float64
}

// EvalInstant evaluates a PromQL expression at t over q, for code of strata that needs an
// answer in process rather than over HTTP. A scalar is one Sample without labels; range
// vectors, strings and native histograms are errors. Samples are sorted by their labels.
func EvalInstant(ctx context.Context, q storage.Queryable, expr string, t time.Time) ([]Sample, error) {
	return defaultEngine.EvalInstant(ctx, q, expr, t)
}

// EvalInstant is the package's EvalInstant within the engine's bounds.
func (e *Engine) EvalInstant(ctx context.Context, q storage.Queryable, expr string, t time.Time) ([]Sample, error) {
	qry, apiErr := e.instant(ctx, q, expr, t)
	if apiErr != nil {
		return nil, fmt.Errorf("evaluate %q: %w", expr, apiErr.err)
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return nil, fmt.Errorf("evaluate %q: %w", expr, res.Err)
	}
	var samples []Sample
	switch v := res.Value.(type) {
	case promql.Scalar:
		return []Sample{{Labels: labels.EmptyLabels(), Value: v.V}}, nil
	case promql.Vector:
		samples = make([]Sample, 0, len(v))
		for _, s := range v {
			if s.H != nil {
				return nil, fmt.Errorf("evaluate %q: %s is a native histogram", expr, s.Metric)
			}
			// Labels can point into memory the query frees on Close.
			samples = append(samples, Sample{Labels: s.Metric.Copy(), Value: s.F})
		}
	default:
		return nil, fmt.Errorf("evaluate %q: result is a %s, not an instant vector or scalar", expr, res.Value.Type())
	}
	slices.SortFunc(samples, func(a, b Sample) int { return labels.Compare(a.Labels, b.Labels) })
	return samples, nil
}

// API answers the query endpoints of Prometheus's HTTP API (web/api/v1) from a
// storage.Queryable, with Prometheus's parameters, JSON and status codes, so that Grafana
// and promtool can use strata as a Prometheus data source.
type API struct {
	queryable storage.Queryable
	engine    *Engine
	parser    parser.Parser
	logger    *slog.Logger
}

// NewAPI returns an API over q, its queries bounded by opts.
func NewAPI(q storage.Queryable, opts APIOptions, logger *slog.Logger) *API {
	return NewAPIWith(q, NewEngine(opts, logger), logger)
}

// NewAPIWith returns an API over q that runs its queries on engine.
func NewAPIWith(q storage.Queryable, engine *Engine, logger *slog.Logger) *API {
	return &API{
		queryable: q,
		engine:    engine,
		parser:    parser.NewParser(parser.Options{}),
		logger:    logger,
	}
}

// Register adds the API's endpoints to mux.
func (a *API) Register(mux *http.ServeMux) {
	register(mux, a.handle(a.query), a.handle(a.queryRange), a.handle(a.series), a.handle(a.labelNames), a.handle(a.labelValues))
	mux.Handle("GET /api/v1/status/buildinfo", a.handle(a.buildInfo))
}

// buildInfo answers /api/v1/status/buildinfo, which Grafana's Prometheus data source asks for
// to learn what it talks to: strata's own build, in Prometheus's shape.
func (a *API) buildInfo(*http.Request) result {
	return result{data: map[string]string{"version": version.Version, "revision": version.Revision, "branch": version.Branch,
		"buildUser": version.BuildUser, "buildDate": version.BuildDate, "goVersion": version.GoVersion}}
}

// register adds the query endpoints of Prometheus's HTTP API to mux with the methods
// Prometheus accepts on each, so that API and Proxy answer the same requests.
func register(mux *http.ServeMux, query, queryRange, series, labelNames, labelValues http.Handler) {
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		mux.Handle(method+" /api/v1/query", query)
		mux.Handle(method+" /api/v1/query_range", queryRange)
		mux.Handle(method+" /api/v1/series", series)
		mux.Handle(method+" /api/v1/labels", labelNames)
	}
	mux.Handle("GET /api/v1/label/{name}/values", labelValues) // Prometheus takes no POST here.
}

// Proxy forwards the same endpoints as API to an external Prometheus, for a strata configured
// with prometheus.url: the series are there, not in strata's TSDB.
type Proxy struct {
	proxy *httputil.ReverseProxy
}

// NewProxy returns a Proxy to the Prometheus at rawURL (http://host:9090, or with a path
// prefix for a Prometheus behind --web.route-prefix).
func NewProxy(rawURL string) (*Proxy, error) {
	target, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("prometheus URL: does not parse") // url.Error would quote it, password and all
	}
	if (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		return nil, fmt.Errorf("prometheus URL %q: want http(s)://host[:port][/prefix]", target.Redacted())
	}
	// A user and password in the URL go as basic auth, as Prometheus's clients send them.
	user := target.User
	bare := *target
	bare.User = nil
	target = &bare
	return &Proxy{proxy: &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.SetXForwarded()
			if user != nil {
				password, _ := user.Password()
				r.Out.SetBasicAuth(user.Username(), password)
			}
		},
		// A client such as Grafana shows the error of Prometheus's envelope, where the
		// default handler would answer with an empty body.
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			writeJSON(w, http.StatusBadGateway, response{Status: "error", ErrorType: string(errorUnavailable),
				Error: fmt.Sprintf("prometheus at %s: %v", target.Redacted(), err)}, nil)
		},
	}}, nil
}

// Register adds the proxied endpoints to mux.
func (p *Proxy) Register(mux *http.ServeMux) {
	register(mux, p.proxy, p.proxy, p.proxy, p.proxy, p.proxy)
	mux.Handle("GET /api/v1/status/buildinfo", p.proxy)
}

// response is the envelope of every answer of Prometheus's HTTP API.
type response struct {
	Status    string   `json:"status"`
	Data      any      `json:"data,omitempty"`
	ErrorType string   `json:"errorType,omitempty"`
	Error     string   `json:"error,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	Infos     []string `json:"infos,omitempty"`
}

// errorType is Prometheus's errorType, which decides the HTTP status.
type errorType string

const (
	errorBadData  errorType = "bad_data"
	errorExec     errorType = "execution"
	errorTimeout  errorType = "timeout"
	errorCanceled errorType = "canceled"
	errorInternal errorType = "internal"
	// errorUnavailable is the proxy's, for a Prometheus it cannot reach.
	errorUnavailable errorType = "unavailable"
)

func (t errorType) status() int {
	switch t {
	case errorBadData:
		return http.StatusBadRequest
	case errorExec:
		return http.StatusUnprocessableEntity
	case errorTimeout:
		return http.StatusServiceUnavailable
	case errorCanceled:
		return 499 // nginx's "client closed request", as Prometheus answers
	default:
		return http.StatusInternalServerError
	}
}

type apiError struct {
	typ errorType
	err error
}

func badData(format string, args ...any) *apiError {
	return &apiError{errorBadData, fmt.Errorf(format, args...)}
}

func invalidParam(name string, err error) *apiError {
	return badData("invalid parameter %q: %w", name, err)
}

// evalError classifies an error of the engine or storage as Prometheus's API does.
func evalError(err error) *apiError {
	var (
		canceled   promql.ErrQueryCanceled
		timeout    promql.ErrQueryTimeout
		storageErr promql.ErrStorage
	)
	switch {
	case errors.As(err, &canceled), errors.Is(err, context.Canceled):
		return &apiError{errorCanceled, err}
	case errors.As(err, &timeout):
		return &apiError{errorTimeout, err}
	case errors.As(err, &storageErr):
		return &apiError{errorInternal, err}
	}
	return &apiError{errorExec, err}
}

// result is what an endpoint answers. release frees what data points into (a query's
// samples, a querier's index) once data is written.
type result struct {
	data     any
	warnings annotations.Annotations
	err      *apiError
	release  func()
}

func (a *API) handle(endpoint func(*http.Request) result) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var res result
		if err := r.ParseForm(); err != nil {
			res.err = badData("error parsing form values: %w", err)
		} else {
			res = endpoint(r)
		}
		if res.release != nil {
			defer res.release()
		}
		if res.err != nil {
			writeJSON(w, res.err.typ.status(), response{Status: "error", ErrorType: string(res.err.typ), Error: res.err.err.Error()}, a.logger)
			return
		}
		// The query locates the annotations' positions in their messages.
		warnings, infos := res.warnings.AsStrings(r.FormValue("query"), 10, 10)
		writeJSON(w, http.StatusOK, response{Status: "success", Data: res.data, Warnings: warnings, Infos: infos}, a.logger)
	})
}

func writeJSON(w http.ResponseWriter, status int, resp response, logger *slog.Logger) {
	b, err := json.Marshal(resp)
	if err != nil {
		http.Error(w, fmt.Sprintf("encode response: %v", err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if _, err := w.Write(b); err != nil && logger != nil {
		logger.Debug("write response", "err", err)
	}
}

// queryData is the data of /api/v1/query and /api/v1/query_range.
type queryData struct {
	ResultType parser.ValueType `json:"resultType"`
	Result     jsonValue        `json:"result"`
}

func (a *API) query(r *http.Request) result {
	limit, err := parseLimit(r.FormValue("limit"))
	if err != nil {
		return result{err: invalidParam("limit", err)}
	}
	ts, err := parseTimeParam(r, "time", time.Now())
	if err != nil {
		return result{err: invalidParam("time", err)}
	}
	ctx, cancel, apiErr := withTimeoutParam(r)
	if apiErr != nil {
		return result{err: apiErr}
	}
	defer cancel()
	qry, apiErr := a.engine.instant(ctx, a.queryable, r.FormValue("query"), ts)
	if apiErr != nil {
		return result{err: apiErr}
	}
	return run(ctx, qry, limit)
}

func (a *API) queryRange(r *http.Request) result {
	limit, err := parseLimit(r.FormValue("limit"))
	if err != nil {
		return result{err: invalidParam("limit", err)}
	}
	start, err := parseTime(r.FormValue("start"))
	if err != nil {
		return result{err: invalidParam("start", err)}
	}
	end, err := parseTime(r.FormValue("end"))
	if err != nil {
		return result{err: invalidParam("end", err)}
	}
	if end.Before(start) {
		return result{err: invalidParam("end", errors.New("end timestamp must not be before start time"))}
	}
	step, err := parseDuration(r.FormValue("step"))
	if err != nil {
		return result{err: invalidParam("step", err)}
	}
	ctx, cancel, apiErr := withTimeoutParam(r)
	if apiErr != nil {
		return result{err: apiErr}
	}
	defer cancel()
	qry, apiErr := a.engine.rangeQuery(ctx, a.queryable, r.FormValue("query"), start, end, step)
	if apiErr != nil {
		return result{err: apiErr}
	}
	return run(ctx, qry, limit)
}

// buildError classifies an error of NewInstantQuery or NewRangeQuery: the query does not
// parse, or time ran out while it waited.
func buildError(err error) *apiError {
	var (
		timeout  promql.ErrQueryTimeout
		canceled promql.ErrQueryCanceled
	)
	if errors.As(err, &timeout) || errors.As(err, &canceled) {
		return evalError(err)
	}
	return invalidParam("query", err)
}

// run executes qry and keeps the first limit series of its result when limit > 0.
func run(ctx context.Context, qry promql.Query, limit int) result {
	res := qry.Exec(ctx)
	if res.Err != nil {
		return result{err: evalError(res.Err), release: qry.Close}
	}
	value, truncated := res.Value, false
	switch v := value.(type) {
	case promql.Vector:
		value, truncated = truncate(v, limit)
	case promql.Matrix:
		value, truncated = truncate(v, limit)
	}
	if truncated {
		res.Warnings.Add(errors.New("results truncated due to limit"))
	}
	return result{data: queryData{ResultType: value.Type(), Result: jsonValue{value}}, warnings: res.Warnings, release: qry.Close}
}

func truncate[S ~[]E, E any](s S, limit int) (S, bool) {
	if limit > 0 && len(s) > limit {
		return s[:limit], true
	}
	return s, false
}

// withTimeoutParam bounds the request's context by its timeout parameter, if any; the
// engine's own timeout applies either way.
func withTimeoutParam(r *http.Request) (context.Context, context.CancelFunc, *apiError) {
	v := r.FormValue("timeout")
	if v == "" {
		return r.Context(), func() {}, nil
	}
	timeout, err := parseDuration(v)
	if err != nil {
		return nil, nil, invalidParam("timeout", err)
	}
	if timeout <= 0 {
		return nil, nil, invalidParam("timeout", fmt.Errorf("timeout must be positive, got %s", timeout))
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	return ctx, cancel, nil
}

// The time range of /api/v1/series, /labels and /label/…/values without start or end, and
// the two times parseTime reads besides RFC 3339 (Go's parser takes four-digit years only).
var (
	minTime = time.Unix(math.MinInt64/1000+62135596801, 0).UTC()
	maxTime = time.Unix(math.MaxInt64/1000-62135596801, 999999999).UTC()
)

func (a *API) series(r *http.Request) result {
	if len(r.Form["match[]"]) == 0 {
		return result{err: badData("no match[] parameter provided")}
	}
	limit, start, end, matcherSets, apiErr := a.selection(r)
	if apiErr != nil {
		return result{err: apiErr}
	}
	q, err := a.queryable.Querier(timestamp.FromTime(start), timestamp.FromTime(end))
	if err != nil {
		return result{err: evalError(err)}
	}
	hints := &storage.SelectHints{
		Start: timestamp.FromTime(start),
		End:   timestamp.FromTime(end),
		Func:  "series", // Prometheus's token for a select that needs no samples
		Limit: hintLimit(limit),
	}
	var set storage.SeriesSet
	if len(matcherSets) == 1 {
		set = q.Select(r.Context(), false, hints, matcherSets[0]...)
	} else {
		// Merging drops a series two sets share, and needs them sorted.
		sets := make([]storage.SeriesSet, 0, len(matcherSets))
		for _, ms := range matcherSets {
			sets = append(sets, q.Select(r.Context(), true, hints, ms...))
		}
		set = storage.NewMergeSeriesSet(sets, 0, storage.ChainedSeriesMerge)
	}
	release := func() { q.Close() }
	metrics := []labels.Labels{}
	budget := a.engine.opts.MaxSamples
	for set.Next() {
		if limit > 0 && len(metrics) == limit {
			warnings := set.Warnings()
			warnings.Add(errors.New("results truncated due to limit"))
			return result{data: metrics, warnings: warnings, release: release}
		}
		ls := set.At().Labels()
		// Each label counts as a sample would: the answer is held in memory to be written.
		if budget -= ls.Len() + 1; budget < 0 {
			return result{err: &apiError{errorExec, fmt.Errorf("the answer holds more than %d labels (--query.max-samples): narrow match[] or set limit", a.engine.opts.MaxSamples)}, release: release}
		}
		if len(metrics)%1024 == 0 && r.Context().Err() != nil {
			return result{err: contextError(r.Context(), "series selection"), release: release}
		}
		metrics = append(metrics, ls)
	}
	if err := set.Err(); err != nil {
		return result{err: evalError(err), release: release}
	}
	return result{data: metrics, warnings: set.Warnings(), release: release}
}

func (a *API) labelNames(r *http.Request) result {
	return a.labels(r, func(ctx context.Context, q storage.Querier, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
		return q.LabelNames(ctx, hints, ms...)
	})
}

func (a *API) labelValues(r *http.Request) result {
	name := r.PathValue("name")
	// A name that is not a valid legacy name comes escaped, as U__ and its code points.
	if strings.HasPrefix(name, "U__") {
		name = model.UnescapeName(name, model.ValueEncodingEscaping)
	}
	if !model.UTF8Validation.IsValidLabelName(name) {
		return result{err: badData("invalid label name: %q", name)}
	}
	return a.labels(r, func(ctx context.Context, q storage.Querier, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
		return q.LabelValues(ctx, name, hints, ms...)
	})
}

// labels answers /api/v1/labels and /api/v1/label/…/values: the sorted union of what list
// finds for each match[] set, or for all series without match[].
func (a *API) labels(r *http.Request, list func(context.Context, storage.Querier, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error)) result {
	limit, start, end, matcherSets, apiErr := a.selection(r)
	if apiErr != nil {
		return result{err: apiErr}
	}
	q, err := a.queryable.Querier(timestamp.FromTime(start), timestamp.FromTime(end))
	if err != nil {
		return result{err: evalError(err)}
	}
	release := func() { q.Close() }
	if len(matcherSets) == 0 {
		matcherSets = [][]*labels.Matcher{nil}
	}
	hints := &storage.LabelHints{Limit: hintLimit(limit)}
	var (
		names    []string
		warnings annotations.Annotations
	)
	for _, ms := range matcherSets {
		found, ws, err := list(r.Context(), q, hints, ms...)
		if err != nil {
			return result{err: &apiError{errorExec, err}, release: release}
		}
		warnings.Merge(ws)
		names = append(names, found...)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	if names == nil {
		names = []string{}
	}
	if limit > 0 && len(names) > limit {
		names = names[:limit]
		warnings.Add(errors.New("results truncated due to limit"))
	}
	return result{data: names, warnings: warnings, release: release}
}

// selection reads the parameters /series, /labels and /label/…/values share.
func (a *API) selection(r *http.Request) (limit int, start, end time.Time, matcherSets [][]*labels.Matcher, _ *apiError) {
	limit, err := parseLimit(r.FormValue("limit"))
	if err != nil {
		return 0, start, end, nil, invalidParam("limit", err)
	}
	if start, err = parseTimeParam(r, "start", minTime); err != nil {
		return 0, start, end, nil, invalidParam("start", err)
	}
	if end, err = parseTimeParam(r, "end", maxTime); err != nil {
		return 0, start, end, nil, invalidParam("end", err)
	}
	if matcherSets, err = a.parser.ParseMetricSelectors(r.Form["match[]"]); err != nil {
		return 0, start, end, nil, invalidParam("match[]", err)
	}
	// A set whose every matcher matches the empty label selects every series.
	for _, ms := range matcherSets {
		if !slices.ContainsFunc(ms, func(m *labels.Matcher) bool { return !m.Matches("") }) {
			return 0, start, end, nil, invalidParam("match[]", errors.New("match[] must contain at least one non-empty matcher"))
		}
	}
	return limit, start, end, matcherSets, nil
}

// parseLimit reads a limit parameter; 0 is no limit.
func parseLimit(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	limit, err := strconv.Atoi(s)
	if err != nil {
		return 0, err
	}
	if limit < 0 {
		return 0, errors.New("limit must be non-negative")
	}
	return limit, nil
}

// hintLimit asks storage for one more than limit, so that truncation can be told.
func hintLimit(limit int) int {
	if limit > 0 && limit < math.MaxInt {
		return limit + 1
	}
	return limit
}

func parseTimeParam(r *http.Request, name string, otherwise time.Time) (time.Time, error) {
	v := r.FormValue(name)
	if v == "" {
		return otherwise, nil
	}
	t, err := parseTime(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid time value for '%s': %w", name, err)
	}
	return t, nil
}

// parseTime reads unix seconds (to the millisecond) or RFC 3339, between minTime and maxTime.
func parseTime(s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		// NaN and what no int64 of milliseconds holds would come out as a time far from any
		// asked for, which encodes to no JSON at all.
		if math.IsNaN(f) || f < float64(minTime.Unix()) || f > float64(maxTime.Unix()) {
			return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp: out of range", s)
		}
		sec, frac := math.Modf(f)
		frac = math.Round(frac*1000) / 1000
		return time.Unix(int64(sec), int64(frac*float64(time.Second))).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	switch s {
	case minTime.Format(time.RFC3339Nano):
		return minTime, nil
	case maxTime.Format(time.RFC3339Nano):
		return maxTime, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
}

// parseDuration reads seconds (a float) or a Prometheus duration (1m30s).
func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		ns := f * float64(time.Second)
		// float64(math.MaxInt64) is 2^63, which an int64 cannot hold; NaN passes no comparison.
		if math.IsNaN(ns) || ns >= float64(math.MaxInt64) || ns < float64(math.MinInt64) {
			return 0, fmt.Errorf("cannot parse %q to a valid duration. It overflows int64", s)
		}
		return time.Duration(ns), nil
	}
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return 0, fmt.Errorf("cannot parse %q to a valid duration", s)
}

// jsonValue writes a PromQL value as Prometheus's API does (web/api/v1/json_codec.go): in
// vectors and matrices a time is unix seconds with the milliseconds as decimals and a float is
// a string with an exponent below 1e-6 and from 1e21 on, where promql's MarshalJSON methods
// never write an exponent. Scalars and strings keep promql's methods, as in Prometheus.
type jsonValue struct{ parser.Value }

func (v jsonValue) MarshalJSON() ([]byte, error) {
	switch v := v.Value.(type) {
	case promql.Vector:
		b := []byte{'['}
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendSample(b, s); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case promql.Matrix:
		b := []byte{'['}
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendSeries(b, s); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	return json.Marshal(v.Value)
}

func appendSample(b []byte, s promql.Sample) ([]byte, error) {
	b, err := appendLabels(append(b, `{"metric":`...), s.Metric)
	if err != nil {
		return nil, err
	}
	if s.H != nil {
		h, err := promql.HPoint{T: s.T, H: s.H}.MarshalJSON()
		return append(append(append(b, `,"histogram":`...), h...), '}'), err
	}
	return append(appendFPoint(append(b, `,"value":`...), s.T, s.F), '}'), nil
}

func appendSeries(b []byte, s promql.Series) ([]byte, error) {
	b, err := appendLabels(append(b, `{"metric":`...), s.Metric)
	if err != nil {
		return nil, err
	}
	if len(s.Floats) > 0 {
		b = append(b, `,"values":[`...)
		for i, p := range s.Floats {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendFPoint(b, p.T, p.F)
		}
		b = append(b, ']')
	}
	if len(s.Histograms) > 0 {
		b = append(b, `,"histograms":[`...)
		for i, p := range s.Histograms {
			if i > 0 {
				b = append(b, ',')
			}
			h, err := p.MarshalJSON()
			if err != nil {
				return nil, err
			}
			b = append(b, h...)
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

func appendLabels(b []byte, ls labels.Labels) ([]byte, error) {
	l, err := ls.MarshalJSON()
	return append(b, l...), err
}

// appendFPoint writes [1435781451.781,"1.234"].
func appendFPoint(b []byte, t int64, f float64) []byte {
	b = append(b, '[')
	if t < 0 {
		b = append(b, '-')
		t = -t
	}
	b = strconv.AppendInt(b, t/1000, 10)
	if ms := t % 1000; ms != 0 {
		b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = append(b, ',', '"')
	b = strconv.AppendFloat(b, f, format, -1, 64)
	return append(b, '"', ']')
}
