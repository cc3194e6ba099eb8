package auth

import (
	"net"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseTokens: a tokens file of any content parses or says where it is wrong, and its
// message never holds a line of the file (a digest, or a token pasted by mistake).
func FuzzParseTokens(f *testing.F) {
	f.Add("tokens:\n  - {name: ci, sha256: " + strings.Repeat("ab", 32) + "}\n")
	f.Add("tokens:\n  - name: ci\n    sha256: my-secret-token\n")
	f.Add("tokens: [{name: a}, {name: a, sha256: x}]\n")
	f.Fuzz(func(t *testing.T, data string) {
		_, err := ParseTokens("tokens.yml", []byte(data))
		if err == nil {
			return
		}
		for _, line := range strings.Split(data, "\n") {
			if v := strings.TrimSpace(line); len(v) >= 16 && strings.Contains(err.Error(), v) {
				t.Fatalf("the error %q holds the file's line %q", err, v)
			}
		}
	})
}

// FuzzSafeNext: where a login sends the browser back is a path of this server, whatever next is.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/search?q=x", "//evil.example", "/\\evil.example", "https://evil.example/", "/%2F%2Fevil", "\t/x", "/x\r\nLocation: y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := SafeNext(next)
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") ||
			strings.HasPrefix(got, "/\\") || strings.ContainsAny(got, "\r\n\t") {
			t.Fatalf("SafeNext(%q) = %q, which may leave this server", next, got)
		}
	})
}

// FuzzCheckCLIRedirect: what strata login may be sent back to is http on a loopback address.
func FuzzCheckCLIRedirect(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:4000/callback", "http://[::1]:1/cb", "http://localhost:9/x", "https://evil.example/",
		"http://127.0.0.1.evil.example:80/", "http://user@127.0.0.1:80/", "http://127.0.0.1/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckCLIRedirect(s) != nil {
			return
		}
		u, err := url.Parse(s)
		if err != nil || u.Scheme != "http" || u.User != nil {
			t.Fatalf("accepted %q", s)
		}
		if ip := net.ParseIP(u.Hostname()); (ip == nil || !ip.IsLoopback()) && u.Hostname() != "localhost" {
			t.Fatalf("accepted %q, whose host %q is not this machine", s, u.Hostname())
		}
	})
}

// FuzzParseScope: a scope entry of any content parses or is refused; never a panic.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{`team="payments"`, `namespace=~"shop|cart", env="prod"`, `{x="1"}`, `__name__="up"`, `a=~"("`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseScope([]string{s})
	})
}
