package query

import (
	"os"
	"strings"
	"testing"

	"github.com/strata-obs/strata/topology/graph"
)

// TestDocsNameEveryStage: the grammar of docs/query.md names every stage of the stages table
// and every kind, so that a new one is documented where users read the language.
func TestDocsNameEveryStage(t *testing.T) {
	b, err := os.ReadFile("../docs/query.md")
	if err != nil {
		t.Fatal(err)
	}
	_, grammar, ok := strings.Cut(string(b), "query     = ")
	grammar, _, ok2 := strings.Cut(grammar, "```")
	if !ok || !ok2 {
		t.Fatal("docs/query.md has no grammar block")
	}
	for _, name := range stageNames() {
		if !strings.Contains(grammar, `"`+name+`"`) {
			t.Errorf("docs/query.md's grammar does not name the stage %q", name)
		}
	}
	for _, k := range graph.Kinds() {
		if !strings.Contains(grammar, `"`+string(k)+`"`) {
			t.Errorf("docs/query.md's grammar does not name the kind %q", k)
		}
	}
}
