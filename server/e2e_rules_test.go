package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	shipped "github.com/strata-obs/strata/dashboards/rules"
	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/server"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/haproxy"
)

// testRules is a rule file of the test's: an alert on a source that is down, and a recording
// rule over the same series.
const testRules = `groups:
  - name: test
    rules:
      - record: test:source_up:min
        expr: min(strata_topology_source_up)
      - alert: TestSourceDown
        expr: strata_topology_source_up == 0
        labels:
          severity: page
        annotations:
          summary: "source {{ $labels.source }} is down"
`

// TestRulesAndAlerts: strata evaluates its shipped rules and a rule file of the
// configuration's with Prometheus's rules manager over the embedded TSDB, and sends the alerts
// (with the external labels) to a real Alertmanager; /api/v1/rules and /api/v1/alerts answer
// with every field a real Prometheus answers for the same file.
func TestRulesAndAlerts(t *testing.T) {
	am := testenv.StartAlertmanager(t)
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "test.rules.yml")
	if err := os.WriteFile(rulesFile, []byte(testRules), 0o644); err != nil {
		t.Fatal(err)
	}
	// A source whose HAProxy is not there: strata_topology_source_up{source="edge"} is 0.
	src, err := haproxy.New(haproxy.Config{Name: "edge", RuntimeAPI: "unix://" + filepath.Join(dir, "no-haproxy.sock")})
	if err != nil {
		t.Fatal(err)
	}
	a := startApp(t, server.Options{RefreshInterval: time.Second, EvaluationInterval: time.Second,
		LBSources: []source.LoadBalancers{src}, ExternalLabels: labels.FromStrings("cluster", "test-1"),
		RuleFiles: []string{filepath.Join(dir, "*.rules.yml")}, DefaultRules: true,
		Alerting: fmt.Sprintf("alertmanagers:\n  - static_configs:\n      - targets: [%q]\n", strings.TrimPrefix(am, "http://"))})

	// The alert in Alertmanager, with the site's external label.
	testenv.Eventually(t, pollTimeout, "TestSourceDown in Alertmanager", func() error {
		var alerts []struct {
			Labels      map[string]string
			Annotations map[string]string
		}
		if err := getJSON(am+"/api/v2/alerts", &alerts); err != nil {
			return err
		}
		for _, al := range alerts {
			if al.Labels["alertname"] == "TestSourceDown" {
				if al.Labels["cluster"] != "test-1" || al.Labels["source"] != "edge" || al.Labels["severity"] != "page" ||
					al.Annotations["summary"] != "source edge is down" {
					return fmt.Errorf("alert %+v: want cluster test-1, source edge, severity page and its summary", al)
				}
				return nil
			}
		}
		return fmt.Errorf("%d alerts, not TestSourceDown", len(alerts))
	})

	var alerts struct {
		Status string
		Data   struct {
			Alerts []struct {
				Labels map[string]string
				State  string
				Value  string
			}
		}
	}
	if err := getJSON(a.base+"/api/v1/alerts", &alerts); err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(alerts.Data.Alerts, func(al struct {
		Labels map[string]string
		State  string
		Value  string
	}) bool {
		return al.Labels["alertname"] == "TestSourceDown"
	}); i < 0 || alerts.Data.Alerts[i].State != "firing" || alerts.Data.Alerts[i].Value != "0e+00" {
		t.Errorf("/api/v1/alerts: %+v, want TestSourceDown firing at 0e+00", alerts)
	}

	// The recorded series, in the embedded TSDB.
	testenv.Eventually(t, pollTimeout, "test:source_up:min recorded", func() error {
		var q struct {
			Data struct {
				Result []struct{ Value []any }
			}
		}
		if err := getJSON(a.base+"/api/v1/query?query="+url.QueryEscape("test:source_up:min"), &q); err != nil {
			return err
		}
		if len(q.Data.Result) != 1 || q.Data.Result[0].Value[1] != "0" {
			return fmt.Errorf("test:source_up:min: %+v, want 0", q.Data.Result)
		}
		return nil
	})

	// Both files' groups, the shipped one by its name; filters as Prometheus's.
	rules := func(query string) (files []string, types []string) {
		var answer struct {
			Data struct {
				Groups []struct {
					File  string
					Rules []struct{ Type string }
				}
			}
		}
		if err := getJSON(a.base+"/api/v1/rules"+query, &answer); err != nil {
			t.Fatal(err)
		}
		for _, g := range answer.Data.Groups {
			files = append(files, g.File)
			for _, r := range g.Rules {
				types = append(types, r.Type)
			}
		}
		return slices.Compact(files), types
	}
	files, types := rules("")
	if !slices.Contains(files, shipped.Name) || !slices.Contains(files, rulesFile) || !slices.Contains(types, "alerting") || !slices.Contains(types, "recording") {
		t.Errorf("/api/v1/rules: files %q, types %q: want the shipped rules and %s, of both types", files, types, rulesFile)
	}
	if _, types := rules("?type=record"); slices.Contains(types, "alerting") || len(types) == 0 {
		t.Errorf("type=record: %q", types)
	}
	if files, _ := rules("?file[]=" + url.QueryEscape(rulesFile)); len(files) != 1 || files[0] != rulesFile {
		t.Errorf("file[]=%s: %q", rulesFile, files)
	}
	if resp, err := http.Get(a.base + "/api/v1/rules?type=bogus"); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("type=bogus: %v %v, want 400", resp.Status, err)
	} else {
		resp.Body.Close()
	}

	// Every field a real Prometheus answers for the same file, strata answers: that Prometheus
	// scrapes strata's /metrics, where the source is down too.
	prom := testenv.StartPrometheus(t, testenv.Prometheus{Config: fmt.Sprintf("global:\n  evaluation_interval: 1s\n  scrape_interval: 1s\nrule_files: [%q]\n"+
		"scrape_configs:\n  - job_name: strata\n    static_configs:\n      - targets: [%q]\n", rulesFile, strings.TrimPrefix(a.base, "http://"))})
	fields := func(base string) []string {
		var answer struct {
			Data struct{ Groups []map[string]any }
		}
		var out []string
		testenv.Eventually(t, pollTimeout, "the test group evaluated at "+base, func() error {
			out = nil
			if err := getJSON(base+"/api/v1/rules?file[]="+url.QueryEscape(rulesFile), &answer); err != nil {
				return err
			}
			if len(answer.Data.Groups) != 1 {
				return fmt.Errorf("%d groups", len(answer.Data.Groups))
			}
			g := answer.Data.Groups[0]
			for k := range g {
				out = append(out, "group."+k)
			}
			list, _ := g["rules"].([]any)
			for _, r := range list {
				r, _ := r.(map[string]any)
				for k := range r {
					out = append(out, fmt.Sprint(r["type"], ".", k))
				}
				if as, _ := r["alerts"].([]any); r["type"] == "alerting" && len(as) == 0 {
					return fmt.Errorf("the alert is not active yet")
				}
				for _, al := range asList(r["alerts"]) {
					for k := range al {
						out = append(out, "alert."+k)
					}
				}
			}
			return nil
		})
		sort.Strings(out)
		return slices.Compact(out)
	}
	theirs, ours := fields(prom), fields(a.base)
	if !slices.Contains(theirs, "alerting.state") || !slices.Contains(theirs, "alert.activeAt") || !slices.Contains(theirs, "recording.query") {
		t.Fatalf("Prometheus's fields %q: want an alerting rule's, its alert's and a recording rule's", theirs)
	}
	for _, f := range theirs {
		if !slices.Contains(ours, f) {
			t.Errorf("Prometheus answers %s in /api/v1/rules, strata does not (strata: %q)", f, ours)
		}
	}
}

func asList(v any) []map[string]any {
	list, _ := v.([]any)
	var out []map[string]any
	for _, x := range list {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}
