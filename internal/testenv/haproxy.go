package testenv

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// HAProxy is a real HAProxy the test started, in the foreground (-db), with its runtime API
// on a unix socket.
type HAProxy struct {
	Dir     string // a directory of the test's: haproxy.cfg, and admin.sock unless HAProxySocket
	Socket  string // the runtime API's unix socket
	Process *Process
	netns   string // the network namespace it runs in (HAProxyInNetns); "" for the test's own
}

// HAProxyDefaults is the defaults section of the tests' HAProxies: HTTP, and timeouts short
// enough that no test waits long on a server that does not answer.
const HAProxyDefaults = `defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 5s
`

// HAProxyOption changes how StartHAProxy runs HAProxy.
type HAProxyOption func(*HAProxy)

// HAProxySocket puts the runtime API's socket at path instead of Dir/admin.sock: where the
// program under test looks for it (strata up, /run/haproxy/admin.sock). Nothing may be at path
// yet; the socket is removed when the test ends, and HAProxy is killed with the test binary
// even when that is killed itself, so that it never keeps the path from the next run.
func HAProxySocket(path string) HAProxyOption { return func(h *HAProxy) { h.Socket = path } }

// HAProxyInNetns runs HAProxy in the network namespace ns (Netns): a load balancer of another
// test host, whose runtime API socket is still on disk.
func HAProxyInNetns(ns string) HAProxyOption { return func(h *HAProxy) { h.netns = ns } }

// haproxyAttempts is how often StartHAProxy starts HAProxy when it cannot bind an address.
const haproxyAttempts = 3

// StartHAProxy runs HAProxy on the configuration config returns until the test ends, and
// returns once its runtime API answers `show info`. HAProxy's output is logged when the test
// has failed.
//
// The runtime API is StartHAProxy's to add: it writes `stats socket SOCKET mode 600 level
// admin` as the first line of config's global section (into a global section of its own when
// config has none), so a config names no unix socket of its own. Other stats sockets (a TCP
// one) it may name.
//
// config is called once for each start: when HAProxy cannot bind an address (a free port
// another process took between FreePort and HAProxy's bind), StartHAProxy calls it again and
// starts anew, up to three times. A config that binds ports should pick them with FreePort
// inside config, and hand them to the test from there.
func StartHAProxy(t testing.TB, config func() string, opts ...HAProxyOption) *HAProxy {
	t.Helper()
	bin := Command(t, "haproxy")
	h := &HAProxy{Dir: t.TempDir()}
	for _, o := range opts {
		o(h)
	}
	start := StartProcess
	if h.Socket == "" {
		h.Socket = filepath.Join(h.Dir, "admin.sock")
	} else {
		if _, err := os.Lstat(h.Socket); err == nil {
			t.Fatalf("HAProxy's socket %s exists already: another HAProxy's", h.Socket)
		}
		start = startDying
	}
	t.Cleanup(func() {
		if h.Process == nil {
			return
		}
		h.Process.Stop()
		removeSocket(h.Socket) // HAProxy leaves it when killed
		if t.Failed() {
			t.Logf("haproxy's output:\n%s", h.Process.Log())
		}
	})
	file := filepath.Join(h.Dir, "haproxy.cfg")
	for attempt := 1; ; attempt++ {
		if err := os.WriteFile(file, []byte(withRuntimeAPI(config(), h.Socket)), 0o600); err != nil {
			t.Fatal(err)
		}
		removeSocket(h.Socket) // one a failed start left
		if h.netns != "" {
			name, args := InNetns(h.netns, bin, "-f", file, "-db")
			h.Process = start(t, Command(t, name), args...)
		} else {
			h.Process = start(t, bin, "-f", file, "-db")
		}
		err := h.waitRuntimeAPI(10 * time.Second)
		if err == nil {
			break
		}
		h.Process.Stop()
		removeSocket(h.Socket)
		if !strings.Contains(err.Error(), "cannot bind socket") || attempt == haproxyAttempts {
			t.Fatalf("start haproxy: %v", err)
		}
		t.Logf("start haproxy, attempt %d: %v", attempt, err)
	}
	return h
}

// withRuntimeAPI adds the runtime API's socket to config's global section.
func withRuntimeAPI(config, socket string) string {
	line := "  stats socket " + socket + " mode 600 level admin\n"
	if !strings.HasSuffix(config, "\n") {
		config += "\n"
	}
	lines := strings.SplitAfter(config, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) == "global" {
			return strings.Join(lines[:i+1], "") + line + strings.Join(lines[i+1:], "")
		}
	}
	return "global\n" + line + "\n" + config
}

// removeSocket removes a unix socket at path, and nothing else.
func removeSocket(path string) {
	if st, err := os.Lstat(path); err == nil && st.Mode()&os.ModeSocket != 0 {
		_ = os.Remove(path)
	}
}

// waitRuntimeAPI waits until the runtime API answers `show info`; HAProxy's exit ends the
// wait with what it wrote.
func (h *HAProxy) waitRuntimeAPI(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if err := h.Process.Running(); err != nil {
			return err
		}
		_, err := h.TryCommand("show info")
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("haproxy's runtime API did not answer within %s: %w", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TryCommand sends one command to the runtime API, as an operator would with socat, and
// returns the answer, trimmed.
func (h *HAProxy) TryCommand(cmd string) (string, error) {
	c, err := net.DialTimeout("unix", h.Socket, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return strings.TrimSpace(string(b)), err
}

// Command is TryCommand, failing the test on an error.
func (h *HAProxy) Command(t testing.TB, cmd string) string {
	t.Helper()
	out, err := h.TryCommand(cmd)
	if err != nil {
		t.Fatalf("haproxy runtime API %q: %v", cmd, err)
	}
	return out
}
