package dashboards

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/strata-obs/strata/internal/testenv"
)

const (
	rulesFile     = "rules/strata.rules.yml"
	rulesTestFile = "rules/strata.rules.test.yml"
)

func TestRulesPromtoolCheck(t *testing.T) {
	promtool := testenv.Command(t, "promtool")
	out, err := exec.Command(promtool, "check", "rules", rulesFile).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules %s: %v\n%s", rulesFile, err, out)
	}
}

// TestRulesPromtoolTest runs the unit tests that make each alert fire, and stay silent on its
// near misses, on synthetic series.
func TestRulesPromtoolTest(t *testing.T) {
	promtool := testenv.Command(t, "promtool")
	out, err := exec.Command(promtool, "test", "rules", rulesTestFile).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules %s: %v\n%s", rulesTestFile, err, out)
	}
}

// TestRulesEveryAlertTested makes the unit tests cover each alert both ways: firing, with its
// labels and annotations, and silent.
func TestRulesEveryAlertTested(t *testing.T) {
	b, err := os.ReadFile(rulesTestFile)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []struct {
					ExpLabels      map[string]string `yaml:"exp_labels"`
					ExpAnnotations map[string]string `yaml:"exp_annotations"`
				} `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatalf("%s: %v", rulesTestFile, err)
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range file.Tests {
		for _, at := range tc.AlertRuleTest {
			if len(at.ExpAlerts) == 0 {
				silent[at.Alertname] = true
			}
			for _, a := range at.ExpAlerts {
				if len(a.ExpLabels) > 0 && a.ExpAnnotations["runbook"] != "" {
					fires[at.Alertname] = true
				}
			}
		}
	}
	for _, r := range rulesLoad(t, rulesFile) {
		if r.Alert == "" {
			continue
		}
		if !fires[r.Alert] {
			t.Errorf("%s: no test where it fires with exp_labels and exp_annotations", r.Alert)
		}
		if !silent[r.Alert] {
			t.Errorf("%s: no test where it stays silent", r.Alert)
		}
	}
}

// TestRulesNameOnlyStrataSeries keeps the rules honest: every expression parses and selects
// only series strata documents (with labels those families carry), the scraper's `up` and
// `ALERTS`, or a recording rule of the same file. A renamed family or label fails here, not
// silently in production where the alert would just never fire.
func TestRulesNameOnlyStrataSeries(t *testing.T) {
	families := rulesDocumentedFamilies(t)
	rules := rulesLoad(t, rulesFile)
	recorded := map[string]bool{}
	for _, r := range rules {
		if r.Record != "" {
			recorded[r.Record] = true
		}
	}
	if len(recorded) == 0 {
		t.Error("no recording rules")
	}
	alerts := 0
	for _, r := range rules {
		name := r.Record + r.Alert
		if r.Alert != "" {
			alerts++
			rulesCheckAlertShape(t, r)
		}
		for _, err := range rulesCheckExpr(r.Expr, families, recorded) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if alerts == 0 {
		t.Error("no alerting rules")
	}
}

// TestRulesCheckerRejects makes sure the checker above can fail.
func TestRulesCheckerRejects(t *testing.T) {
	families := rulesDocumentedFamilies(t)
	recorded := map[string]bool{"strata:service_kernels:count": true}
	for _, expr := range []string{
		`strata_host_kernel_info`,                           // not a family
		`strata_topology_path_info{kernel="6.1"}`,           // not a label of the family
		`node_uname_info`,                                   // not strata's
		`{__name__=~"strata_nothing_.+"}`,                   // matches no family
		`{__name__=~"strata_topology_.+_info", kernel="x"}`, // no such label on any of them
		`rate(strata_container_cpu_seconds_total[5m])`,      // misspelt counter
		`strata:service_kernel:count > 1`,                   // not recorded here
		`count by (lb) (strata_topology_path_info{lb="a"}`,  // does not parse
	} {
		if errs := rulesCheckExpr(expr, families, recorded); len(errs) == 0 {
			t.Errorf("%s: accepted", expr)
		}
	}
	for _, expr := range []string{
		`up{job="strata-exporter"} == 0`,
		`ALERTS{alertstate="firing"}`,
		`strata_topology_host_info{label_zone!=""}`,
		`strata_exporter_collector_success{instance="h1:9731", collector="dmi"}`,
		`max_over_time(strata_host_boot_time_seconds{host="h1"}[1h])`,
		`strata:service_kernels:count > 1`,
		`count by (__name__) ({__name__=~"strata_topology_.+_info", stale="true"})`,
	} {
		if errs := rulesCheckExpr(expr, families, recorded); len(errs) != 0 {
			t.Errorf("%s: rejected: %v", expr, errs)
		}
	}
}

// rulesFamily is one documented metric family: its labels, and whether it carries allow-listed
// label_<name> labels.
type rulesFamily struct {
	labels     map[string]bool
	anyLabelOf bool
}

// rulesScraperLabels are attached by the scraper to every series it stores.
var rulesScraperLabels = map[string]bool{"instance": true, "job": true}

// rulesDocumentedFamilies is documentedLabels (the docs' metric tables) in the shape the rule
// checker wants.
func rulesDocumentedFamilies(t *testing.T) map[string]rulesFamily {
	t.Helper()
	families := map[string]rulesFamily{}
	for name, labels := range documentedLabels(t) {
		families[name] = rulesFamily{labels: labels, anyLabelOf: labels["label_<name>"]}
	}
	for _, want := range []string{"strata_host_info", "strata_topology_path_info", "strata_exporter_collector_success"} {
		if _, ok := families[want]; !ok {
			t.Fatalf("%s not found in the docs' metric tables: has the table layout changed?", want)
		}
	}
	return families
}

type rulesRule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func rulesLoad(t testing.TB, path string) []rulesRule {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []rulesRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var rules []rulesRule
	for _, g := range file.Groups {
		rules = append(rules, g.Rules...)
	}
	return rules
}

// rulesCheckAlertShape holds every alert to what an SRE paged at night needs.
func rulesCheckAlertShape(t *testing.T, r rulesRule) {
	t.Helper()
	if r.For == "" {
		t.Errorf("%s: no for", r.Alert)
	}
	switch r.Labels["severity"] {
	case "warning", "critical":
	default:
		t.Errorf("%s: severity %q, want warning or critical", r.Alert, r.Labels["severity"])
	}
	for _, k := range []string{"summary", "description", "runbook"} {
		if strings.TrimSpace(r.Annotations[k]) == "" {
			t.Errorf("%s: no %s annotation", r.Alert, k)
		}
	}
	if rb := r.Annotations["runbook"]; !strings.Contains(rb, "strata query") && !strings.Contains(rb, "strata promql") {
		t.Errorf("%s: runbook names no strata query to run", r.Alert)
	}
}

// rulesCheckExpr parses expr and checks each series it selects against the documented
// families, the scraper's up and ALERTS, and the recorded names.
func rulesCheckExpr(expr string, families map[string]rulesFamily, recorded map[string]bool) []error {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return []error{fmt.Errorf("parse %q: %w", expr, err)}
	}
	known := func(name string) bool {
		_, ok := families[name]
		// prometheus_tsdb_*: the embedded TSDB's own series, which strata's /metrics serves
		// beside its own (docs/topology.md); their labels are the scraper's alone.
		return ok || name == "up" || name == "ALERTS" || recorded[name] || strings.HasPrefix(name, "prometheus_tsdb_")
	}
	var errs []error
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		var nameMatcher *labels.Matcher
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel {
				nameMatcher = m
			}
		}
		var names []string
		switch {
		case nameMatcher == nil:
			errs = append(errs, fmt.Errorf("%s selects no metric name", vs))
			return nil
		case nameMatcher.Type == labels.MatchEqual:
			if !known(nameMatcher.Value) {
				errs = append(errs, fmt.Errorf("%s: %s is not a series strata emits (docs/metrics.md, docs/topology.md), up, ALERTS or a recording rule of %s", vs, nameMatcher.Value, rulesFile))
				return nil
			}
			names = []string{nameMatcher.Value}
		default:
			for name := range families {
				if nameMatcher.Matches(name) {
					names = append(names, name)
				}
			}
			if len(names) == 0 {
				errs = append(errs, fmt.Errorf("%s matches no series strata emits", vs))
				return nil
			}
		}
		// A label must belong to one of the families the selector names: a regex over the
		// *_info families may ask for stale="true", which only some of them carry.
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel || rulesScraperLabels[m.Name] {
				continue
			}
			carried := false
			for _, name := range names {
				fam, ok := families[name]
				if !ok || fam.labels[m.Name] || (fam.anyLabelOf && strings.HasPrefix(m.Name, "label_")) {
					carried = true // up, ALERTS and recorded series: labels not documented here
				}
			}
			if !carried {
				errs = append(errs, fmt.Errorf("%s: no label %s on %s", vs, m.Name, strings.Join(names, ", ")))
			}
		}
		return nil
	})
	return errs
}
