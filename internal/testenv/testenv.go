// Package testenv lets tests ask for the real parts they run against (podman, runc,
// prometheus-node-exporter, root). Elsewhere a missing part skips the test, saying why;
// under CI=true it fails it, since .ci/run installs every part.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run in CI (CI=true, or any value but "", "0" and "false"),
// where every real part must be present.
func InCI() bool {
	switch os.Getenv("CI") {
	case "", "0", "false", "FALSE", "False":
		return false
	}
	return true
}

// Missing skips the test, or fails it in CI, because a real part is missing.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("real part missing in CI: "+format, args...)
	}
	t.Skipf("real part missing: "+format, args...)
}

// Command returns the path of a program the test needs.
func Command(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s is not installed (.ci/run installs it): %v", name, err)
	}
	return p
}

// Root requires running as root (containers, other processes' sockets).
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "the test needs root")
	}
}
