package topology

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDocsNameTheSeries keeps docs/topology.md and the declared families in step.
func TestDocsNameTheSeries(t *testing.T) {
	b, err := os.ReadFile("../docs/topology.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `(strata_topology_[a-z_]+)` \\| (.*?) \\|")
	documented := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			documented[m[1]] = strings.NewReplacer("`", "", " ", "").Replace(m[2])
		}
	}
	declared := map[string]string{"strata_topology_source_up": "source", "strata_topology_refresh_duration_seconds": "(none)"}
	for _, f := range families() {
		labels := strings.Join(f.Labels, ",")
		if f.MetaLabels {
			labels += ",label_<name>…"
		}
		declared[f.Name] = labels
	}
	if diff := cmp.Diff(declared, documented); diff != "" {
		t.Errorf("docs/topology.md and series.go disagree (-code +docs):\n%s", diff)
	}
}
