package promql_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/strata-obs/strata/internal/store"
	"github.com/strata-obs/strata/internal/store/storetest"
	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/query/promql"
)

// The fixture: an hour of series at 15 s steps from start, as a scrape of strata's own
// series and of a web service would leave them.
var start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	steps = 241 // 0 s … 3600 s
	every = 15 * time.Second
)

type fixtureSeries struct {
	family, typ string // OpenMetrics family and type; the sample name adds _total to a counter
	labels      string
	value       func(step int) float64
}

func fixture() []fixtureSeries {
	one := func(int) float64 { return 1 }
	return []fixtureSeries{
		{"strata_topology_host_info", "gauge", `host="web-1",os_image="Debian GNU/Linux 12",kernel_release="6.1.0-18-amd64"`, one},
		{"strata_topology_host_info", "gauge", `host="web-2",os_image="Debian GNU/Linux 12",kernel_release="6.1.0-18-amd64"`, one},
		{"strata_topology_host_info", "gauge", `host="db-1",os_image="Ubuntu 22.04.4 LTS",kernel_release="5.15.0-97-generic"`, one},
		{"strata_topology_instance_info", "gauge", `lb="haproxy",service="shop",server="web-1",health="UP"`, one},
		{"strata_topology_instance_info", "gauge", `lb="haproxy",service="shop",server="web-2",health="DOWN"`, one},
		{"http_requests", "counter", `host="web-1",code="200"`, func(i int) float64 { return float64(3 * i) }},
		{"http_requests", "counter", `host="web-1",code="500"`, func(i int) float64 { return float64(i / 10) }},
		{"http_requests", "counter", `host="web-2",code="200"`, func(i int) float64 { return float64(2 * (i % 120)) }}, // a restart at 30 min
		{"http_requests", "counter", `host="web-2",code="500"`, func(int) float64 { return 0 }},
		{"node_load1", "gauge", `host="web-1"`, func(i int) float64 { return 0.5 + 0.25*float64(i%4) }},
		{"node_load1", "gauge", `host="db-1"`, func(i int) float64 { return 0.125 * float64(i) }},
	}
}

func (s fixtureSeries) name() string {
	if s.typ == "counter" {
		return s.family + "_total"
	}
	return s.family
}

// writeOpenMetrics writes the fixture with timestamps, for promtool to make blocks of.
func writeOpenMetrics(w io.Writer) {
	family := ""
	for _, s := range fixture() {
		if s.family != family {
			family = s.family
			fmt.Fprintf(w, "# TYPE %s %s\n", s.family, s.typ)
		}
		for i := range steps {
			ts := start.Add(time.Duration(i) * every).Unix()
			fmt.Fprintf(w, "%s{%s} %s %d\n", s.name(), s.labels, strconv.FormatFloat(s.value(i), 'g', -1, 64), ts)
		}
	}
	fmt.Fprintln(w, "# EOF")
}

// appendFixture writes the fixture straight into a TSDB, for the tests that need no Prometheus.
func appendFixture(t *testing.T, db *tsdb.DB) {
	t.Helper()
	app := db.Appender(context.Background())
	for _, s := range fixture() {
		ls, err := store.ParseSeries(s.name() + "{" + s.labels + "}")
		if err != nil {
			t.Fatal(err)
		}
		for i := range steps {
			if _, err := app.Append(0, ls, start.Add(time.Duration(i)*every).UnixMilli(), s.value(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

// importedBlocks turns the fixture into TSDB blocks with promtool, as an operator backfills
// Prometheus.
func importedBlocks(t *testing.T) string {
	t.Helper()
	promtool := testenv.Command(t, "promtool")
	dir := t.TempDir()
	var om bytes.Buffer
	writeOpenMetrics(&om)
	if err := os.WriteFile(filepath.Join(dir, "fixture.om"), om.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	blocks := filepath.Join(dir, "blocks")
	if out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", filepath.Join(dir, "fixture.om"), blocks).CombinedOutput(); err != nil {
		t.Fatalf("promtool tsdb create-blocks-from openmetrics: %v\n%s", err, out)
	}
	return blocks
}

func unix(d time.Duration) string { return strconv.FormatInt(start.Add(d).Unix(), 10) }

// at is an instant 50 min into the fixture, between two samples: Prometheus 2 selects samples
// in [t-range, t] and 3 in (t-range, t], which differ when a sample lies at t-range.
var at = strconv.FormatFloat(float64(start.Add(50*time.Minute+7*time.Second).UnixMilli())/1000, 'f', -1, 64)

type apiCase struct {
	name   string
	method string // GET unless POST
	path   string
	params url.Values
	// status is the HTTP status both must answer; on success, data must not be empty unless
	// empty is set, so that data Prometheus failed to load cannot pass as agreement.
	status int
	empty  bool
	// errorLike, when set, is what both error messages must match instead of being equal:
	// Prometheus 2.42's words, where the prometheus module (Prometheus 3) words them anew.
	errorLike string
}

func apiCases() []apiCase {
	query := func(q string, more ...string) url.Values {
		v := url.Values{"query": {q}, "time": {at}}
		for i := 0; i < len(more); i += 2 {
			v.Set(more[i], more[i+1])
		}
		return v
	}
	rangeQuery := func(q, from, to, step string) url.Values {
		return url.Values{"query": {q}, "start": {from}, "end": {to}, "step": {step}}
	}
	ok, bad, exec, timeout := http.StatusOK, http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusServiceUnavailable
	return []apiCase{
		{name: "selector", path: "/api/v1/query", params: query(`strata_topology_host_info`), status: ok},
		{name: "aggregation", path: "/api/v1/query", params: query(`sum by (host) (rate(http_requests_total[5m]))`), status: ok},
		{name: "count by", path: "/api/v1/query", params: query(`count by (os_image, kernel_release) (strata_topology_host_info)`), status: ok},
		{name: "info join", path: "/api/v1/query", params: query(`sum by (host) (rate(http_requests_total{code="200"}[5m])) * on (host) group_left (os_image) strata_topology_host_info`), status: ok},
		{name: "counter reset", path: "/api/v1/query", params: query(`increase(http_requests_total{host="web-2"}[40m])`), status: ok},
		{name: "exponent floats", path: "/api/v1/query", params: query(`http_requests_total * 1e-9`), status: ok},
		{name: "scalar", path: "/api/v1/query", params: query(`scalar(count(strata_topology_host_info)) / 4`), status: ok},
		{name: "string", path: "/api/v1/query", params: query(`"shop"`), status: ok},
		{name: "nothing", path: "/api/v1/query", params: query(`strata_topology_pod_info`), status: ok, empty: true},
		{name: "RFC 3339 time", path: "/api/v1/query", params: url.Values{"query": {`node_load1`}, "time": {"2024-01-01T00:30:07.5Z"}}, status: ok},
		{name: "POST form", method: http.MethodPost, path: "/api/v1/query", params: query(`max by (host) (node_load1)`), status: ok},

		{name: "range", path: "/api/v1/query_range", params: rangeQuery(`rate(http_requests_total[2m])`, unix(10*time.Minute+7*time.Second), unix(40*time.Minute+7*time.Second), "1m"), status: ok},
		{name: "range float step", method: http.MethodPost, path: "/api/v1/query_range", params: rangeQuery(`sum(node_load1)`, unix(time.Minute+3*time.Second), unix(5*time.Minute+3*time.Second), "37.5"), status: ok},
		// The series end at 60 min; the lookback keeps them until 65 min.
		{name: "range past the end", path: "/api/v1/query_range", params: rangeQuery(`strata_topology_instance_info`, unix(50*time.Minute+7*time.Second), unix(70*time.Minute+7*time.Second), "2m"), status: ok},

		{name: "series", path: "/api/v1/series", params: url.Values{"match[]": {`strata_topology_host_info`}}, status: ok},
		{name: "series of two sets", path: "/api/v1/series", params: url.Values{"match[]": {`{__name__=~"http_.+",code="500"}`, `node_load1{host="db-1"}`}, "start": {unix(0)}, "end": {unix(time.Hour)}}, status: ok},
		{name: "series POST", method: http.MethodPost, path: "/api/v1/series", params: url.Values{"match[]": {`strata_topology_instance_info{health="UP"}`}}, status: ok},
		{name: "labels", path: "/api/v1/labels", status: ok},
		{name: "labels of matches", path: "/api/v1/labels", params: url.Values{"match[]": {`strata_topology_instance_info`}}, status: ok},
		{name: "label values", path: "/api/v1/label/host/values", status: ok},
		{name: "metric names", path: "/api/v1/label/__name__/values", status: ok},
		{name: "label values of matches", path: "/api/v1/label/host/values", params: url.Values{"match[]": {`node_load1`, `http_requests_total{code="500"}`}}, status: ok},
		{name: "label values outside the data", path: "/api/v1/label/host/values", params: url.Values{"start": {unix(2 * time.Hour)}, "end": {unix(3 * time.Hour)}}, status: ok, empty: true},

		// What Grafana's Prometheus data source asks beside its queries.
		{name: "format query", path: "/api/v1/format_query", params: url.Values{"query": {`sum by(host)(rate(http_requests_total{code="200"}[5m]))>0`}}, status: ok},
		{name: "format query POST", method: http.MethodPost, path: "/api/v1/format_query", params: url.Values{"query": {`max(node_load1)by(host)`}}, status: ok},
		{name: "format query syntax error", path: "/api/v1/format_query", params: url.Values{"query": {`sum(rate(http_requests_total[5m])`}}, status: bad,
			errorLike: `^invalid parameter "query": 1:34: parse error: unclosed left parenthesis$`},
		{name: "exemplars", path: "/api/v1/query_exemplars", params: url.Values{"query": {`http_requests_total`}, "start": {unix(0)}, "end": {unix(time.Hour)}}, status: ok, empty: true},
		{name: "exemplars POST", method: http.MethodPost, path: "/api/v1/query_exemplars", params: url.Values{"query": {`rate(http_requests_total[5m])`}}, status: ok, empty: true},
		{name: "exemplars syntax error", path: "/api/v1/query_exemplars", params: url.Values{"query": {`http_requests_total{`}}, status: bad},
		{name: "exemplars end before start", path: "/api/v1/query_exemplars", params: url.Values{"query": {`up`}, "start": {unix(time.Hour)}, "end": {unix(0)}}, status: bad},

		{name: "syntax error", path: "/api/v1/query", params: query(`sum(rate(http_requests_total[5m])`), status: bad,
			errorLike: `^invalid parameter "query": 1:34: parse error: unclosed left parenthesis$`},
		{name: "no query", path: "/api/v1/query", params: url.Values{"time": {at}}, status: bad,
			errorLike: `^invalid parameter "query": (1:1|unknown position): parse error: no expression found in input$`},
		{name: "bad time", path: "/api/v1/query", params: query(`up`, "time", "yesterday"), status: bad,
			errorLike: `^invalid parameter "time": [Ii]nvalid time value for 'time': cannot parse "yesterday" to a valid timestamp$`},
		{name: "range without step", path: "/api/v1/query_range", params: rangeQuery(`up`, unix(0), unix(time.Hour), ""), status: bad},
		{name: "range zero step", path: "/api/v1/query_range", params: rangeQuery(`up`, unix(0), unix(time.Hour), "0"), status: bad},
		{name: "range ends before it starts", path: "/api/v1/query_range", params: rangeQuery(`up`, unix(time.Hour), unix(0), "15s"), status: bad},
		{name: "range of too many points", path: "/api/v1/query_range", params: rangeQuery(`up`, unix(0), unix(time.Hour), "0.1"), status: bad},
		{name: "series without match", path: "/api/v1/series", status: bad},
		{name: "series matching everything", path: "/api/v1/series", params: url.Values{"match[]": {`{host=~".*"}`}}, status: bad},
		{name: "many-to-one without group_left", path: "/api/v1/query", params: query(`http_requests_total + on (host) node_load1`), status: exec},
		// Prometheus 2.42 reads no "ns" unit. The message names the engine's stage the
		// deadline struck in.
		{name: "timeout", path: "/api/v1/query", params: query(`sum(rate(http_requests_total[1h]))`, "timeout", "0.000001"), status: timeout,
			errorLike: `^query timed out in [a-z ]+$`},
	}
}

// envelope is the answer of Prometheus's HTTP API, decoded for comparing.
type envelope struct {
	Status    string   `json:"status"`
	Data      any      `json:"data"`
	ErrorType string   `json:"errorType"`
	Error     string   `json:"error"`
	Warnings  []string `json:"warnings"`
}

func call(t *testing.T, base string, c apiCase) (int, envelope, []byte) {
	t.Helper()
	var (
		resp *http.Response
		err  error
	)
	if c.method == http.MethodPost {
		resp, err = http.PostForm(base+c.path, c.params)
	} else {
		resp, err = http.Get(base + c.path + "?" + c.params.Encode())
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json", base, ct)
	}
	var e envelope
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("%s: %v in %s", base, err, body)
	}
	// An instant vector comes in no set order, in Prometheus as in the engine.
	if d, ok := e.Data.(map[string]any); ok && d["resultType"] == "vector" {
		if r, ok := d["result"].([]any); ok {
			slices.SortFunc(r, func(a, b any) int { return cmp.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
		}
	}
	return resp.StatusCode, e, body
}

// TestAPIAnswersAsPrometheus asks the real Prometheus and the API the same questions over the
// same blocks, made by promtool from one OpenMetrics file, and wants the same answers.
func TestAPIAnswersAsPrometheus(t *testing.T) {
	blocks := importedBlocks(t)
	prom := testenv.StartPrometheus(t, testenv.Prometheus{Blocks: blocks}) // scraping nothing, its blocks loaded

	copied := t.TempDir()
	if err := os.CopyFS(copied, os.DirFS(blocks)); err != nil {
		t.Fatal(err)
	}
	db := storetest.Open(t, copied)
	mux := http.NewServeMux()
	promql.NewAPI(db, promql.APIOptions{}, slog.New(slog.DiscardHandler)).Register(mux)
	strata := httptest.NewServer(mux)
	defer strata.Close()

	for _, c := range apiCases() {
		t.Run(c.name, func(t *testing.T) {
			promStatus, want, promBody := call(t, prom, c)
			status, got, body := call(t, strata.URL, c)
			if promStatus != c.status {
				t.Fatalf("Prometheus answered %d, the case wants %d: %s", promStatus, c.status, promBody)
			}
			if status != promStatus {
				t.Errorf("status %d, Prometheus %d\nstrata:     %s\nPrometheus: %s", status, promStatus, body, promBody)
			}
			if want.Status == "success" && isEmpty(want.Data) != c.empty {
				t.Fatalf("Prometheus's data is empty: %v, the case wants %v: %s", isEmpty(want.Data), c.empty, promBody)
			}
			if c.errorLike != "" {
				like := regexp.MustCompile(c.errorLike)
				if !like.MatchString(got.Error) || !like.MatchString(want.Error) {
					t.Errorf("error %q, Prometheus %q: want both like %s", got.Error, want.Error, c.errorLike)
				}
				got.Error, want.Error = "", ""
			}
			if diff := gocmp.Diff(want, got); diff != "" {
				t.Errorf("answer differs from Prometheus's (-Prometheus +strata):\n%s", diff)
			}
		})
	}

	// EvalInstant gives the answer of the API, as plain samples.
	for _, c := range apiCases() {
		if c.path != "/api/v1/query" || c.status != http.StatusOK || c.params.Get("time") != at {
			continue
		}
		t.Run("EvalInstant/"+c.name, func(t *testing.T) {
			_, want, _ := call(t, prom, c)
			data := want.Data.(map[string]any)
			if data["resultType"] == "string" {
				return
			}
			samples, err := promql.EvalInstant(t.Context(), db, c.params.Get("query"), start.Add(50*time.Minute+7*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if diff := gocmp.Diff(vectorOf(t, data), samples, equalLabels); diff != "" {
				t.Errorf("EvalInstant differs from Prometheus's (-Prometheus +EvalInstant):\n%s", diff)
			}
		})
	}
}

var equalLabels = gocmp.Comparer(labels.Equal)

func isEmpty(data any) bool {
	switch d := data.(type) {
	case []any:
		return len(d) == 0
	case map[string]any:
		r, ok := d["result"].([]any)
		return ok && len(r) == 0
	}
	return data == nil
}

// vectorOf reads Prometheus's instant vector or scalar as EvalInstant's samples.
func vectorOf(t *testing.T, data map[string]any) []store.Sample {
	t.Helper()
	value := func(point any) float64 {
		f, err := strconv.ParseFloat(point.([]any)[1].(string), 64)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	if data["resultType"] == "scalar" {
		return []store.Sample{{Labels: labels.EmptyLabels(), Value: value(data["result"])}}
	}
	samples := []store.Sample{}
	for _, r := range data["result"].([]any) {
		r := r.(map[string]any)
		b := labels.NewScratchBuilder(0)
		for k, v := range r["metric"].(map[string]any) {
			b.Add(k, v.(string))
		}
		b.Sort()
		samples = append(samples, store.Sample{Labels: b.Labels(), Value: value(r["value"])})
	}
	slices.SortFunc(samples, func(a, b store.Sample) int { return labels.Compare(a.Labels, b.Labels) })
	return samples
}

// TestProxyForwardsToPrometheus: through the proxy, the answers are Prometheus's, byte for
// byte, for GET and POST and the label values' path.
func TestProxyForwardsToPrometheus(t *testing.T) {
	prom := testenv.StartPrometheus(t, testenv.Prometheus{Blocks: importedBlocks(t)})
	proxy, err := promql.NewProxy(prom + "/")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	proxy.Register(mux)
	strata := httptest.NewServer(mux)
	defer strata.Close()

	for _, c := range apiCases() {
		if c.status == http.StatusServiceUnavailable {
			continue // Prometheus's timing, not the proxy's
		}
		t.Run(c.name, func(t *testing.T) {
			promStatus, _, want := call(t, prom, c)
			status, _, got := call(t, strata.URL, c)
			if status != promStatus || !bytes.Equal(got, want) {
				t.Errorf("through the proxy %d %s\nPrometheus %d %s", status, got, promStatus, want)
			}
		})
	}

	// What Grafana asks beside its queries, Prometheus's own answers too.
	for _, c := range []apiCase{{path: "/api/v1/targets"}, {path: "/api/v1/targets", params: url.Values{"state": {"active"}}},
		{path: "/api/v1/metadata"}, {path: "/api/v1/metadata", params: url.Values{"metric": {"up"}}}} {
		promStatus, _, want := call(t, prom, c)
		status, _, got := call(t, strata.URL, c)
		if status != http.StatusOK || status != promStatus || !bytes.Equal(got, want) {
			t.Errorf("%s?%s through the proxy %d %s\nPrometheus %d %s", c.path, c.params.Encode(), status, got, promStatus, want)
		}
	}

	t.Run("Prometheus down", func(t *testing.T) {
		down, err := promql.NewProxy("http://" + testenv.FreeAddr(t))
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		down.Register(mux)
		srv := httptest.NewServer(mux)
		defer srv.Close()
		status, e, body := call(t, srv.URL, apiCase{path: "/api/v1/labels"})
		if status != http.StatusBadGateway || e.Status != "error" || e.ErrorType != "unavailable" || !strings.Contains(e.Error, "connection refused") {
			t.Errorf("got %d %s, want 502 and an error envelope", status, body)
		}
	})
}

func TestNewProxyRejectsBadURL(t *testing.T) {
	for _, u := range []string{"localhost:9090", "ftp://prometheus", "http://", "http://[::1"} {
		if _, err := promql.NewProxy(u); err == nil {
			t.Errorf("NewProxy(%q) = nil error", u)
		}
	}
}

// TestAPILimits: the limit parameter truncates with a warning, MaxSamples fails the query as
// an execution error, a POST takes no label values, as in Prometheus 3.
func TestAPILimits(t *testing.T) {
	db := storetest.Open(t, t.TempDir())
	appendFixture(t, db)
	mux := http.NewServeMux()
	promql.NewAPI(db, promql.APIOptions{MaxSamples: 100}, slog.New(slog.DiscardHandler)).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	truncated := []string{"results truncated due to limit"}
	for _, c := range []struct {
		apiCase
		results  int
		warnings []string
	}{
		{apiCase{path: "/api/v1/query", params: url.Values{"query": {"strata_topology_host_info"}, "time": {at}}, status: 200}, 3, nil},
		{apiCase{path: "/api/v1/query", params: url.Values{"query": {"strata_topology_host_info"}, "time": {at}, "limit": {"2"}}, status: 200}, 2, truncated},
		{apiCase{path: "/api/v1/query", params: url.Values{"query": {"strata_topology_host_info"}, "time": {at}, "limit": {"3"}}, status: 200}, 3, nil},
		{apiCase{path: "/api/v1/query_range", params: url.Values{"query": {"node_load1"}, "start": {unix(0)}, "end": {unix(time.Minute)}, "step": {"15s"}, "limit": {"1"}}, status: 200}, 1, truncated},
		{apiCase{path: "/api/v1/series", params: url.Values{"match[]": {"http_requests_total"}, "limit": {"3"}}, status: 200}, 3, truncated},
		{apiCase{path: "/api/v1/labels", params: url.Values{"limit": {"2"}}, status: 200}, 2, truncated},
		{apiCase{path: "/api/v1/label/host/values", params: url.Values{"limit": {"3"}}, status: 200}, 3, nil},
		{apiCase{path: "/api/v1/label/host/values", params: url.Values{"limit": {"-1"}}, status: 400}, 0, nil},
		// 11 series × 241 samples is more than MaxSamples.
		{apiCase{path: "/api/v1/query", params: url.Values{"query": {"count_over_time({__name__=~\".+\"}[1h])"}, "time": {unix(time.Hour)}}, status: 422}, 0, nil},
		// An expression past --query.max-length is not read, to lay it out or to look for
		// its exemplars either.
		{apiCase{path: "/api/v1/format_query", params: url.Values{"query": {strings.Repeat("(", promql.DefaultMaxLength+1)}}, status: 422}, 0, nil},
		{apiCase{path: "/api/v1/query_exemplars", params: url.Values{"query": {strings.Repeat("(", promql.DefaultMaxLength+1)}}, status: 422}, 0, nil},
		{apiCase{path: "/api/v1/targets", params: url.Values{"state": {"bogus"}}, status: 400}, 0, nil},
		{apiCase{path: "/api/v1/metadata", params: url.Values{"limit": {"many"}}, status: 400}, 0, nil},
	} {
		status, e, body := call(t, srv.URL, c.apiCase)
		if status != c.status {
			t.Errorf("%s?%s: status %d, want %d: %s", c.path, c.params.Encode(), status, c.status, body)
			continue
		}
		if status != http.StatusOK {
			continue
		}
		results := e.Data
		if d, ok := e.Data.(map[string]any); ok {
			results = d["result"]
		}
		if n := len(results.([]any)); n != c.results || !slices.Equal(e.Warnings, c.warnings) {
			t.Errorf("%s?%s: %d results, warnings %q; want %d, %q", c.path, c.params.Encode(), n, e.Warnings, c.results, c.warnings)
		}
	}

	resp, err := http.PostForm(srv.URL+"/api/v1/label/host/values", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST label values: %s, want 405", resp.Status)
	}
}

func TestEvalInstant(t *testing.T) {
	db := storetest.Open(t, t.TempDir())
	appendFixture(t, db)
	ts := start.Add(50*time.Minute + 7*time.Second)
	series := func(s string) labels.Labels {
		ls, err := store.ParseSeries(s)
		if err != nil {
			t.Fatal(err)
		}
		return ls
	}
	for _, c := range []struct {
		expr string
		want []store.Sample
	}{
		{`count by (kernel_release) (strata_topology_host_info)`, []store.Sample{
			{Labels: series(`{kernel_release="5.15.0-97-generic"}`), Value: 1},
			{Labels: series(`{kernel_release="6.1.0-18-amd64"}`), Value: 2},
		}},
		{`node_load1`, []store.Sample{
			{Labels: series(`node_load1{host="db-1"}`), Value: 25}, // step 200
			{Labels: series(`node_load1{host="web-1"}`), Value: 0.5},
		}},
		{`count(strata_topology_host_info) * 2`, []store.Sample{{Labels: labels.EmptyLabels(), Value: 6}}},
		{`scalar(count(strata_topology_host_info))`, []store.Sample{{Labels: labels.EmptyLabels(), Value: 3}}},
		{`strata_topology_pod_info`, []store.Sample{}},
	} {
		got, err := promql.EvalInstant(t.Context(), db, c.expr, ts)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if diff := gocmp.Diff(c.want, got, equalLabels); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.expr, diff)
		}
	}
	for _, expr := range []string{`node_load1[5m]`, `"a string"`, `sum(`} {
		if got, err := promql.EvalInstant(t.Context(), db, expr, ts); err == nil {
			t.Errorf("%s: %v, want an error", expr, got)
		}
	}
}

// TestBuildInfo: /api/v1/status/buildinfo, which Grafana's Prometheus data source asks for,
// answers strata's build in Prometheus's shape.
func TestBuildInfo(t *testing.T) {
	mux := http.NewServeMux()
	promql.NewAPI(storetest.Open(t, t.TempDir()), promql.APIOptions{}, slog.New(slog.DiscardHandler)).Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/status/buildinfo", nil))
	var env struct {
		Status string            `json:"status"`
		Data   map[string]string `json:"data"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || rec.Code != http.StatusOK || env.Status != "success" {
		t.Fatalf("%d %v: %s", rec.Code, err, rec.Body)
	}
	for _, k := range []string{"version", "revision", "branch", "buildUser", "buildDate", "goVersion"} {
		if _, ok := env.Data[k]; !ok {
			t.Errorf("buildinfo lacks %q: %v", k, env.Data)
		}
	}
	if env.Data["goVersion"] != runtime.Version() {
		t.Errorf("goVersion %q, want %s", env.Data["goVersion"], runtime.Version())
	}
}

// TestAPIBounds: what Prometheus's engine would spend memory or time on before refusing is
// refused first, each refusal an execution error (422) naming its flag, and the queries that
// fit still answer: an expression past --query.max-length before it is parsed, a subquery of
// more steps than --query.max-samples (counting the range query's span and the subqueries
// around it) before a step is allocated, a parse that outlasts the request's timeout at the
// timeout, and a series answer of more labels than --query.max-samples.
func TestAPIBounds(t *testing.T) {
	db := storetest.Open(t, t.TempDir())
	appendFixture(t, db)
	mux := http.NewServeMux()
	promql.NewAPI(db, promql.APIOptions{MaxSamples: 10_000, MaxLength: 4096}, slog.New(slog.DiscardHandler)).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	nested := strings.Repeat("(", 2000) + "1" + strings.Repeat(")", 2000)
	for _, c := range []struct {
		apiCase
		holds string // in the error; "" for a success
	}{
		{apiCase{path: "/api/v1/query", params: url.Values{"query": {"vector(1)" + strings.Repeat(" + vector(1)", 400)}}, status: 422},
			"the expression is 4809 bytes long, more than the limit of 4096 (--query.max-length)"},
		{apiCase{path: "/api/v1/query", params: url.Values{"query": {"max_over_time(vector(1)[1d:1ms])"}}, status: 422},
			"the subquery [1d:1ms] takes 86400000 steps, more than the limit of 10000 samples (--query.max-samples)"},
		{apiCase{path: "/api/v1/query", params: url.Values{"query": {"max_over_time(vector(1)[1h:1s])"}}, status: 200}, ""},
		{apiCase{path: "/api/v1/query", params: url.Values{"query": {"max_over_time(vector(1)[3h:1s])"}}, status: 422}, "takes 10800 steps"},
		// The outer subquery's range widens the inner's.
		{apiCase{path: "/api/v1/query", params: url.Values{"query": {"max_over_time(max_over_time(vector(1)[1h:1s])[2h:1h])"}}, status: 422},
			"the subquery [1h:1s] takes 10800 steps"},
		// A range query's span widens its subqueries'; its own steps stay Prometheus's 11,000.
		{apiCase{path: "/api/v1/query_range", params: url.Values{"query": {"max_over_time(vector(1)[1h:1s])"}, "start": {"0"}, "end": {"7200"}, "step": {"60"}}, status: 422},
			"the subquery [1h:1s] takes 10800 steps"},
		{apiCase{path: "/api/v1/query_range", params: url.Values{"query": {"max_over_time(vector(1)[1h:1s])"}, "start": {"0"}, "end": {"600"}, "step": {"60"}}, status: 200}, ""},
		// 4,001 bytes of nested parentheses parse in tens of milliseconds: a 1 ms budget ends first.
		{apiCase{path: "/api/v1/query", params: url.Values{"query": {nested}, "timeout": {"1ms"}}, status: 503}, "query timed out in expression parsing"},
		{apiCase{path: "/api/v1/query", params: url.Values{"query": {nested}}, status: 200}, ""},
	} {
		status, e, body := call(t, srv.URL, c.apiCase)
		if status != c.status || !strings.Contains(e.Error, c.holds) {
			t.Errorf("%s?%.80s: status %d, want %d with an error holding %q: %.300s", c.path, c.params.Encode(), status, c.status, c.holds, body)
		}
	}

	// The fixture's 11 series hold 33 labels and names: a budget of 20 refuses them all.
	small := http.NewServeMux()
	promql.NewAPI(db, promql.APIOptions{MaxSamples: 20}, slog.New(slog.DiscardHandler)).Register(small)
	srv2 := httptest.NewServer(small)
	defer srv2.Close()
	for _, c := range []struct {
		match  string
		status int
	}{{`{__name__=~".+"}`, 422}, {`node_load1`, 200}} {
		status, e, body := call(t, srv2.URL, apiCase{path: "/api/v1/series", params: url.Values{"match[]": {c.match}}})
		if status != c.status || (status == 422 && !strings.Contains(e.Error, "(--query.max-samples)")) {
			t.Errorf("series %s: status %d, want %d: %s", c.match, status, c.status, body)
		}
	}
}
