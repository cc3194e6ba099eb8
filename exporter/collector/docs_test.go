package collector

import (
	"fmt"
	"strings"
	"testing"

	"github.com/strata-obs/strata/internal/testenv"
)

// TestDocsNameTheMetrics: docs/metrics.md's tables are the declared families and collectors,
// generated from them (make docs rewrites them; this fails when they are out of date).
func TestDocsNameTheMetrics(t *testing.T) {
	testenv.GeneratedRegion(t, "../../docs/metrics.md", "families", familiesTable())
	testenv.GeneratedRegion(t, "../../docs/metrics.md", "collectors", collectorsTable())
}

func familiesTable() string {
	var b strings.Builder
	b.WriteString("| metric | type | labels | meaning |\n| --- | --- | --- | --- |\n")
	row := func(name, typ string, labels []string, help string) {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", name, typ, codeList(labels), help)
	}
	for _, f := range Families() {
		typ := "gauge"
		if f.Type == counter {
			typ = "counter"
		}
		row(f.Name, typ, f.AllLabels(), f.Help)
	}
	fmt.Fprintf(&b, "| `%s` | gauge | %s, `label_<name>`… | %s |\n", containerLabelsName, codeList([]string{"host", "container_id"}), containerLabelsHelp)
	return b.String()
}

func collectorsTable() string {
	var b strings.Builder
	b.WriteString("| collector | flag | default | reads | series it alone fills |\n| --- | --- | --- | --- | --- |\n")
	for _, f := range Factories() {
		on := "on"
		if !f.DefaultEnabled {
			on = "off"
		}
		var names []string
		for _, fam := range f.Families {
			names = append(names, fam.Name)
		}
		if f.Name == "container" {
			names = append(names, containerLabelsName)
		}
		fmt.Fprintf(&b, "| %s | `--collector.%s` | %s | %s | %s |\n", f.Name, f.Name, on, f.Help, cmpOr(codeList(names), "(only `strata_host_info`)"))
	}
	return b.String()
}

// codeList writes names as `a`, `b`.
func codeList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = "`" + n + "`"
	}
	return strings.Join(quoted, ", ")
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
