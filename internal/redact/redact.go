// Package redact keeps secrets and file contents out of strata's messages, which reach logs
// and API answers: the password of a URL, and the quoted values that other programs' errors
// (Prometheus's configuration parser, nginx -T) copy from the files they read.
package redact

import (
	"net/url"
	"regexp"
	"strconv"
)

// quoted is a "…" or `…` quotation, as those errors write the values they show.
var quoted = regexp.MustCompile("\"(?:[^\"\\\\\n]|\\\\.)*\"|`[^`\n]*`")

// Quoted replaces every quoted value in msg by "…".
func Quoted(msg string) string { return quoted.ReplaceAllLiteralString(msg, `"…"`) }

// unknownField is what go-yaml says of a key its type lacks, the key unquoted.
var unknownField = regexp.MustCompile(`field .* not found in type`)

// YAML is Quoted for a YAML decoder's error, whose unknown keys it shows unquoted too.
func YAML(msg string) string {
	return unknownField.ReplaceAllLiteralString(Quoted(msg), "field … not found in type")
}

// URL is raw with its password replaced by xxxxx, as url.URL.Redacted writes it, or a
// placeholder when raw does not parse (its parse error would quote it whole).
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a URL that does not parse)"
	}
	return u.Redacted()
}

// Key names a key of a file in a message or a field path. Messages never show a value from a
// file: the file may not be what it was meant to be (a password file, a .env with a cloud key
// behind a symlink), and the messages reach logs and an unauthenticated API. A key that is a
// name, as keys people write are (a field, a label, a fact), is shown, quoted where it stands
// alone; any other key is shown as "…". The line and the path point at the value.
func Key(k string) string {
	if isName(k) {
		return k
	}
	return "…"
}

// QuoteKey is Key, quoted when it is shown.
func QuoteKey(k string) string {
	if isName(k) {
		return strconv.Quote(k)
	}
	return "…"
}

// isName: letters, digits and _ . - /, up to 64, as a field, label or fact name is written.
func isName(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for _, r := range k {
		if !(r == '_' || r == '.' || r == '-' || r == '/' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
