package redact

import (
	"strings"
	"testing"
)

func TestQuoted(t *testing.T) {
	for in, want := range map[string]string{
		`not a valid duration string: "banana"`:                    `not a valid duration string: "…"`,
		"line 5: cannot unmarshal !!str `hunter2` into []string":   "line 5: cannot unmarshal !!str \"…\" into []string",
		`unknown directive "se\"cret" in /etc/nginx/nginx.conf:12`: `unknown directive "…" in /etc/nginx/nginx.conf:12`,
		`can't parse: don't know`:                                  `can't parse: don't know`,
		`two "a" and "b"`:                                          `two "…" and "…"`,
		"an unterminated \"quote\nand \"x\"":                       "an unterminated \"quote\nand \"…\"",
	} {
		if got := Quoted(in); got != want {
			t.Errorf("Quoted(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://user:s3cret@store:9090/api/v1/write": "http://user:xxxxx@store:9090/api/v1/write",
		"http://store:9090/api/v1/write":             "http://store:9090/api/v1/write",
		"http://user:s3cret@store:badport%zz":        "(a URL that does not parse)",
	} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestKeysButNoValues: a message shows a key that is a name, never a value nor a key that is
// not a name (a file that is not what it was meant to be holds secrets in either).
func TestKeysButNoValues(t *testing.T) {
	for k, want := range map[string]string{
		"kernel_release":                   `"kernel_release"`,
		"app.kubernetes.io/name":           `"app.kubernetes.io/name"`,
		"root:$y$j9T$F5Jx:19000":           "…",
		"AWS_SECRET=wJalrXUtnFEMI/K7MDENG": "…",
		strings.Repeat("a", 65):            "…",
		"":                                 "…",
	} {
		if got := QuoteKey(k); got != want {
			t.Errorf("QuoteKey(%q) = %s, want %s", k, got, want)
		}
	}
}

// TestYAML: a YAML decoder's error keeps neither a quoted value nor an unknown key it shows
// bare (a password file read as YAML: its whole line is the key).
func TestYAML(t *testing.T) {
	for _, msg := range []string{
		"yaml: unmarshal errors:\n  line 1: field root:$6$hunter2:19000 not found in type rulefmt.RuleGroups",
		"yaml: unmarshal errors:\n  line 2: cannot unmarshal !!str `hunter2` into []rulefmt.RuleGroup",
		`parse error: unexpected "hunter2"`,
	} {
		got := YAML(msg)
		if strings.Contains(got, "hunter2") || !strings.Contains(got, "…") {
			t.Errorf("YAML(%q) = %q", msg, got)
		}
	}
}
