package testenv

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// Logger logs at level and above into the test's log, and drops what comes after the test
// ended (a server goroutine may still log while it shuts down, and t.Log then would panic).
func Logger(t testing.TB, level slog.Level) *slog.Logger {
	w := &testLogWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type testLogWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
