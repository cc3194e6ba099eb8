package topology

import (
	"fmt"
	"strings"
	"testing"

	"github.com/strata-obs/strata/internal/testenv"
)

// TestDocsNameTheSeries: docs/topology.md's table is the declared families, generated from them
// (make docs rewrites it; this fails when it is out of date).
func TestDocsNameTheSeries(t *testing.T) {
	var b strings.Builder
	b.WriteString("| metric | labels | meaning |\n| --- | --- | --- |\n")
	row := func(name string, labels []string, meta bool, help string) {
		quoted := make([]string, len(labels))
		for i, l := range labels {
			quoted[i] = "`" + l + "`"
		}
		if meta {
			quoted = append(quoted, "`label_<name>`…")
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", name, strings.Join(quoted, ", "), help)
	}
	help := FamilyHelps()
	for _, f := range families() {
		row(f.Name, f.Labels, f.MetaLabels, f.Help)
	}
	row(sourceUpName, []string{"source"}, false, help[sourceUpName])
	row(writerInfoName, []string{"writer", writerReplicaLabel}, false, writerInfoHelp)
	row(lifecycleStatusName, []string{"host` or `image", "rule", "state", "reason"}, false, lifecycleStatusHelp)
	row(supportEndName, []string{"host"}, false, supportEndHelp)
	fmt.Fprintf(&b, "| `%s` | (none) | %s |\n", refreshDurationName, refreshDurationHelp)
	row(siteLastWriteName, []string{ClusterLabel}, false, siteLastWriteHelp)
	row(siteEntitiesName, []string{ClusterLabel}, false, siteEntitiesHelp)
	row(siteWritersName, []string{ClusterLabel}, false, siteWritersHelp)
	row(siteClockSkewName, []string{ClusterLabel}, false, siteClockSkewHelp)
	testenv.GeneratedRegion(t, "../docs/topology.md", "series", b.String())
}
