package testenv

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Eventually retries check until it succeeds or timeout passes, then fails the test with the
// last error; what names the wait in the log.
func Eventually(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	start := time.Now()
	for {
		err := check()
		if err == nil {
			t.Logf("%s: after %s", what, time.Since(start).Round(100*time.Millisecond))
			return
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// RandomHex is n random bytes in hex: unique names for what a test creates.
func RandomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TryOutput runs a program and returns its trimmed standard output; the error holds its
// standard error.
func TryOutput(name string, args ...string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// Output is TryOutput, failing the test on an error.
func Output(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := TryOutput(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ThisHost is what the system itself says of this machine: the truth tests check strata on.
type ThisHost struct {
	Hostname      string
	KernelRelease string // uname -r
	PrettyName    string // os-release PRETTY_NAME
	OSID          string // os-release ID
	VersionID     string // os-release VERSION_ID
}

// ReadThisHost asks hostname, uname -r and os-release.
func ReadThisHost(t testing.TB) ThisHost {
	t.Helper()
	h := ThisHost{Hostname: Output(t, "hostname"), KernelRelease: Output(t, "uname", "-r")}
	f, err := os.Open("/etc/os-release")
	if err != nil {
		f, err = os.Open("/usr/lib/os-release")
	}
	if err != nil {
		t.Fatalf("read os-release: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		} else {
			v = strings.Trim(v, `'`)
		}
		switch k {
		case "PRETTY_NAME":
			h.PrettyName = v
		case "ID":
			h.OSID = v
		case "VERSION_ID":
			h.VersionID = v
		}
	}
	if h.Hostname == "" || h.KernelRelease == "" || h.PrettyName == "" || h.OSID == "" {
		t.Fatalf("this host: %+v: something is missing", h)
	}
	return h
}
