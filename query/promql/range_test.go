package promql_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/strata-obs/strata/internal/store"
	"github.com/strata-obs/strata/internal/store/storetest"
	"github.com/strata-obs/strata/query/promql"
)

func TestEvalRange(t *testing.T) {
	db := storetest.Open(t, t.TempDir())
	appendFixture(t, db)
	series := func(s string) labels.Labels {
		ls, err := store.ParseSeries(s)
		if err != nil {
			t.Fatal(err)
		}
		return ls
	}
	points := func(from time.Time, vs ...float64) []promql.Point {
		out := make([]promql.Point, len(vs))
		for i, v := range vs {
			out[i] = promql.Point{T: from.Add(time.Duration(i) * every), V: v}
		}
		return out
	}
	at := start.Add(10 * time.Minute) // step 40
	for _, c := range []struct {
		expr string
		want []promql.Series
	}{
		{`node_load1`, []promql.Series{
			{Labels: series(`node_load1{host="db-1"}`), Points: points(at, 5, 5.125, 5.25, 5.375, 5.5)},
			{Labels: series(`node_load1{host="web-1"}`), Points: points(at, 0.5, 0.75, 1, 1.25, 0.5)},
		}},
		{`max by (health) (strata_topology_instance_info{service="shop"})`, []promql.Series{
			{Labels: series(`{health="DOWN"}`), Points: points(at, 1, 1, 1, 1, 1)},
			{Labels: series(`{health="UP"}`), Points: points(at, 1, 1, 1, 1, 1)},
		}},
		// A scalar is one series without labels.
		{`scalar(count(strata_topology_host_info))`, []promql.Series{{Labels: labels.EmptyLabels(), Points: points(at, 3, 3, 3, 3, 3)}}},
		{`strata_topology_pod_info`, []promql.Series{}},
	} {
		got, err := promql.EvalRange(t.Context(), db, c.expr, at, at.Add(time.Minute), every)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if diff := gocmp.Diff(c.want, got, equalLabels); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.expr, diff)
		}
	}
}

// EvalRange answers what /api/v1/query_range answers, whose answers the API test compares
// with a real Prometheus's.
func TestEvalRangeIsQueryRange(t *testing.T) {
	db := storetest.Open(t, t.TempDir())
	appendFixture(t, db)
	mux := http.NewServeMux()
	promql.NewAPI(db, promql.APIOptions{}, slog.New(slog.DiscardHandler)).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	from, to, step := start.Add(5*time.Minute), start.Add(55*time.Minute), 30*time.Second
	for _, expr := range []string{
		`rate(http_requests_total[5m])`,
		`sum by (host) (increase(http_requests_total[10m]))`,
		`avg_over_time(node_load1[2m]) > 1`,
		`time()`,
		`count by (kernel_release) (strata_topology_host_info)`,
	} {
		got, err := promql.EvalRange(t.Context(), db, expr, from, to, step)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		want := queryRange(t, srv.URL, expr, from, to, step)
		if diff := gocmp.Diff(want, got, equalLabels); diff != "" {
			t.Errorf("%s: EvalRange differs from /api/v1/query_range (-API +EvalRange):\n%s", expr, diff)
		}
	}
}

// queryRange asks the API and reads its matrix as EvalRange's series.
func queryRange(t *testing.T, base, expr string, from, to time.Time, step time.Duration) []promql.Series {
	t.Helper()
	params := url.Values{"query": {expr}, "start": {strconv.FormatInt(from.Unix(), 10)},
		"end": {strconv.FormatInt(to.Unix(), 10)}, "step": {step.String()}}
	resp, err := http.Get(base + "/api/v1/query_range?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Values [][2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("query_range %s: %s, %v", expr, body.Status, err)
	}
	out := []promql.Series{}
	for _, r := range body.Data.Result {
		s := promql.Series{Labels: labels.FromMap(r.Metric)}
		for _, v := range r.Values {
			f, err := strconv.ParseFloat(v[1].(string), 64)
			if err != nil {
				t.Fatal(err)
			}
			s.Points = append(s.Points, promql.Point{T: time.UnixMilli(int64(v[0].(float64) * 1000)).UTC(), V: f})
		}
		out = append(out, s)
	}
	return out
}

func TestEvalRangeErrors(t *testing.T) {
	db := storetest.Open(t, t.TempDir())
	appendFixture(t, db)
	at := start.Add(10 * time.Minute)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, c := range []struct {
		name      string
		ctx       context.Context
		expr      string
		end       time.Time
		step      time.Duration
		typ       string
		line, col int
		message   string
	}{
		{name: "unclosed", expr: `sum(`, typ: "bad_data", line: 1, col: 5, message: "unclosed left parenthesis"},
		{name: "bad label", expr: `node_load1{host="web-1",}} + 1`, typ: "bad_data", line: 1, col: 26, message: "unexpected"},
		{name: "second line", expr: "sum by (host) (\n  rate(http_requests_total[5m]) +* 2)", typ: "bad_data", line: 2, col: 34, message: "unexpected"},
		{name: "range vector", expr: `node_load1[5m]`, typ: "bad_data", message: `invalid expression type "range vector" for range query`},
		{name: "string", expr: `"a string"`, typ: "bad_data", message: "invalid expression type"},
		{name: "end before start", expr: `node_load1`, end: at.Add(-time.Minute), typ: "bad_data", message: "end timestamp must not be before start time"},
		{name: "zero step", expr: `node_load1`, step: -1, typ: "bad_data", message: "zero or negative query resolution step"},
		{name: "too many points", expr: `node_load1`, end: at.Add(24 * time.Hour), step: time.Second, typ: "bad_data", message: "11,000 points"},
		{name: "canceled", ctx: canceled, expr: `node_load1`, typ: "canceled"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, end, step := c.ctx, c.end, c.step
			if ctx == nil {
				ctx = t.Context()
			}
			if end.IsZero() {
				end = at.Add(time.Minute)
			}
			if step == 0 {
				step = every
			} else if step < 0 {
				step = 0
			}
			got, err := promql.EvalRange(ctx, db, c.expr, at, end, step)
			var ee *promql.EvalError
			if !errors.As(err, &ee) {
				t.Fatalf("%s: %v, %v; want an *EvalError", c.expr, got, err)
			}
			if ee.Type != c.typ || ee.Line != c.line || ee.Col != c.col || !strings.Contains(err.Error(), c.message) {
				t.Errorf("%s: %s at %d:%d (%v), want %s at %d:%d with %q", c.expr, ee.Type, ee.Line, ee.Col, err, c.typ, c.line, c.col, c.message)
			}
			// The position is the one the parser's message gives.
			if c.line > 0 && !strings.Contains(err.Error(), fmt.Sprintf("%d:%d: parse error", c.line, c.col)) {
				t.Errorf("%s: %v does not name %d:%d", c.expr, err, c.line, c.col)
			}
		})
	}
}
