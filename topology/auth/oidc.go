package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// People log in through an OpenID Connect provider: the authorization code flow with PKCE and
// a nonce, the protocol done by go-oidc (discovery, keys, ID token verification) and x/oauth2
// (the code exchange, refresh). strata keeps what a login gives (the user, their groups, the
// provider's tokens) in a session of its own, in memory, named by a 256-bit random handle:
// the browser holds the handle in its session cookie, `strata login` in its token file. The
// role is looked up from the groups on every request; the provider's tokens are refreshed
// before they expire, which also reads the groups again, so a person taken out of a group
// loses the role at the next refresh at the latest. A restart ends every session (no key and
// no token is kept on disk).
//
// The provider's own tokens are accepted as bearer tokens too: an ID token (or a JWT access
// token whose audience holds strata's client id), verified for issuer, audience, expiry and
// signature against the provider's published keys, which go-oidc fetches again when a token
// names a key it has not seen (the provider rotated its keys).

// SessionTokenPrefix starts a session handle, to tell it from a static token or a JWT.
const SessionTokenPrefix = "strata-session."

// LoginCookie binds a login in progress to the browser that started it: a callback from
// another browser (an attacker's code sent to a victim, to log them in as the attacker) finds
// no login to finish.
const LoginCookie = "strata_login"

// Bounds of what logins keep in memory, whoever asks.
const (
	maxSessions      = 10000
	maxPendingLogins = 10000
	loginLifetime    = 10 * time.Minute // from /auth/login to the callback
	cliCodeLifetime  = 2 * time.Minute  // from the callback to `strata login`'s exchange
	providerTimeout  = 10 * time.Second // any one request to the provider
	refreshRetry     = 30 * time.Second // after a refresh failed
	discoveryRetry   = 5 * time.Second  // after discovery failed
	reachableFor     = time.Second      // a probe's answer, before the next login asks again
)

// ErrProviderUnreachable says that a login cannot start or finish because the provider does
// not answer; sessions already open go on until they expire.
var ErrProviderUnreachable = errors.New("the OpenID Connect provider cannot be reached")

// ErrLogin is a login that cannot finish: its state is unknown or used, the browser is not
// the one that started it, or the provider refused the code. The reason is for the log.
var ErrLogin = errors.New("the login cannot be finished")

// Provider is the OpenID Connect provider of the `oidc:` block, and the sessions of the people
// who logged in through it.
type Provider struct {
	cfg    OIDC
	secret string
	client *http.Client
	logger *slog.Logger
	now    func() time.Time

	mu         sync.Mutex
	provider   *oidc.Provider // nil until discovery succeeds
	verifier   *oidc.IDTokenVerifier
	endSession string
	lastTry    time.Time
	lastErr    error
	reachedAt  time.Time                // when the provider last answered a probe
	pending    map[string]*pendingLogin // by state
	cliCodes   map[string]cliCode       // by code
	sessions   map[[sha256.Size]byte]*session
}

// pendingLogin is a login sent to the provider and not back yet.
type pendingLogin struct {
	verifier, nonce, next string
	cli                   *CLILogin
	expires               time.Time
}

// CLILogin is a login `strata login` started: where its loopback listener waits, the state
// it will check, and the PKCE challenge of the verifier it will exchange the code with.
type CLILogin struct {
	Redirect, State, Challenge string
}

type cliCode struct {
	handle, challenge string
	expires           time.Time
}

// session is one person's login.
type session struct {
	mu         sync.Mutex
	user       string
	groups     []string
	token      *oauth2.Token // the refresh token in it
	idToken    string        // the provider's, for its end-session endpoint
	expires    time.Time     // when the provider's token expires: the session's end unless refreshed
	refreshAt  time.Time
	refreshing bool
	ends       time.Time // SessionLifetime after the login, refreshed or not
}

// NewProvider is the provider of cfg; secret is the client secret ("" for a public client).
// It does not ask the provider anything yet: a provider down at start must not keep strata
// down, and discovery is tried again at the next login.
func NewProvider(cfg OIDC, secret string, logger *slog.Logger) *Provider {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Provider{cfg: cfg, secret: secret, logger: logger, now: time.Now,
		client:  &http.Client{Timeout: providerTimeout},
		pending: map[string]*pendingLogin{}, cliCodes: map[string]cliCode{}, sessions: map[[sha256.Size]byte]*session{}}
}

// Issuer is the provider's issuer URL.
func (p *Provider) Issuer() string { return p.cfg.IssuerURL }

func (p *Provider) ctx(ctx context.Context) context.Context { return oidc.ClientContext(ctx, p.client) }

// discover reads the provider's discovery document once it answers.
func (p *Provider) discover(ctx context.Context) (*oidc.Provider, *oidc.IDTokenVerifier, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.provider != nil {
		return p.provider, p.verifier, nil
	}
	if p.lastErr != nil && p.now().Sub(p.lastTry) < discoveryRetry {
		return nil, nil, p.lastErr
	}
	p.lastTry = p.now()
	ctx, cancel := context.WithTimeout(ctx, providerTimeout)
	defer cancel()
	prov, err := oidc.NewProvider(p.ctx(ctx), p.cfg.IssuerURL)
	if err != nil {
		p.lastErr = fmt.Errorf("%w: discovery at %s: %v", ErrProviderUnreachable, p.cfg.IssuerURL, err)
		return nil, nil, p.lastErr
	}
	var claims struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_ = prov.Claims(&claims) // optional
	p.provider, p.endSession, p.lastErr = prov, claims.EndSession, nil
	p.verifier = prov.Verifier(&oidc.Config{ClientID: p.cfg.ClientID})
	p.logger.Info("OpenID Connect provider discovered", "issuer", p.cfg.IssuerURL, "end_session", p.endSession != "")
	return p.provider, p.verifier, nil
}

// reachable asks the provider's discovery document: a login is sent to the provider only when
// it answers, so that a person sees strata's page saying it is down, not a browser error. An
// answer holds for a few seconds: /auth/login is open to anyone, and must not be a way to
// make strata send the provider a request for each of theirs.
func (p *Provider) reachable(ctx context.Context) error {
	p.mu.Lock()
	fresh := p.now().Sub(p.reachedAt) < reachableFor
	p.mu.Unlock()
	if fresh {
		return nil
	}
	if err := p.probe(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	p.reachedAt = p.now()
	p.mu.Unlock()
	return nil
}

func (p *Provider) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, providerTimeout)
	defer cancel()
	u := strings.TrimSuffix(p.cfg.IssuerURL, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrProviderUnreachable, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: its discovery document answers %s", ErrProviderUnreachable, resp.Status)
	}
	return nil
}

func (p *Provider) oauth2Config(prov *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: p.cfg.ClientID, ClientSecret: p.secret, Endpoint: prov.Endpoint(),
		RedirectURL: p.cfg.RedirectURL, Scopes: p.cfg.Scopes}
}

// BeginLogin starts a login: the provider's authorization URL to send the browser to, and the
// cookie that binds the login to that browser. next is where the browser goes after it (a path
// of strata, SafeNext); cli is a login of `strata login`, else nil.
func (p *Provider) BeginLogin(ctx context.Context, next string, cli *CLILogin, secure bool) (string, *http.Cookie, error) {
	if err := p.reachable(ctx); err != nil {
		return "", nil, err
	}
	prov, _, err := p.discover(ctx)
	if err != nil {
		return "", nil, err
	}
	state, nonce, verifier := randomString(), randomString(), oauth2.GenerateVerifier()
	p.mu.Lock()
	now := p.now()
	for s, l := range p.pending {
		if now.After(l.expires) {
			delete(p.pending, s)
		}
	}
	if len(p.pending) >= maxPendingLogins {
		// Anyone may start logins: when they fill the table, the oldest one goes, not every new one.
		oldest := ""
		for s, l := range p.pending {
			if oldest == "" || l.expires.Before(p.pending[oldest].expires) {
				oldest = s
			}
		}
		delete(p.pending, oldest)
	}
	p.pending[state] = &pendingLogin{verifier: verifier, nonce: nonce, next: SafeNext(next), cli: cli, expires: now.Add(loginLifetime)}
	p.mu.Unlock()
	u := p.oauth2Config(prov).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	cookie := &http.Cookie{Name: LoginCookie, Value: state, Path: p.callbackPath(), MaxAge: int(loginLifetime / time.Second),
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
	return u, cookie, nil
}

// callbackPath is the path of the redirect URL, where the login cookie is sent back.
func (p *Provider) callbackPath() string {
	u, err := url.Parse(p.cfg.RedirectURL)
	if err != nil || u.Path == "" {
		return "/"
	}
	return u.Path
}

// Finished is a login come back from the provider: a browser's gets the session cookie and
// goes to Next; a CLI login's browser goes to Next, `strata login`'s loopback listener, with
// a one-time code.
type Finished struct {
	User, Role string
	Cookie     *http.Cookie // nil for a CLI login
	Next       string
}

// FinishLogin reads the provider's answer at the callback: the state must be a login this
// browser started and not finished yet; the code is exchanged with the PKCE verifier; the ID
// token must verify and carry the login's nonce; the user's groups must give a role.
func (a *Authenticator) FinishLogin(ctx context.Context, r *http.Request, secure bool) (Finished, error) {
	p := a.oidc
	if p == nil {
		return Finished{}, fmt.Errorf("%w: no OpenID Connect provider is configured", ErrLogin)
	}
	q := r.URL.Query()
	state := q.Get("state")
	c, err := r.Cookie(LoginCookie)
	if err != nil || state == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(state)) != 1 {
		return Finished{}, fmt.Errorf("%w: the state is not the one this browser's login was given", ErrLogin)
	}
	p.mu.Lock()
	login, ok := p.pending[state]
	delete(p.pending, state) // used once, whatever follows: a replayed callback finds nothing
	p.mu.Unlock()
	if !ok || p.now().After(login.expires) {
		return Finished{}, fmt.Errorf("%w: no login in progress has this state (used already, expired, or from before a restart)", ErrLogin)
	}
	if e := q.Get("error"); e != "" {
		return Finished{}, fmt.Errorf("%w: the provider answered %s", ErrLogin, truncate(e+": "+q.Get("error_description"), 200))
	}
	prov, verifier, err := p.discover(ctx)
	if err != nil {
		return Finished{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, providerTimeout)
	defer cancel()
	tok, err := p.oauth2Config(prov).Exchange(p.ctx(ctx), q.Get("code"), oauth2.VerifierOption(login.verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return Finished{}, fmt.Errorf("%w: the provider refused the code: %s", ErrLogin, truncate(re.ErrorCode+" "+re.ErrorDescription, 200))
		}
		return Finished{}, fmt.Errorf("%w: exchange the code: %v", ErrProviderUnreachable, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Finished{}, fmt.Errorf("%w: the provider sent no ID token (is openid among the scopes?)", ErrLogin)
	}
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		return Finished{}, fmt.Errorf("%w: the ID token does not verify: %v", ErrLogin, err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(login.nonce)) != 1 {
		return Finished{}, fmt.Errorf("%w: the ID token's nonce is not this login's (a replayed token)", ErrLogin)
	}
	user, groups, err := p.claims(idt)
	if err != nil {
		return Finished{}, fmt.Errorf("%w: %v", ErrLogin, err)
	}
	role, ok := a.roleOfGroups(groups)
	if !ok {
		return Finished{User: user}, fmt.Errorf("%w: %s signed in, and no role holds any of their groups", ErrNoRole, user)
	}
	now := p.now()
	s := &session{user: user, groups: groups, token: tok, idToken: raw, expires: idt.Expiry, ends: now.Add(SessionLifetime)}
	s.refreshAt = refreshTime(now, idt.Expiry)
	handle := p.keep(s)
	f := Finished{User: user, Role: role.Name, Next: login.next}
	if login.cli != nil {
		code := randomString()
		p.mu.Lock()
		for c, v := range p.cliCodes {
			if now.After(v.expires) {
				delete(p.cliCodes, c)
			}
		}
		if len(p.cliCodes) >= maxPendingLogins {
			p.mu.Unlock()
			return Finished{}, errors.New("too many logins in progress: try again in a few minutes")
		}
		p.cliCodes[code] = cliCode{handle: handle, challenge: login.cli.Challenge, expires: now.Add(cliCodeLifetime)}
		p.mu.Unlock()
		u, _ := url.Parse(login.cli.Redirect) // checked by CheckCLIRedirect
		u.RawQuery = url.Values{"code": {code}, "state": {login.cli.State}}.Encode()
		f.Next = u.String()
		return f, nil
	}
	f.Cookie = &http.Cookie{Name: SessionCookie, Value: handle, Path: "/", Expires: s.ends, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
	return f, nil
}

// ErrNoRole is a person the provider knows whose groups no role holds.
var ErrNoRole = errors.New("no role")

// ClearLoginCookie ends the login cookie once the callback has read it.
func (p *Provider) ClearLoginCookie(secure bool) *http.Cookie {
	return &http.Cookie{Name: LoginCookie, Value: "", Path: p.callbackPath(), MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
}

// CLIToken is what `strata login` gets for its one-time code.
type CLIToken struct {
	Token   string    `json:"token"`
	User    string    `json:"user"`
	Role    string    `json:"role"`
	Expires time.Time `json:"expires"`
}

// ExchangeCLICode gives `strata login` its session handle for the one-time code the callback
// sent its loopback listener, when verifier is the one whose challenge started the login (a
// code another program on the machine caught is worth nothing without it). A code is used once.
func (a *Authenticator) ExchangeCLICode(code, verifier string) (CLIToken, error) {
	p := a.oidc
	if p == nil {
		return CLIToken{}, fmt.Errorf("%w: no OpenID Connect provider is configured", ErrLogin)
	}
	p.mu.Lock()
	c, ok := p.cliCodes[code]
	delete(p.cliCodes, code)
	p.mu.Unlock()
	if !ok || p.now().After(c.expires) {
		return CLIToken{}, fmt.Errorf("%w: the code is unknown, used or expired", ErrLogin)
	}
	if subtle.ConstantTimeCompare([]byte(oauth2.S256ChallengeFromVerifier(verifier)), []byte(c.challenge)) != 1 {
		p.drop(c.handle)
		return CLIToken{}, fmt.Errorf("%w: the code verifier does not match the login's challenge", ErrLogin)
	}
	s := p.lookup(c.handle)
	if s == nil {
		return CLIToken{}, fmt.Errorf("%w: the session ended", ErrLogin)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	role, _ := a.roleOfGroups(s.groups)
	return CLIToken{Token: c.handle, User: s.user, Role: role.Name, Expires: s.ends}, nil
}

// CheckCLIRedirect accepts only a loopback listener's URL for `strata login`: http to
// 127.0.0.1, [::1] or localhost on some port. Anything else would be an open redirect that
// hands a login's code to another site.
func CheckCLIRedirect(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Port() == "" || u.Fragment != "" {
		return errors.New("cli: want http://127.0.0.1:<port>/… (the loopback listener of strata login)")
	}
	h := u.Hostname()
	if ip := net.ParseIP(h); (ip == nil || !ip.IsLoopback()) && h != "localhost" {
		return errors.New("cli: want http://127.0.0.1:<port>/… (the loopback listener of strata login)")
	}
	return nil
}

// claims reads the user name and groups of a verified token.
func (p *Provider) claims(t *oidc.IDToken) (string, []string, error) {
	var all map[string]any
	if err := t.Claims(&all); err != nil {
		return "", nil, fmt.Errorf("the token's claims: %v", err)
	}
	user, _ := all[p.cfg.UsernameClaim].(string)
	if user == "" {
		user = t.Subject
	}
	if user == "" {
		return "", nil, fmt.Errorf("the token has neither %q nor sub", p.cfg.UsernameClaim)
	}
	var groups []string
	switch g := all[p.cfg.GroupsClaim].(type) {
	case string:
		groups = []string{g}
	case []any:
		for _, v := range g {
			if s, ok := v.(string); ok {
				groups = append(groups, s)
			}
		}
	}
	return user, groups, nil
}

// verifyBearer reads a JWT the provider signed, sent as a bearer token.
func (p *Provider) verifyBearer(ctx context.Context, raw string) (string, []string, error) {
	_, verifier, err := p.discover(ctx)
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, providerTimeout)
	defer cancel()
	t, err := verifier.Verify(ctx, raw)
	if err != nil {
		return "", nil, fmt.Errorf("the bearer token does not verify: %v", err)
	}
	return p.claims(t)
}

// keep stores a new session and returns its handle. When memory is full, the sessions that end
// first make room.
func (p *Provider) keep(s *session) string {
	handle := SessionTokenPrefix + randomString()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.sessions) >= maxSessions {
		now := p.now()
		var first [sha256.Size]byte
		var firstEnds time.Time
		for k, o := range p.sessions {
			if now.After(o.ends) {
				delete(p.sessions, k)
				continue
			}
			if firstEnds.IsZero() || o.ends.Before(firstEnds) {
				first, firstEnds = k, o.ends
			}
		}
		if len(p.sessions) >= maxSessions {
			delete(p.sessions, first)
			p.logger.Warn("sessions full: the one that ends first is logged out", "max", maxSessions)
		}
	}
	p.sessions[sha256.Sum256([]byte(handle))] = s
	return handle
}

func (p *Provider) lookup(handle string) *session {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sessions[sha256.Sum256([]byte(handle))]
}

func (p *Provider) drop(handle string) *session {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := sha256.Sum256([]byte(handle))
	s := p.sessions[k]
	delete(p.sessions, k)
	return s
}

// sessionUser is the user and groups of the session handle, refreshing the provider's tokens
// when they near their expiry. One request refreshes; the others go on with what the session
// holds while it is still valid. A refresh that fails (the provider down) is tried again
// later; the session ends when the tokens expire unrefreshed.
func (p *Provider) sessionUser(ctx context.Context, handle string) (string, []string, error) {
	s := p.lookup(handle)
	if s == nil {
		return "", nil, errors.New("no such session (logged out, ended, or from before a restart)")
	}
	s.mu.Lock()
	now := p.now()
	if now.After(s.ends) {
		s.mu.Unlock()
		p.drop(handle)
		return "", nil, errors.New("the session ended")
	}
	if now.After(s.refreshAt) && !s.refreshing && s.token.RefreshToken != "" {
		s.refreshing = true
		old := *s.token
		s.mu.Unlock()
		tok, idt, raw, err := p.refresh(ctx, &old)
		s.mu.Lock()
		s.refreshing = false
		if err != nil {
			s.refreshAt = p.now().Add(refreshRetry)
			p.logger.Warn("session refresh failed: it lasts until its tokens expire", "user", s.user, "expires", s.expires, "reason", err)
		} else {
			if idt != nil {
				user, groups, err := p.claims(idt)
				if err == nil {
					s.user, s.groups, s.idToken, s.expires = user, groups, raw, idt.Expiry
				}
			} else {
				s.expires = tok.Expiry
			}
			if tok.RefreshToken == "" {
				tok.RefreshToken = old.RefreshToken
			}
			s.token = tok
			s.refreshAt = refreshTime(p.now(), s.expires)
		}
	}
	user, groups, expires := s.user, s.groups, s.expires
	s.mu.Unlock()
	if p.now().After(expires) {
		p.drop(handle)
		return "", nil, errors.New("the session's tokens expired and the provider did not renew them")
	}
	return user, groups, nil
}

// refresh asks the provider for new tokens with the refresh token; the new ID token, when one
// comes, is verified as at the login.
func (p *Provider) refresh(ctx context.Context, old *oauth2.Token) (*oauth2.Token, *oidc.IDToken, string, error) {
	prov, verifier, err := p.discover(ctx)
	if err != nil {
		return nil, nil, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, providerTimeout)
	defer cancel()
	stale := &oauth2.Token{RefreshToken: old.RefreshToken, Expiry: time.Unix(1, 0)}
	tok, err := p.oauth2Config(prov).TokenSource(p.ctx(ctx), stale).Token()
	if err != nil {
		return nil, nil, "", err
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return tok, nil, "", nil
	}
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		return nil, nil, "", fmt.Errorf("the refreshed ID token does not verify: %v", err)
	}
	return tok, idt, raw, nil
}

// refreshTime is when a token valid until expires is refreshed: in the last quarter of its
// life, at most two minutes before it ends.
func refreshTime(now, expires time.Time) time.Time {
	before := min(expires.Sub(now)/4, 2*time.Minute)
	return expires.Add(-before)
}

// Logout ends the session of handle and returns where the browser goes next: the provider's
// end-session endpoint, when it has one, which comes back to postLogout; else postLogout.
func (p *Provider) Logout(handle string) string {
	post := p.PostLogoutURL()
	s := p.drop(handle)
	p.mu.Lock()
	end := p.endSession
	p.mu.Unlock()
	if s == nil || end == "" {
		return post
	}
	u, err := url.Parse(end)
	if err != nil {
		return post
	}
	s.mu.Lock()
	hint := s.idToken
	s.mu.Unlock()
	q := u.Query()
	q.Set("id_token_hint", hint)
	q.Set("post_logout_redirect_uri", post)
	q.Set("state", randomString())
	u.RawQuery = q.Encode()
	return u.String()
}

// PostLogoutURL is where the provider sends the browser after its logout: strata's
// /auth/login beside the redirect URL's /auth/callback (register it with the provider).
func (p *Provider) PostLogoutURL() string {
	u, err := url.Parse(p.cfg.RedirectURL)
	if err != nil {
		return "/auth/login"
	}
	u.Path = path.Join(path.Dir(u.Path), "login")
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

// randomString is 256 random bits, URL-safe.
func randomString() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("no randomness: " + err.Error()) // crypto/rand never fails on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
