package collector

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDocsNameTheMetrics keeps docs/metrics.md and the declared families in step: the same
// names, types and labels in both.
func TestDocsNameTheMetrics(t *testing.T) {
	b, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `(strata_[a-z_]+)` \\| (gauge|counter) \\| (.*?) \\|")
	documented := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			documented[m[1]] = m[2] + " " + strings.NewReplacer("`", "", " ", "").Replace(m[3])
		}
	}
	declared := map[string]string{containerLabelsName: "gauge host,container_id,label_<name>…"}
	for _, f := range Families() {
		typ := "gauge"
		if f.Type == counter {
			typ = "counter"
		}
		declared[f.Name] = typ + " " + strings.Join(f.AllLabels(), ",")
	}
	if diff := cmp.Diff(declared, documented); diff != "" {
		t.Errorf("docs/metrics.md and metrics.go disagree (-code +docs):\n%s", diff)
	}
}
