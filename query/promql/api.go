package promql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/common/version"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/strata-obs/strata/internal/httpapi"
)

// API answers the query endpoints of Prometheus's HTTP API (web/api/v1) from a
// storage.Queryable, with Prometheus's parameters, JSON and status codes, so that Grafana
// and promtool can use strata as a Prometheus data source.
type API struct {
	queryable storage.Queryable
	engine    *Engine
	parser    parser.Parser
	logger    *slog.Logger
	scrapes   atomic.Pointer[Scrapes] // SetScrapes
	rules     atomic.Pointer[Rules]   // SetRules
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
	register(mux, a.handle(a.query), a.handle(a.queryRange), a.handle(a.series), a.handle(a.labelNames), a.handle(a.labelValues),
		a.handle(a.formatQuery), a.handle(a.queryExemplars))
	mux.Handle("GET /api/v1/status/buildinfo", a.handle(a.buildInfo))
	mux.Handle("GET /api/v1/targets", a.handle(a.targets))
	mux.Handle("GET /api/v1/metadata", a.handle(a.metadata))
	mux.Handle("GET /api/v1/rules", a.handle(a.rulesList))
	mux.Handle("GET /api/v1/alerts", a.handle(a.alerts))
}

// formatQuery answers /api/v1/format_query, which Grafana's query editor asks to lay out an
// expression: Prometheus's own printer's answer, or the parse error at its position.
func (a *API) formatQuery(r *http.Request) result {
	expr, apiErr := a.parse(r.FormValue("query"), func(err error) *apiError { return invalidParam("query", err) })
	if apiErr != nil {
		return result{err: apiErr}
	}
	return result{data: expr.Pretty(0)}
}

// queryExemplars answers /api/v1/query_exemplars, which Grafana's Prometheus data source asks
// for beside a query: strata stores no exemplars (no exporter it scrapes sends any that the
// topology uses), so a query that parses, over a valid range, has none.
func (a *API) queryExemplars(r *http.Request) result {
	start, err := parseTimeParam(r, "start", minTime)
	if err != nil {
		return result{err: invalidParam("start", err)}
	}
	end, err := parseTimeParam(r, "end", maxTime)
	if err != nil {
		return result{err: invalidParam("end", err)}
	}
	if end.Before(start) {
		return result{err: badData("end timestamp must not be before start timestamp")}
	}
	// Prometheus names no parameter in this endpoint's parse error.
	if _, apiErr := a.parse(r.FormValue("query"), func(err error) *apiError { return &apiError{httpapi.BadData, err} }); apiErr != nil {
		return result{err: apiErr}
	}
	return result{data: []any{}}
}

// parse reads an expression no longer than --query.max-length, as a query's is; bad words
// its parse error as the endpoint's Prometheus counterpart does.
func (a *API) parse(q string, bad func(error) *apiError) (parser.Expr, *apiError) {
	if len(q) > a.engine.opts.MaxLength {
		return nil, &apiError{httpapi.Execution, fmt.Errorf("the expression is %d bytes long, more than the limit of %d (--query.max-length)", len(q), a.engine.opts.MaxLength)}
	}
	expr, err := a.parser.ParseExpr(q)
	if err != nil {
		return nil, bad(err)
	}
	return expr, nil
}

// buildInfo answers /api/v1/status/buildinfo, which Grafana's Prometheus data source asks for
// to learn what it talks to: strata's own build, in Prometheus's shape.
func (a *API) buildInfo(*http.Request) result {
	return result{data: map[string]string{"version": version.Version, "revision": version.Revision, "branch": version.Branch,
		"buildUser": version.BuildUser, "buildDate": version.BuildDate, "goVersion": version.GoVersion}}
}

// register adds the query endpoints of Prometheus's HTTP API to mux with the methods
// Prometheus accepts on each, so that API and Proxy answer the same requests.
func register(mux *http.ServeMux, query, queryRange, series, labelNames, labelValues, formatQuery, queryExemplars http.Handler) {
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		mux.Handle(method+" /api/v1/query", query)
		mux.Handle(method+" /api/v1/query_range", queryRange)
		mux.Handle(method+" /api/v1/series", series)
		mux.Handle(method+" /api/v1/labels", labelNames)
		mux.Handle(method+" /api/v1/format_query", formatQuery)
		mux.Handle(method+" /api/v1/query_exemplars", queryExemplars)
	}
	mux.Handle("GET /api/v1/label/{name}/values", labelValues) // Prometheus takes no POST here.
}

type apiError struct {
	typ httpapi.ErrorType
	err error
}

func badData(format string, args ...any) *apiError {
	return &apiError{httpapi.BadData, fmt.Errorf(format, args...)}
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
		return &apiError{httpapi.Canceled, err}
	case errors.As(err, &timeout):
		return &apiError{httpapi.Timeout, err}
	case errors.As(err, &storageErr):
		return &apiError{httpapi.Internal, err}
	}
	return &apiError{httpapi.Execution, err}
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
			httpapi.Write(w, res.err.typ.Status(), httpapi.Response{Status: "error", ErrorType: string(res.err.typ), Error: res.err.err.Error()}, a.logger)
			return
		}
		// The query locates the annotations' positions in their messages.
		warnings, infos := res.warnings.AsStrings(r.FormValue("query"), 10, 10)
		httpapi.Write(w, http.StatusOK, httpapi.Response{Status: "success", Data: res.data, Warnings: warnings, Infos: infos}, a.logger)
	})
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
			return result{err: &apiError{httpapi.Execution, fmt.Errorf("the answer holds more than %d labels (--query.max-samples): narrow match[] or set limit", a.engine.opts.MaxSamples)}, release: release}
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
			return result{err: &apiError{httpapi.Execution, err}, release: release}
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
