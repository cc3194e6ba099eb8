package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/strata-obs/strata/internal/safefile"
	"github.com/strata-obs/strata/internal/strictyaml"
)

// The tokens file holds static API tokens for scrapers and scripts, each by name and by the
// SHA-256 of the token itself: the file gives away no token, and a role names the tokens it
// holds.
//
//	tokens:
//	  - name: payments-ci
//	    sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08

// MaxTokensFileSize bounds the tokens file: a line or two per token.
const MaxTokensFileSize = 1 << 20

// maxTokenLength bounds a bearer token as sent: an ID token of a provider is a few kilobytes.
const maxTokenLength = 16 << 10

// Token is one static API token: its name and the SHA-256 of its value.
type Token struct {
	Name   string
	sha256 [sha256.Size]byte
}

// LoadTokens reads the tokens file.
func LoadTokens(path string) ([]Token, error) {
	data, err := safefile.ReadFile(path, MaxTokensFileSize)
	if err != nil {
		return nil, fmt.Errorf("read tokens: %w", err)
	}
	return ParseTokens(path, data)
}

// ParseTokens reads a tokens file's content; every problem is reported with its line, never
// with a value of the file.
func ParseTokens(name string, data []byte) ([]Token, error) {
	root, err := strictyaml.Read(name, data)
	if err != nil {
		return nil, err
	}
	d := strictyaml.NewDecoder(name, root)
	var out []Token
	names := map[string]int{}
	d.Mapping(root, "", []strictyaml.Field{{Name: "tokens", Read: func(n *yaml.Node, path string) {
		d.Sequence(n, path, func(_ int, n *yaml.Node, path string) {
			var t Token
			var digest string
			var digestNode *yaml.Node
			if !d.Mapping(n, path, []strictyaml.Field{
				{Name: "name", Read: func(n *yaml.Node, path string) { t.Name, _ = d.String(n, path) }},
				{Name: "sha256", Read: func(n *yaml.Node, path string) { digest, _ = d.String(n, path); digestNode = n }},
			}) {
				return
			}
			if t.Name == "" {
				d.Errorf(n, strictyaml.Path(path, "name"), "required")
				return
			}
			b, err := hex.DecodeString(digest)
			if err != nil || len(b) != sha256.Size {
				d.Errorf(cmpNode(digestNode, n), strictyaml.Path(path, "sha256"), "want the 64 hex digits of the token's SHA-256 (sha256sum), not the token")
				return
			}
			copy(t.sha256[:], b)
			if d.Unique(names, strictyaml.Lookup(n, "name"), strictyaml.Path(path, "name"), t.Name) {
				out = append(out, t)
			}
		})
	}}})
	if err := d.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func cmpNode(a, b *yaml.Node) *yaml.Node {
	if a != nil {
		return a
	}
	return b
}

// tokenNamed finds the token whose SHA-256 is the presented token's. Every entry is compared,
// in constant time, whichever matches.
func tokenNamed(tokens []Token, presented string) (string, bool) {
	sum := sha256.Sum256([]byte(presented))
	found := ""
	for _, t := range tokens {
		if subtle.ConstantTimeCompare(sum[:], t.sha256[:]) == 1 {
			found = t.Name
		}
	}
	return found, found != ""
}

// errNoToken and errBadToken say why a request has no identity; the log gets the reason, the
// client a plain 401.
var (
	errNoToken  = errors.New("no credentials")
	errBadToken = errors.New("a token no role holds, or none known")
)

// bearer is the request's bearer token, or "".
func bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", errNoToken
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", errors.New("the Authorization header is not a bearer token")
	}
	if len(token) > maxTokenLength {
		return "", errors.New("the bearer token is too long")
	}
	return strings.TrimSpace(token), nil
}
