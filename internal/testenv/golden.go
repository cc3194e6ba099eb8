package testenv

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// update is -update, for every test binary that compares golden files: `go test ./pkg -update`
// rewrites them (make golden, make docs), and the diff is reviewed like code.
var update = flag.Bool("update", false, "rewrite golden files and generated docs instead of comparing with them")

// Golden compares got with the file at path, or writes it there under -update.
func Golden(t testing.TB, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(got, "\n")); diff != "" {
		t.Errorf("%s differs (-file +got; go test -update rewrites it):\n%s", path, diff)
	}
}

// GeneratedRegion compares got with what the document at path holds between the lines
// "<!-- generated: name -->" and "<!-- end generated: name -->", or writes it there under
// -update: a document whose tables the code declares (make docs).
func GeneratedRegion(t testing.TB, path, name, got string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	begin, end := "<!-- generated: "+name+" -->\n", "<!-- end generated: "+name+" -->"
	doc := string(b)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no region %q … %q", path, strings.TrimSpace(begin), end)
	}
	have := doc[i+len(begin) : j]
	if *update && have != got {
		if err := os.WriteFile(path, []byte(doc[:i+len(begin)]+got+doc[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if diff := cmp.Diff(strings.Split(have, "\n"), strings.Split(got, "\n")); diff != "" {
		t.Errorf("%s is out of date with the code (-doc +code; make docs rewrites it):\n%s", path, diff)
	}
}
