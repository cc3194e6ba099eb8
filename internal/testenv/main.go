package testenv

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// asMainEnv tells a test binary to run as the program it tests.
const asMainEnv = "STRATA_TEST_AS_MAIN"

// RunMainOrTests is a cmd package's TestMain: the test binary doubles as the program when
// MainCommand starts it, so that exit codes, --help (which kingpin ends with os.Exit) and
// signals are tested on the real main; otherwise it runs the tests.
func RunMainOrTests(m *testing.M, main func()) {
	if os.Getenv(asMainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// MainCommand is the program under test run with args, as a child process (the test binary,
// see RunMainOrTests). NODE_NAME is dropped: it would rename this host.
func MainCommand(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NODE_NAME=") && !strings.HasPrefix(kv, asMainEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, asMainEnv+"=1")
	return cmd
}

// ExitCode is the exit code of a command that ran: 0 without an error, -1 when it did not exit
// (it could not start, or a signal ended it).
func ExitCode(err error) int {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
