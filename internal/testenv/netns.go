package testenv

import (
	"os/exec"
	"strings"
	"testing"
)

// Netns makes a network namespace for a test host, named after the test, with loopback up and
// addrs (CIDR) on it, and deletes it when the test ends. A program runs in it through
// InNetns; what listens there is reached only from there, but a unix socket on disk (HAProxy's
// runtime API) is reached from anywhere.
func Netns(t testing.TB, addrs ...string) string {
	t.Helper()
	Root(t)
	ip := Command(t, "ip")
	name := "strata-" + RandomHex(t, 4)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", name)
	t.Cleanup(func() { _ = exec.Command(ip, "netns", "del", name).Run() })
	run("-n", name, "link", "set", "lo", "up")
	for _, a := range addrs {
		run("-n", name, "addr", "add", a, "dev", "lo")
	}
	return name
}

// InNetns is the command line that runs name with args in the network namespace ns.
func InNetns(ns, name string, args ...string) (string, []string) {
	return "ip", append([]string{"netns", "exec", ns, name}, args...)
}
