// Package redact keeps secrets and file contents out of strata's messages, which reach logs
// and API answers: the password of a URL, and the quoted values that other programs' errors
// (Prometheus's configuration parser, nginx -T) copy from the files they read.
package redact

import (
	"net/url"
	"regexp"
)

// quoted is a "…" or `…` quotation, as those errors write the values they show.
var quoted = regexp.MustCompile("\"(?:[^\"\\\\\n]|\\\\.)*\"|`[^`\n]*`")

// Quoted replaces every quoted value in msg by "…".
func Quoted(msg string) string { return quoted.ReplaceAllLiteralString(msg, `"…"`) }

// URL is raw with its password replaced by xxxxx, as url.URL.Redacted writes it, or a
// placeholder when raw does not parse (its parse error would quote it whole).
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a URL that does not parse)"
	}
	return u.Redacted()
}
