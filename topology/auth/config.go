// Package auth is who may read what of strata: the `auth:` block of the configuration file
// (roles, static API tokens, an OpenID Connect provider), the identity a request carries, and a
// role's scope: the part of the graph it may see. One implementation of the visible set
// (Scope.Visible) serves every place data leaves strata.
//
// A scope is a list of PromQL matcher sets over the labels and attributes strata carries
// (`team="payments"`, `namespace=~"shop|cart", env="prod"`): the entities any set selects,
// everything below them toward the hardware, and the LBs and services above the instances seen.
// Not another team's container on a shared host; not an LB none of whose instances are seen.
package auth

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/strata-obs/strata/internal/strictyaml"
)

// Config is the `auth:` block.
type Config struct {
	OIDC       *OIDC  // nil: bearer tokens only
	TokensFile string // static API tokens (tokens.go); "" for none
	Roles      []Role
}

// OIDC is the OpenID Connect provider people log in with.
type OIDC struct {
	IssuerURL        string
	ClientID         string
	ClientSecretFile string
	RedirectURL      string
	Scopes           []string
	UsernameClaim    string
	GroupsClaim      string
}

// Defaults of the oidc block.
var (
	DefaultScopes        = []string{"openid", "profile", "email", "groups"}
	DefaultUsernameClaim = "email"
	DefaultGroupsClaim   = "groups"
)

// Role maps groups of the provider and named tokens to what they may see: everything (Admin),
// or a scope.
type Role struct {
	Name   string
	Groups []string
	Tokens []string
	Admin  bool
	Scope  *Scope
}

// Decode reads the `auth:` block at n into a Config, recording every problem in d with its
// line; dir is the configuration file's directory, against which relative paths are read.
func Decode(d *strictyaml.Decoder, n *yaml.Node, path, dir string) *Config {
	c := &Config{}
	type place struct {
		node       *yaml.Node
		path, name string
	}
	var withGroups *place // the first role with groups, which need a provider
	d.Mapping(n, path, []strictyaml.Field{
		{Name: "oidc", Read: func(n *yaml.Node, path string) { c.OIDC = decodeOIDC(d, n, path, dir) }},
		{Name: "tokens_file", Read: func(n *yaml.Node, path string) {
			if s, ok := d.String(n, path); ok && s != "" {
				c.TokensFile = resolve(dir, s)
			}
		}},
		{Name: "roles", Read: func(n *yaml.Node, path string) {
			names := map[string]int{}
			d.Sequence(n, path, func(_ int, n *yaml.Node, path string) {
				if r, ok := decodeRole(d, n, path); ok && d.Unique(names, strictyaml.Lookup(n, "name"), strictyaml.Path(path, "name"), r.Name) {
					c.Roles = append(c.Roles, r)
					if len(r.Groups) > 0 && withGroups == nil {
						withGroups = &place{strictyaml.Lookup(n, "groups"), strictyaml.Path(path, "groups"), r.Name}
					}
				}
			})
		}},
	})
	if c.OIDC == nil && withGroups != nil {
		d.Errorf(withGroups.node, withGroups.path, "role %q holds groups, and groups come from an OpenID Connect provider: configure auth.oidc, or give the role tokens", withGroups.name)
	}
	if len(c.Roles) == 0 && n != nil && n.ShortTag() != "!!null" {
		d.Errorf(n, path, "no roles: nobody could read anything (give at least one role, admin: true or a scope)")
	}
	return c
}

func decodeOIDC(d *strictyaml.Decoder, n *yaml.Node, path, dir string) *OIDC {
	o := &OIDC{Scopes: DefaultScopes, UsernameClaim: DefaultUsernameClaim, GroupsClaim: DefaultGroupsClaim}
	urlField := func(dst *string) func(*yaml.Node, string) {
		return func(n *yaml.Node, path string) {
			s, ok := d.String(n, path)
			if !ok {
				return
			}
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				d.Errorf(n, path, "want an http(s) URL")
				return
			}
			*dst = s
		}
	}
	d.Mapping(n, path, []strictyaml.Field{
		{Name: "issuer_url", Read: urlField(&o.IssuerURL)},
		{Name: "client_id", Read: func(n *yaml.Node, path string) { o.ClientID, _ = d.String(n, path) }},
		{Name: "client_secret_file", Read: func(n *yaml.Node, path string) {
			if s, ok := d.String(n, path); ok && s != "" {
				o.ClientSecretFile = resolve(dir, s)
			}
		}},
		{Name: "redirect_url", Read: urlField(&o.RedirectURL)},
		{Name: "scopes", Read: func(n *yaml.Node, path string) { o.Scopes = strings_(d, n, path) }},
		{Name: "username_claim", Read: func(n *yaml.Node, path string) { o.UsernameClaim, _ = d.String(n, path) }},
		{Name: "groups_claim", Read: func(n *yaml.Node, path string) { o.GroupsClaim, _ = d.String(n, path) }},
	})
	for _, required := range []struct{ name, value string }{{"issuer_url", o.IssuerURL}, {"client_id", o.ClientID}, {"redirect_url", o.RedirectURL}} {
		if required.value == "" {
			d.Errorf(n, strictyaml.Path(path, required.name), "required")
		}
	}
	return o
}

func decodeRole(d *strictyaml.Decoder, n *yaml.Node, path string) (Role, bool) {
	var r Role
	var scopeNode *yaml.Node
	var scope []string
	ok := d.Mapping(n, path, []strictyaml.Field{
		{Name: "name", Read: func(n *yaml.Node, path string) { r.Name, _ = d.String(n, path) }},
		{Name: "groups", Read: func(n *yaml.Node, path string) { r.Groups = strings_(d, n, path) }},
		{Name: "tokens", Read: func(n *yaml.Node, path string) { r.Tokens = strings_(d, n, path) }},
		{Name: "admin", Read: func(n *yaml.Node, path string) { r.Admin, _ = d.Bool(n, path) }},
		{Name: "scope", Read: func(n *yaml.Node, path string) {
			scopeNode = n
			d.Sequence(n, path, func(_ int, n *yaml.Node, path string) {
				s, ok := d.String(n, path)
				if !ok {
					return
				}
				if _, err := parseMatchers(s); err != nil {
					d.Errorf(n, path, "%v", err)
					return
				}
				scope = append(scope, s)
			})
		}},
	})
	if !ok {
		return r, false
	}
	switch {
	case r.Name == "":
		d.Errorf(n, strictyaml.Path(path, "name"), "required")
		return r, false
	case r.Admin && scopeNode != nil:
		d.Errorf(scopeNode, strictyaml.Path(path, "scope"), "an admin sees everything: a scope would narrow nothing (drop one of the two)")
		return r, false
	case !r.Admin && len(scope) == 0:
		d.Errorf(n, path, "role %q sees nothing: give it admin: true or a scope", r.Name)
		return r, false
	}
	if !r.Admin {
		s, err := ParseScope(scope)
		if err != nil { // checked entry by entry above
			d.Errorf(scopeNode, strictyaml.Path(path, "scope"), "%v", err)
			return r, false
		}
		r.Scope = s
	}
	return r, true
}

// strings_ reads a sequence of strings.
func strings_(d *strictyaml.Decoder, n *yaml.Node, path string) []string {
	out := []string{}
	d.Sequence(n, path, func(_ int, n *yaml.Node, path string) {
		if s, ok := d.String(n, path); ok {
			out = append(out, s)
		}
	})
	return out
}

func resolve(dir, p string) string {
	if filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}

var matcherParser = parser.NewParser(parser.Options{})

// parseMatchers reads one scope entry: matchers as inside a PromQL selector's braces.
func parseMatchers(s string) ([]*labels.Matcher, error) {
	if strings.ContainsAny(s, "{}") {
		return nil, errors.New(`a scope entry is matchers without braces, as team="web", env=~"prod|stage"`)
	}
	ms, err := matcherParser.ParseMetricSelector("{" + s + "}")
	if err != nil {
		// The parser's message quotes the entry: an error names where, never what the file holds.
		return nil, errors.New(`not PromQL matchers (want name="value", name!="value", name=~"regex" or name!~"regex", comma-separated)`)
	}
	for _, m := range ms {
		if m.Name == model.MetricNameLabel {
			return nil, fmt.Errorf("a scope selects entities by their labels and attributes, not series by name")
		}
	}
	return ms, nil
}
