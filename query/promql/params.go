package promql

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/strata-obs/strata/internal/httpapi"
)

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

// parseTime reads unix seconds (to the millisecond) or RFC 3339, between minTime and maxTime,
// with Prometheus's words.
func parseTime(s string) (time.Time, error) {
	t, ok, err := httpapi.ParseTime(s)
	if err == nil && ok && !t.Before(minTime) && !t.After(maxTime) {
		return t, nil
	}
	switch s {
	case minTime.Format(time.RFC3339Nano):
		return minTime, nil
	case maxTime.Format(time.RFC3339Nano):
		return maxTime, nil
	}
	if err != nil || ok {
		return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp: out of range", s)
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
