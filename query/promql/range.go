package promql

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"

	"github.com/strata-obs/strata/internal/httpapi"
)

// Series is one series of a range query's answer: its labels and its points, oldest first.
type Series struct {
	Labels labels.Labels
	Points []Point
}

// Point is one value of a series at a step of a range query.
type Point struct {
	T time.Time
	V float64
}

// EvalError is an expression EvalRange could not answer, classified as Prometheus's HTTP API
// classifies it, so that a page can show the error as /api/v1/query_range would.
type EvalError struct {
	// Type is Prometheus's errorType: bad_data (the expression does not parse, or the range
	// or step is refused), execution, timeout, canceled or internal.
	Type string
	// Line and Col are where a parse error lies in the expression, from 1 (Col counts
	// bytes, as Prometheus's "1:5: parse error" does); zero when the error has no position.
	Line, Col int
	Err       error
}

func (e *EvalError) Error() string { return e.Type + ": " + e.Err.Error() }
func (e *EvalError) Unwrap() error { return e.Err }

// maxPointsPerSeries is Prometheus's bound on the steps of one range query.
const maxPointsPerSeries = 11000

// checkRange refuses a range query's times and step as /api/v1/query_range does.
func checkRange(start, end time.Time, step time.Duration) *apiError {
	if end.Before(start) {
		return invalidParam("end", errors.New("end timestamp must not be before start time"))
	}
	if step <= 0 {
		return invalidParam("step", errors.New("zero or negative query resolution step widths are not accepted. Try a positive integer"))
	}
	if end.Sub(start)/step > maxPointsPerSeries {
		return badData("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
	}
	return nil
}

// EvalRange evaluates a PromQL expression from start to end every step over q, as
// /api/v1/query_range does, for code of strata that draws series in process (the UI's
// charts). Every error is an *EvalError. A scalar is one Series without labels; native
// histograms are errors. Series are sorted by their labels.
func EvalRange(ctx context.Context, q storage.Queryable, expr string, start, end time.Time, step time.Duration) ([]Series, error) {
	return defaultEngine.EvalRange(ctx, q, expr, start, end, step)
}

// EvalRange is the package's EvalRange within the engine's bounds.
func (e *Engine) EvalRange(ctx context.Context, q storage.Queryable, expr string, start, end time.Time, step time.Duration) ([]Series, error) {
	qry, apiErr := e.rangeQuery(ctx, q, expr, start, end, step)
	if apiErr != nil {
		return nil, evalErrorOf(expr, apiErr)
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return nil, evalErrorOf(expr, evalError(res.Err))
	}
	m, ok := res.Value.(promql.Matrix)
	if !ok {
		return nil, &EvalError{Type: string(httpapi.Execution), Err: fmt.Errorf("result is a %s, not a range of series", res.Value.Type())}
	}
	out := make([]Series, 0, len(m))
	for _, s := range m {
		if len(s.Histograms) > 0 {
			return nil, &EvalError{Type: string(httpapi.Execution), Err: fmt.Errorf("%s is a native histogram", s.Metric)}
		}
		points := make([]Point, len(s.Floats))
		for i, p := range s.Floats {
			points[i] = Point{T: time.UnixMilli(p.T).UTC(), V: p.F}
		}
		// Labels can point into memory the query frees on Close.
		out = append(out, Series{Labels: s.Metric.Copy(), Points: points})
	}
	slices.SortFunc(out, func(a, b Series) int { return labels.Compare(a.Labels, b.Labels) })
	return out, nil
}

// evalErrorOf exports an API error, with the position of the first parse error.
func evalErrorOf(expr string, err *apiError) *EvalError {
	e := &EvalError{Type: string(err.typ), Err: err.err}
	var parseErrs parser.ParseErrors
	var parseErr *parser.ParseErr
	switch {
	case errors.As(err.err, &parseErrs) && len(parseErrs) > 0:
		e.Line, e.Col = position(expr, int(parseErrs[0].PositionRange.Start))
	case errors.As(err.err, &parseErr):
		e.Line, e.Col = position(expr, int(parseErr.PositionRange.Start))
	}
	return e
}

// position is the line and column (from 1) of a byte offset, as the parser's messages count.
func position(expr string, offset int) (line, col int) {
	if offset < 0 || offset > len(expr) {
		return 0, 0
	}
	line, lineStart := 1, 0
	for i := range offset {
		if expr[i] == '\n' {
			line, lineStart = line+1, i+1
		}
	}
	return line, offset - lineStart + 1
}
