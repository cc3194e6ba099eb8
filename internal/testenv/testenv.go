// Package testenv lets tests ask for the real parts they run against (podman, runc,
// prometheus-node-exporter, root). Elsewhere a missing part skips the test, saying why;
// under CI=true it fails it, since .ci/run installs every part.
package testenv

import (
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
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

// FreePort picks a free TCP port on 127.0.0.1 below the kernel's ephemeral range: every
// process's outbound connections take their local ports from that range, so one of them could
// take a port picked there (bind to :0) before the program the test starts binds it.
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
	for range 100 {
		port := 20000 + rand.IntN(max(low-20000, 1))
		if port >= low {
			break // no room below the range: take any free port
		}
		if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			l.Close()
			return port
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeAddr is FreePort as "127.0.0.1:port".
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}
