// Package strata_test holds the test that keeps strata's layers pointing down (docs/design.md,
// "Layers"): internal ← exporter ← topology/graph ← topology ← query ← ui ← server ← cmd.
package strata_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-obs/strata/internal/testenv"
)

const module = "github.com/strata-obs/strata/"

// allowed lists, for every package of the module, the module's packages it may import: the
// layers below it, and in its layer only what the list names. A package missing here fails the
// test, so that a new one is placed in a layer when it is made. "topology/source/*" stands for
// every provider. Tests may import the same, plus the packages of testImports.
var allowed = map[string][]string{
	// internal/: what two layers share. Nothing of strata above it.
	"internal/cgroup":          {},
	"internal/kernelversion":   {},
	"internal/redact":          {},
	"internal/httpapi":         {},
	"internal/safefile":        {},
	"internal/testenv":         {},
	"internal/labelname":       {"internal/redact"},
	"internal/strictyaml":      {"internal/redact"},
	"internal/store":           {"internal/redact"},
	"internal/store/storetest": {"internal/store"},
	"internal/kubetest":        {"internal/testenv"},
	"internal/oidctest":        {"internal/testenv"},
	"internal/thanostest":      {"internal/testenv"},

	// The node agent.
	"exporter/collector": {"internal/cgroup", "internal/labelname", "internal/kernelversion", "internal/safefile"},
	"exporter":           {"exporter/collector", "internal/kernelversion"},

	// The topology: its pure domain types, who may see which part of it (auth: roles, tokens, a
	// scope's visible graph), the sources, the join, the configuration, the refresh.
	"topology/graph":             {},
	"topology/auth":              {"topology/graph", "internal/strictyaml", "internal/safefile"},
	"topology/source":            {"internal/strictyaml"},
	"topology/source/*":          {"topology/source", "internal/redact", "internal/safefile", "internal/strictyaml", "internal/labelname", "internal/cgroup"},
	"topology/source/sourcetest": {"topology/source", "internal/strictyaml"},
	"topology/join":              {"topology/graph", "topology/source", "internal/cgroup"},
	"topology/lifecycle":         {"internal/kernelversion"},
	"topology/plan":              {"topology/graph"}, // patch waves; the server hands it the graph and the hosts
	"topology/config":            {"topology/source", "topology/auth", "topology/lifecycle", "internal/labelname", "internal/redact", "internal/safefile", "internal/strictyaml"},
	"topology":                   {"topology/graph", "topology/join", "topology/source", "topology/lifecycle", "internal/labelname", "internal/store"},

	// The path language and PromQL.
	"query":           {"topology/graph", "internal/httpapi"},
	"query/querytest": {"query", "topology/graph"},
	"query/promql":    {"internal/httpapi", "internal/store"},

	"ui": {"query", "query/promql", "topology/graph", "internal/cgroup"},

	// The assembly, and the mains.
	"server": {"ui", "topology/auth", "query", "query/promql", "topology", "topology/config", "topology/graph", "topology/join", "topology/lifecycle", "topology/plan",
		"topology/source", "topology/source/*", "exporter", "internal/redact", "internal/safefile", "internal/store", "internal/httpapi",
		"dashboards/rules"},
	"cmd/strata":          {"server", "query", "query/promql", "topology/config", "exporter", "exporter/collector", "internal/redact", "internal/safefile"},
	"cmd/strata-exporter": {"exporter", "exporter/collector"},

	// Dashboards and rules as code, and the deployment's tests: beside the layers, importing none.
	"dashboards":                    {},
	"dashboards/rules":              {}, // the shipped rules file, which the server evaluates
	"dashboards/cmd/gen-dashboards": {"dashboards"},
	"deploy":                        {},
	"packaging":                     {},
}

// testImports are what a package's tests may import besides its own list: the test helpers, a
// package's own external test, and the real parts the end-to-end tests start.
var testImports = map[string][]string{
	"*":               {"internal/testenv", "topology/source/sourcetest", "internal/store", "internal/store/storetest"},
	"topology/config": {"topology/source/*"},
	"server":          {"internal/kubetest", "internal/oidctest", "internal/thanostest", "query/querytest", "dashboards", "exporter/collector"},
	"cmd/strata":      {"internal/testenv", "internal/oidctest"},
	"deploy":          {"internal/kubetest", "topology/source", "topology/source/kubernetes"},
	"packaging":       {"internal/testenv"},
	"internal/store":  {},
}

// goPackage is what go list says of one package.
type goPackage struct {
	ImportPath, Dir                    string
	GoFiles, TestGoFiles, XTestGoFiles []string
	Imports, TestImports, XTestImports []string
}

// TestImportsPointDown: every import inside the module is allowed by the list above.
func TestImportsPointDown(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages: not the module", len(pkgs))
	}
	for _, problem := range checkImports(pkgs) {
		t.Error(problem)
	}
}

// TestImportCheckFails: the check names an upward import, a sideways one, and a package of no
// layer, with the file that holds the import.
func TestImportCheckFails(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("graph.go", "package graph\n\nimport _ \""+module+"query\"\n")
	write("join.go", "package join\n\nimport _ \""+module+"topology/source/haproxy\"\n")
	pkgs := []goPackage{
		{ImportPath: module + "topology/graph", Dir: dir, GoFiles: []string{"graph.go"}, Imports: []string{module + "query"}},
		{ImportPath: module + "topology/join", Dir: dir, GoFiles: []string{"join.go"}, Imports: []string{module + "topology/source/haproxy"}},
		{ImportPath: module + "newthing", Dir: dir},
	}
	got := strings.Join(checkImports(pkgs), "\n")
	for _, want := range []string{
		"graph.go: topology/graph imports query",
		"join.go: topology/join imports topology/source/haproxy",
		"newthing: no layer",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the check does not say %q; it says:\n%s", want, got)
		}
	}
}

// TestExporterBinaryStaysSmall: the node agent links neither Prometheus's server code nor
// Kubernetes' client, whatever the module's packages import (the CRI API's generated types are
// fine).
func TestExporterBinaryStaysSmall(t *testing.T) {
	deps := strings.Fields(goList(t, "-deps", "./cmd/strata-exporter"))
	if !slices.Contains(deps, module+"exporter") {
		t.Fatalf("go list -deps printed no dependency of the exporter: %v", deps)
	}
	for _, dep := range deps {
		for _, banned := range []string{"github.com/prometheus/prometheus", "k8s.io/client-go", "k8s.io/apimachinery",
			module + "topology", module + "query", module + "ui", module + "server"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("strata-exporter links %s", dep)
			}
		}
	}
}

func checkImports(pkgs []goPackage) []string {
	var problems []string
	for _, p := range pkgs {
		name, inModule := strings.CutPrefix(p.ImportPath, module)
		if !inModule {
			continue // the module's root: this test
		}
		own, ok := rule(allowed, name)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: no layer: add it to the allowed list of layers_test.go", name))
			continue
		}
		forTests := slices.Concat(own, testImports["*"], testImports[name], []string{name})
		for _, set := range []struct {
			imports, files []string
			allow          []string
		}{
			{p.Imports, p.GoFiles, own},
			{p.TestImports, p.TestGoFiles, forTests},
			{p.XTestImports, p.XTestGoFiles, forTests},
		} {
			for _, imp := range set.imports {
				dep, inModule := strings.CutPrefix(imp, module)
				if !inModule || permits(set.allow, dep) {
					continue
				}
				problems = append(problems, fmt.Sprintf("%s: %s imports %s, which its layer may not (layers_test.go)",
					fileImporting(p.Dir, set.files, imp), name, dep))
			}
		}
	}
	return problems
}

// rule is the list of a package, or of the wildcard entry (parent/*) of its parent.
func rule(lists map[string][]string, name string) ([]string, bool) {
	if l, ok := lists[name]; ok {
		return l, true
	}
	l, ok := lists[filepath.Dir(name)+"/*"]
	return l, ok
}

func permits(allow []string, dep string) bool {
	for _, a := range allow {
		if a == dep || strings.HasSuffix(a, "/*") && filepath.Dir(dep) == strings.TrimSuffix(a, "/*") {
			return true
		}
	}
	return false
}

// fileImporting is the file of dir that imports path, for the message.
func fileImporting(dir string, files []string, path string) string {
	for _, f := range files {
		file, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, f), nil, parser.ImportsOnly)
		if err != nil {
			continue
		}
		for _, imp := range file.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == path {
				return filepath.Join(dir, f)
			}
		}
	}
	return dir
}

func listPackages(t *testing.T) []goPackage {
	dec := json.NewDecoder(strings.NewReader(goList(t, "-json", "./...")))
	var pkgs []goPackage
	for {
		var p goPackage
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			return pkgs
		}
		if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
}

// goList runs go list in the module's root.
func goList(t *testing.T, args ...string) string {
	t.Helper()
	goCmd := testenv.Command(t, "go")
	gomod := testenv.Output(t, goCmd, "env", "GOMOD")
	if gomod == "" || gomod == "/dev/null" {
		t.Fatalf("go env GOMOD = %q: not inside the module", gomod)
	}
	list := exec.Command(goCmd, append([]string{"list"}, args...)...)
	list.Dir = filepath.Dir(gomod)
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}
