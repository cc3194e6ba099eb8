package strata_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-obs/strata/internal/testenv"
)

// TestNoReferenceOutsideTheRepository: the design lives in docs/design.md; no file cites a
// design or style document that a clone does not have.
func TestNoReferenceOutsideTheRepository(t *testing.T) {
	out, err := exec.Command(testenv.Command(t, "git"), "ls-files", "-co", "--exclude-standard").Output()
	if err != nil {
		testenv.Missing(t, "git ls-files (a git checkout of the repository): %v", err)
	}
	files := strings.Fields(string(out))
	if len(files) < 50 {
		t.Fatalf("git ls-files listed %d files: not the repository", len(files))
	}
	for _, f := range files {
		if f == "repository_test.go" || filepath.Ext(f) == ".golden" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue // deleted in the working tree
		}
		for _, outside := range [][]byte{[]byte("DESIGN.md"), []byte("STYLE.md"), []byte("../shared/DESIGN"), []byte("../shared/STYLE")} {
			if i := bytes.Index(b, outside); i >= 0 {
				t.Errorf("%s:%d cites %s, which is not in the repository (docs/design.md is)", f, bytes.Count(b[:i], []byte("\n"))+1, outside)
			}
		}
	}
}

// TestToolsShareStrataPackages: every package that strata (its tests included) and another
// build of CI (the tools of tools/go.mod: Helm, kustomize, nfpm; the Kubernetes binaries of
// scripts/kube) both compile comes from the same module version in both, so that Go's build
// cache compiles it once: client-go and k8s.io/api, hundreds of packages, are minutes of a
// cold CI run (scripts/kube-build compiles the modules it shares as make test does). A version
// bumped in one go.mod alone fails here; `go get` the same version in the other.
func TestToolsShareStrataPackages(t *testing.T) {
	versions := func(dir string, args ...string) map[string]string {
		cmd := exec.Command(testenv.Command(t, "go"), append([]string{"list", "-deps", "-f",
			"{{with .Module}}{{$.ImportPath}} {{.Path}}@{{with .Replace}}{{.Version}}{{else}}{{.Version}}{{end}}{{end}}"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-trimpath") // make test's
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
		}
		m := map[string]string{}
		for line := range strings.Lines(string(out)) {
			if pkg, mod, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
				m[pkg] = mod
			}
		}
		return m
	}
	strata := versions(".", "-test", "./...")
	for _, b := range []struct {
		name, dir string
		args      []string
		atLeast   int
	}{
		{"tools/go.mod", ".", []string{"-modfile=tools/go.mod", "helm.sh/helm/v4/cmd/helm", "sigs.k8s.io/kustomize/kustomize/v5", "github.com/goreleaser/nfpm/v2/cmd/nfpm"}, 300},
		{"scripts/kube/go.mod", "scripts/kube", []string{"k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kube-controller-manager"}, 300},
	} {
		other := versions(b.dir, b.args...)
		shared, differ := 0, map[string]bool{}
		for pkg, mod := range strata {
			theirs, ok := other[pkg]
			if !ok {
				continue
			}
			shared++
			if theirs != mod {
				differ[mod+" (go.mod) and "+theirs+" ("+b.name+")"] = true
			}
		}
		if shared < b.atLeast {
			t.Errorf("strata and %s share %d packages: the lists are not what they were", b.name, shared)
		}
		for d := range differ {
			t.Errorf("%s: the packages of that module compile twice", d)
		}
	}
}
