package testenv

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// WaitHTTPTimeout is how long WaitHTTP waits for a server the test started: long enough for a
// Prometheus loading its blocks on a busy machine, and only spent when something is wrong.
const WaitHTTPTimeout = 90 * time.Second

// httpCheckClient is CheckHTTP's: one answer must come within 10 s.
var httpCheckClient = &http.Client{Timeout: 10 * time.Second}

// httpPollClient is the waits': a try that hangs gives way to the next after 2 s.
var httpPollClient = &http.Client{Timeout: 2 * time.Second}

// CheckHTTP GETs rawURL once and wants the status want, or any answer when want is 0; it returns
// the answer's body. The error holds the status and the start of the body. A user in rawURL
// (http://user:password@host/) is sent as basic auth.
func CheckHTTP(rawURL string, want int) ([]byte, error) {
	return checkHTTP(httpCheckClient, rawURL, want)
}

// redacted is rawURL with its password, if any, as "xxxxx", for the test's log.
func redacted(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	return u.Redacted()
}

func checkHTTP(client *http.Client, rawURL string, want int) ([]byte, error) {
	resp, err := client.Get(rawURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if want != 0 && resp.StatusCode != want {
		return nil, fmt.Errorf("GET %s: %s, want %d: %.200s", redacted(rawURL), resp.Status, want, body)
	}
	if err != nil {
		return nil, fmt.Errorf("GET %s: %s: %w", redacted(rawURL), resp.Status, err)
	}
	return body, nil
}

// TryWaitHTTP polls rawURL until it answers with the status want (any status when want is 0),
// for up to timeout, and returns the body of that answer. running, when not nil, is asked
// before each try and ends the wait at once with its error: the server has exited
// (Process.Running).
func TryWaitHTTP(rawURL string, want int, timeout time.Duration, running func() error) ([]byte, error) {
	deadline := time.Now().Add(timeout)
	for {
		if running != nil {
			if err := running(); err != nil {
				return nil, err
			}
		}
		body, err := checkHTTP(httpPollClient, rawURL, want)
		if err == nil {
			return body, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("not within %s: %w", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitHTTP waits until a server the test started answers at rawURL with the status want (any
// status when want is 0), and returns the body of that answer. p, when not nil, is the
// server's process: if it exits first, the test fails at once with what it wrote. The wait
// fails the test after WaitHTTPTimeout.
func WaitHTTP(t testing.TB, rawURL string, want int, p *Process) []byte {
	t.Helper()
	var running func() error
	if p != nil {
		running = p.Running
	}
	start := time.Now()
	body, err := TryWaitHTTP(rawURL, want, WaitHTTPTimeout, running)
	if err != nil {
		t.Fatalf("wait for %s: %v", redacted(rawURL), err)
	}
	t.Logf("serving at %s: after %s", redacted(rawURL), time.Since(start).Round(100*time.Millisecond))
	return body
}
