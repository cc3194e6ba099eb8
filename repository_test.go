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
