// Package testenv lets tests ask for the real parts they run against (podman, runc,
// prometheus-node-exporter, root). Elsewhere a missing part skips the test, saying why;
// under CI=true it fails it, since .ci/run installs every part.
package testenv

import (
	"bytes"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
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

// FreePort picks a free TCP port on 127.0.0.1 below the kernel's ephemeral range: every
// process's outbound connections take their local ports from that range, so one of them could
// take a port picked there (bind to :0) before the program the test starts binds it. Test
// binaries of several packages run at once and pick from the same range, so a port is also
// claimed by a file in the system's temporary directory until the test ends: two tests never
// hand out the same port.
func FreePort(t testing.TB) int {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	dir := filepath.Join(os.TempDir(), "strata-test-ports")
	_ = os.MkdirAll(dir, 0o755)
	for range 200 {
		port := 20000 + rand.IntN(max(low-20000, 1))
		if port >= low {
			break // no room below the range
		}
		if !claim(t, dir, port) {
			continue
		}
		if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			l.Close()
			return port
		}
	}
	t.Fatalf("no free port of 127.0.0.1 between 20000 and %d", low)
	return 0
}

// claim reserves port for this test across processes; a claim left by a test binary that died
// is taken over after ten minutes.
func claim(t testing.TB, dir string, port int) bool {
	path := filepath.Join(dir, strconv.Itoa(port))
	if st, err := os.Stat(path); err == nil && time.Since(st.ModTime()) > 10*time.Minute {
		_ = os.Remove(path)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return false
	}
	f.Close()
	t.Cleanup(func() { _ = os.Remove(path) })
	return true
}

// FreeAddr is FreePort as "127.0.0.1:port".
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}

// LockedBuffer collects a child process's output while the test reads it.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// PodmanArgs are podman's global flags on these machines (no systemd, hybrid cgroups:
// docs/design.md, "Real parts in tests") followed by args.
func PodmanArgs(args ...string) []string {
	return append([]string{"--cgroup-manager=cgroupfs", "--events-backend=file", "--runtime", "runc"}, args...)
}
