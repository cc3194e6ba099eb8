package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/strata-obs/strata/topology/graph"
)

// Identity is who a request comes from and what they may see.
type Identity struct {
	User  string // a person's name (username_claim), or a token's name
	Role  string
	Admin bool
	Scope *Scope // nil for an admin
}

// Authenticator turns a request's credentials into an Identity.
type Authenticator struct {
	roles    []Role
	tokens   []Token
	views    graph.Latest[string, *graph.Graph]   // each role's view of the latest graph, by role
	indexes  graph.Latest[struct{}, *seriesIndex] // of the views, for series (series.go)
	sessions sessions                             // a browser's, after a login with a token (session.go)
	oidc     *Provider                            // nil without an OpenID Connect provider
}

// NewAuthenticator checks the configuration against the tokens file: a role naming a token
// the file does not hold is a mistake, said at start. provider is the OpenID Connect provider
// people log in with, or nil.
func NewAuthenticator(c *Config, tokens []Token, provider *Provider) (*Authenticator, error) {
	var errs []error
	for _, r := range c.Roles {
		for _, name := range r.Tokens {
			if !slices.ContainsFunc(tokens, func(t Token) bool { return t.Name == name }) {
				errs = append(errs, fmt.Errorf("auth: role %q holds token %q, which the tokens file does not have", r.Name, name))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Authenticator{roles: c.Roles, tokens: tokens, sessions: newSessions(), oidc: provider}, nil
}

// SetLogger is where the OpenID Connect provider says what the log should know (a refresh that
// failed, the provider discovered); the server sets its own before it serves.
func (a *Authenticator) SetLogger(l *slog.Logger) {
	if a.oidc != nil {
		a.oidc.logger = l
	}
}

// OIDC is the OpenID Connect provider, or nil.
func (a *Authenticator) OIDC() *Provider { return a.oidc }

// Authenticate reads a request's bearer token, else its session cookie. A bearer token is a
// static token of the tokens file, a session handle of `strata login`, or a JWT of the OpenID
// Connect provider. The error says why there is no identity, for the log: a client is told only
// that it is not authorized.
func (a *Authenticator) Authenticate(r *http.Request) (Identity, error) {
	token, err := bearer(r)
	if errors.Is(err, errNoToken) {
		if c, err := r.Cookie(SessionCookie); err == nil && strings.HasPrefix(c.Value, SessionTokenPrefix) {
			return a.sessionIdentity(r.Context(), c.Value)
		}
		name, err := a.sessions.read(r)
		if err != nil {
			return Identity{}, err
		}
		return a.identityOf(name)
	}
	if err != nil {
		return Identity{}, err
	}
	if name, ok := tokenNamed(a.tokens, token); ok {
		return a.identityOf(name)
	}
	switch {
	case a.oidc != nil && strings.HasPrefix(token, SessionTokenPrefix):
		return a.sessionIdentity(r.Context(), token)
	case a.oidc != nil && strings.Count(token, ".") == 2:
		user, groups, err := a.oidc.verifyBearer(r.Context(), token)
		if err != nil {
			return Identity{}, err
		}
		return a.personIdentity(user, groups)
	}
	return Identity{}, errBadToken
}

// sessionIdentity is the identity of an OpenID Connect session.
func (a *Authenticator) sessionIdentity(ctx context.Context, handle string) (Identity, error) {
	if a.oidc == nil {
		return Identity{}, errors.New("a session of an OpenID Connect login, and no provider is configured")
	}
	user, groups, err := a.oidc.sessionUser(ctx, handle)
	if err != nil {
		return Identity{}, err
	}
	return a.personIdentity(user, groups)
}

// personIdentity is the identity of a person the provider vouches for: the first role, in the
// file's order, that holds one of their groups.
func (a *Authenticator) personIdentity(user string, groups []string) (Identity, error) {
	role, ok := a.roleOfGroups(groups)
	if !ok {
		return Identity{}, fmt.Errorf("%s is in no group a role holds", user)
	}
	return Identity{User: user, Role: role.Name, Admin: role.Admin, Scope: role.Scope}, nil
}

func (a *Authenticator) roleOfGroups(groups []string) (Role, bool) {
	for _, role := range a.roles {
		for _, g := range role.Groups {
			if slices.Contains(groups, g) {
				return role, true
			}
		}
	}
	return Role{}, false
}

// identityOf is the identity of the token named name: the role that holds it.
func (a *Authenticator) identityOf(name string) (Identity, error) {
	for _, role := range a.roles {
		if slices.Contains(role.Tokens, name) {
			return Identity{User: name, Role: role.Name, Admin: role.Admin, Scope: role.Scope}, nil
		}
	}
	return Identity{}, fmt.Errorf("token %q is in no role", name)
}

// Login checks a token typed into the login page and returns the session cookie that stands for
// it from then on (Secure when the page is served over TLS).
func (a *Authenticator) Login(token string, secure bool) (*http.Cookie, error) {
	if token == "" || len(token) > maxTokenLength {
		return nil, errBadToken
	}
	name, ok := tokenNamed(a.tokens, token)
	if !ok {
		return nil, errBadToken
	}
	if _, err := a.identityOf(name); err != nil {
		return nil, err
	}
	return a.sessions.cookie(name, secure), nil
}

// NoCredentials tells an error of Authenticate that says the request carried none (a browser
// to send to the login, rather than a bad token to refuse).
func NoCredentials(err error) bool { return errors.Is(err, errNoToken) }

type identityKey struct{}

// WithIdentity and FromContext carry a request's identity.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext is the request's identity; ok is false when auth is off (everything is visible).
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// View is the graph as the identity may see it: the graph itself for an admin (or with auth
// off), else its scope's part, kept per graph and role (views) so that a query pays for it
// once per refresh, not once per request.
func (a *Authenticator) View(ctx context.Context, g *graph.Graph) *graph.Graph {
	id, ok := FromContext(ctx)
	if !ok || id.Admin {
		return g
	}
	if id.Scope == nil { // no role without admin or a scope gets here; see nothing if one does
		return graph.New(g.At)
	}
	return a.views.Get(g, id.Role, func() *graph.Graph { return id.Scope.Visible(g) })
}

// Prepare computes every scoped role's view of g, so that the first request after a refresh
// finds it ready: the server calls it when the refresh loop makes a new graph.
func (a *Authenticator) Prepare(g *graph.Graph) {
	a.views.Advance(g)
	a.indexes.Advance(g) // the views are of g's time
	for _, r := range a.roles {
		if !r.Admin && r.Scope != nil {
			a.views.Get(g, r.Name, func() *graph.Graph { return r.Scope.Visible(g) })
		}
	}
}
