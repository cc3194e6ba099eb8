package promql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"

	"github.com/strata-obs/strata/internal/httpapi"
	"github.com/strata-obs/strata/internal/store"
)

// APIOptions bound the PromQL queries strata runs, as Prometheus's --query.* flags do.
// A zero field takes its default.
type APIOptions struct {
	LookbackDelta time.Duration // --query.lookback-delta, 5m
	Timeout       time.Duration // --query.timeout, 2m
	// MaxSamples is --query.max-samples: the samples one query may hold in memory at once
	// (about 40 bytes each, measured), and the steps any of its subqueries may take.
	MaxSamples int
	// MaxLength is --query.max-length: the bytes of an expression. Prometheus's parser takes
	// time that grows faster than the expression (64 KiB of nested parentheses: 3 s here, 128
	// KiB: 12 s) and cannot be stopped, so a longer expression is refused before it is read.
	MaxLength int
}

// Defaults of APIOptions. Prometheus's own default of 50,000,000 samples lets one query take
// 1.2 GB (a 3 h range at 1 s steps over 10,000 series) and a subquery of a day at 1 ms steps
// 3.7 GB before it is refused; 5,000,000 is 200 MB, a quarter of a 2 GiB process's headroom
// with four queries at once (--query.max-concurrency).
const (
	DefaultMaxSamples = 5_000_000
	DefaultMaxLength  = 64 << 10
)

func (o APIOptions) withDefaults() APIOptions {
	if o.LookbackDelta <= 0 {
		o.LookbackDelta = 5 * time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.MaxSamples <= 0 {
		o.MaxSamples = DefaultMaxSamples
	}
	if o.MaxLength <= 0 {
		o.MaxLength = DefaultMaxLength
	}
	return o
}

// noStepSubqueryInterval is the step of a subquery without one ([1h:]): Prometheus's default
// evaluation interval; the engine has no default of its own.
const noStepSubqueryInterval = time.Minute

// Engine is Prometheus's PromQL engine as strata runs it: configured as Prometheus configures
// its own, so that it answers as Prometheus would, and bounded beyond what Prometheus bounds:
// an expression's length, the steps of its subqueries and the time its parsing takes.
type Engine struct {
	engine *promql.Engine
	opts   APIOptions
}

// Prometheus is the engine itself, for Prometheus's rules manager, which evaluates its rules
// on it (bounded as every query is, by the timeout and the samples).
func (e *Engine) Prometheus() *promql.Engine { return e.engine }

// NewEngine returns an engine bounded by opts.
func NewEngine(opts APIOptions, logger *slog.Logger) *Engine {
	opts = opts.withDefaults()
	return &Engine{opts: opts, engine: promql.NewEngine(promql.EngineOpts{
		Logger:                   logger,
		MaxSamples:               opts.MaxSamples,
		Timeout:                  opts.Timeout,
		LookbackDelta:            opts.LookbackDelta,
		NoStepSubqueryIntervalFn: func(int64) int64 { return noStepSubqueryInterval.Milliseconds() },
		// Always on in Prometheus since 2.33.
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
	})}
}

// defaultEngine serves EvalInstant and EvalRange.
var defaultEngine = NewEngine(APIOptions{}, nil)

// instant prepares an instant query (see prepare).
func (e *Engine) instant(ctx context.Context, q storage.Queryable, expr string, t time.Time) (promql.Query, *apiError) {
	return e.prepare(ctx, expr, 0, func() (promql.Query, error) {
		return e.engine.NewInstantQuery(ctx, q, nil, expr, t)
	})
}

// rangeQuery prepares a range query (see prepare).
func (e *Engine) rangeQuery(ctx context.Context, q storage.Queryable, expr string, start, end time.Time, step time.Duration) (promql.Query, *apiError) {
	if err := checkRange(start, end, step); err != nil {
		return nil, err
	}
	return e.prepare(ctx, expr, end.Sub(start), func() (promql.Query, error) {
		return e.engine.NewRangeQuery(ctx, q, nil, expr, start, end, step)
	})
}

// prepare parses an expression into a query, refusing what it would cost too much to run:
// an expression longer than MaxLength before it is parsed, a parse that outlasts ctx (its
// answer is the timeout; the parser, which cannot be stopped, finishes on its own, and
// MaxLength bounds how long), and a subquery of more steps than MaxSamples. span is the range
// query's end less its start.
func (e *Engine) prepare(ctx context.Context, expr string, span time.Duration, build func() (promql.Query, error)) (promql.Query, *apiError) {
	if len(expr) > e.opts.MaxLength {
		return nil, &apiError{httpapi.Execution, fmt.Errorf("the expression is %d bytes long, more than the limit of %d (--query.max-length)", len(expr), e.opts.MaxLength)}
	}
	type built struct {
		qry promql.Query
		err error
	}
	done := make(chan built, 1)
	go func() {
		qry, err := build()
		done <- built{qry, err}
	}()
	var b built
	select {
	case b = <-done:
	case <-ctx.Done():
		go func() { // close what the parse makes when it ends
			if b := <-done; b.qry != nil {
				b.qry.Close()
			}
		}()
		return nil, contextError(ctx, "expression parsing")
	}
	if b.err != nil {
		return nil, buildError(b.err)
	}
	if stmt, ok := b.qry.Statement().(*parser.EvalStmt); ok {
		if err := e.checkSubqueries(stmt.Expr, span); err != nil {
			b.qry.Close()
			return nil, err
		}
	}
	return b.qry, nil
}

// checkSubqueries refuses a subquery that takes more steps than MaxSamples: each step holds at
// least a sample of each series it selects, so the engine would refuse it anyway, but only
// after allocating for every step (max_over_time(vector(1)[1d:1ms]) takes 86,400,000 steps and
// 3.7 GB before the engine's count says no). A subquery is evaluated over its own range, the
// ranges of the subqueries around it, and the span of a range query.
func (e *Engine) checkSubqueries(expr parser.Expr, span time.Duration) *apiError {
	var refused *apiError
	parser.Inspect(expr, func(node parser.Node, path []parser.Node) error {
		sq, ok := node.(*parser.SubqueryExpr)
		if !ok || refused != nil {
			return nil
		}
		covered := span + sq.Range
		for _, outer := range path {
			if o, ok := outer.(*parser.SubqueryExpr); ok {
				covered += o.Range
			}
		}
		step := sq.Step
		if step <= 0 {
			step = noStepSubqueryInterval
		}
		if steps := covered / step; steps > time.Duration(e.opts.MaxSamples) {
			refused = &apiError{httpapi.Execution, fmt.Errorf("the subquery [%s:%s] takes %d steps, more than the limit of %d samples (--query.max-samples): use a longer step",
				model.Duration(sq.Range), model.Duration(step), int64(steps), e.opts.MaxSamples)}
		}
		return nil
	})
	return refused
}

// contextError is ctx's end during a stage of a query, in the engine's words.
func contextError(ctx context.Context, stage string) *apiError {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return evalError(promql.ErrQueryTimeout(stage))
	}
	return evalError(promql.ErrQueryCanceled(stage))
}

// EvalInstant evaluates a PromQL expression at t over q, for code of strata that needs an
// answer in process rather than over HTTP. A scalar is one store.Sample without labels; range
// vectors, strings and native histograms are errors. Samples are sorted by their labels.
func EvalInstant(ctx context.Context, q storage.Queryable, expr string, t time.Time) ([]store.Sample, error) {
	return defaultEngine.EvalInstant(ctx, q, expr, t)
}

// Error is EvalInstant's refusal of an expression, with the API's type for it: bad_data for one
// that does not parse, execution for a limit's refusal.
type Error struct {
	Type httpapi.ErrorType
	Expr string
	Err  error // what is wrong with it, without the expression
}

func (e *Error) Error() string { return fmt.Sprintf("evaluate %q: %v", e.Expr, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// EvalInstant is the package's EvalInstant within the engine's bounds; an expression it refuses
// before evaluating is an *Error.
func (e *Engine) EvalInstant(ctx context.Context, q storage.Queryable, expr string, t time.Time) ([]store.Sample, error) {
	qry, apiErr := e.instant(ctx, q, expr, t)
	if apiErr != nil {
		return nil, &Error{Type: apiErr.typ, Expr: expr, Err: apiErr.err}
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return nil, fmt.Errorf("evaluate %q: %w", expr, res.Err)
	}
	var samples []store.Sample
	switch v := res.Value.(type) {
	case promql.Scalar:
		return []store.Sample{{Labels: labels.EmptyLabels(), Value: v.V}}, nil
	case promql.Vector:
		samples = make([]store.Sample, 0, len(v))
		for _, s := range v {
			if s.H != nil {
				return nil, fmt.Errorf("evaluate %q: %s is a native histogram", expr, s.Metric)
			}
			// Labels can point into memory the query frees on Close.
			samples = append(samples, store.Sample{Labels: s.Metric.Copy(), Value: s.F})
		}
	default:
		return nil, fmt.Errorf("evaluate %q: result is a %s, not an instant vector or scalar", expr, res.Value.Type())
	}
	slices.SortFunc(samples, func(a, b store.Sample) int { return labels.Compare(a.Labels, b.Labels) })
	return samples, nil
}
