package testenv

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Built is the directory of programs that a script of scripts/ builds from the Go module proxy
// into a cache keyed by version (kube-build, hydra-build): $env, else
// ~/.cache/strata/<name>. While the script builds there (its pid in .building: .ci/run builds
// while the other tests run), it waits; a program not there then is a missing real part.
func Built(t testing.TB, env, name, script string, programs ...string) string {
	t.Helper()
	dir := os.Getenv(env)
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			Missing(t, "no cache directory for what %s builds: %v", script, err)
		}
		dir = filepath.Join(cache, "strata", name)
	}
	waitForBuild(t, dir, script)
	for _, p := range programs {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			Missing(t, "%s is not built (run %s; .ci/run does): %v", p, script, err)
		}
	}
	return dir
}

// waitForBuild waits while script is building into dir.
func waitForBuild(t testing.TB, dir, script string) {
	t.Helper()
	const most = 25 * time.Minute
	logged := false
	for start := time.Now(); time.Since(start) < most; time.Sleep(2 * time.Second) {
		b, err := os.ReadFile(filepath.Join(dir, ".building"))
		if err != nil {
			return
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || syscall.Kill(pid, 0) != nil {
			return // a build that died
		}
		if !logged {
			t.Logf("waiting for %s (pid %d) to build into %s", script, pid, dir)
			logged = true
		}
	}
}
