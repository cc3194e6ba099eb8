package exporter_test

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/strata-obs/strata/internal/testenv"
)

// TestExporterBinaryStaysSmall: the node agent must not link Prometheus's server code nor
// Kubernetes' client (DESIGN.md §2); the CRI API's generated types are fine.
func TestExporterBinaryStaysSmall(t *testing.T) {
	goCmd := testenv.Command(t, "go")
	gomod := testenv.Output(t, goCmd, "env", "GOMOD")
	if gomod == "" || gomod == "/dev/null" {
		t.Fatalf("go env GOMOD = %q: not inside the module", gomod)
	}
	list := exec.Command(goCmd, "list", "-deps", "./cmd/strata-exporter")
	list.Dir = filepath.Dir(gomod)
	out, err := list.CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/strata-exporter: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 || !slices.Contains(deps, "github.com/strata-obs/strata/exporter") {
		t.Fatalf("go list -deps printed no dependency of the exporter:\n%s", out)
	}
	for _, dep := range deps {
		for _, banned := range []string{"github.com/prometheus/prometheus", "k8s.io/client-go", "k8s.io/apimachinery"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("strata-exporter links %s", dep)
			}
		}
	}
}
