package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-obs/strata/topology/config"
)

// TestREADMEConfiguration: the README's configuration file, every source type of it, reads as
// strata serve reads it, with the providers the server registers.
func TestREADMEConfiguration(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "### Configuration file\n\n```yaml\n")
	example, _, ok2 := strings.Cut(after, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no yaml block under ### Configuration file")
	}
	cfg, err := config.Parse("/etc/strata/strata.yml", []byte(example), Providers())
	if err != nil {
		t.Fatalf("the README's configuration: %v", err)
	}
	if _, _, err := rulesConfig(Options{Alerting: string(cfg.Alerting), RuleFiles: cfg.RuleFiles}); err != nil || cfg.Alerting == nil || !cfg.RuleFilesSet {
		t.Errorf("the README's rule_files and alerting: %v (alerting %q, rule_files set %v)", err, cfg.Alerting, cfg.RuleFilesSet)
	}
	seen := map[string]bool{}
	for _, s := range cfg.Sources {
		seen[s.Type] = true
	}
	for _, p := range Providers() {
		if !seen[p.Type] {
			t.Errorf("the README's configuration shows no %s source", p.Type)
		}
	}
}
