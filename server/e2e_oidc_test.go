package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/strata-obs/strata/internal/oidctest"
	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/server"
	"github.com/strata-obs/strata/topology/auth"
	"github.com/strata-obs/strata/topology/config"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/inventory"
)

// The people of the OpenID Connect tests: alice of payments, bob of bank, root of the SREs, and
// carol, whose only group no role holds.
var oidcUsers = []oidctest.User{
	{Name: "alice", Password: "alice-pw", Email: "alice@example.org", Groups: []string{"payments", "staff"}},
	{Name: "bob", Password: "bob-pw", Email: "bob@example.org", Groups: []string{"bank"}},
	{Name: "root", Password: "root-pw", Email: "root@example.org", Groups: []string{"sre"}},
	{Name: "carol", Password: "carol-pw", Email: "carol@example.org", Groups: []string{"visitors"}},
}

// oidcScene is strata on the two teams' inventory, with people logging in through a real
// Hydra: the configuration file's auth block, read as strata serve reads it.
type oidcScene struct {
	*app
	idp  *oidctest.Provider
	log  *testenv.LockedBuffer
	port int
}

func startOIDCScene(t *testing.T, ttl time.Duration) *oidcScene {
	t.Helper()
	idp := oidctest.Start(t, oidctest.Options{Users: oidcUsers, IDTokenTTL: ttl})
	port := testenv.FreePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	idp.Client("strata", "strata-client-secret", []string{base + "/auth/callback", "http://127.0.0.1:1/test-callback"}, []string{base + "/auth/login"})
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("inventory.yml", twoTeamsInventory)
	write("oidc-secret", "strata-client-secret\n")
	write("strata.yml", fmt.Sprintf(`sources:
  - {type: inventory, name: inventory, file: inventory.yml}
auth:
  oidc:
    issuer_url: %s
    client_id: strata
    client_secret_file: oidc-secret
    redirect_url: %s/auth/callback
    scopes: [openid, profile, email, groups, offline_access]
  roles:
    - {name: admin, groups: [sre], admin: true}
    - {name: payments, groups: [payments], scope: ['team="payments"']}
    - {name: bank, groups: [bank], scope: ['team="bank"']}
`, idp.Issuer, base))
	cfg, err := config.Load(filepath.Join(dir, "strata.yml"), server.Providers())
	if err != nil {
		t.Fatal(err)
	}
	authn, err := server.BuildAuth(cfg)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.New("inventory", filepath.Join(dir, "inventory.yml"), 0)
	if err != nil {
		t.Fatal(err)
	}
	log := &testenv.LockedBuffer{}
	a := startAppOn(t, "127.0.0.1:"+strconv.Itoa(port), server.Options{RefreshInterval: time.Second, LBSources: []source.LoadBalancers{inv},
		FactSources: []source.Facts{inv}, Auth: authn}, slog.New(slog.NewJSONHandler(log, nil)))
	return &oidcScene{app: a, idp: idp, log: log, port: port}
}

// browserClient is a client that keeps cookies, as a browser, and says it wants HTML.
func browserClient(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: htmlTransport{}}
}

type htmlTransport struct{}

func (htmlTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept", "text/html")
	return http.DefaultTransport.RoundTrip(r)
}

// whoami asks who the client's session (or the bearer token) is; code 0 means a redirect.
func (s *oidcScene) whoami(t *testing.T, c *http.Client, bearer string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.base+"/api/v1/auth/whoami", nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct{ Data map[string]any }
	_ = json.NewDecoder(resp.Body).Decode(&r)
	return resp.StatusCode, r.Data
}

// providerTokens gets tokens from the provider as a program of the person would, with the
// client's own loopback redirect, not through strata: the ID token (and JWT access token) a
// script sends as a bearer.
func providerTokens(t *testing.T, idp *oidctest.Provider, clientID, secret, user, password string, opts ...oauth2.AuthCodeOption) *oauth2.Token {
	t.Helper()
	ctx := context.Background()
	resp, err := http.Get(idp.Issuer + ".well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var disco struct {
		Auth  string `json:"authorization_endpoint"`
		Token string `json:"token_endpoint"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&disco)
	resp.Body.Close()
	conf := &oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: oauth2.Endpoint{AuthURL: disco.Auth, TokenURL: disco.Token},
		RedirectURL: "http://127.0.0.1:1/test-callback", Scopes: []string{"openid", "email", "groups"}}
	verifier := oauth2.GenerateVerifier()
	c := browserClient(t)
	var code string
	c.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
		if r.URL.Host == "127.0.0.1:1" {
			code = r.URL.Query().Get("code")
			return http.ErrUseLastResponse
		}
		return nil
	}
	start := conf.AuthCodeURL(testenv.RandomHex(t, 16), append(opts, oauth2.S256ChallengeOption(verifier))...)
	if _, _, err := idp.Login(c, start, user, password); err != nil || code == "" {
		t.Fatalf("log %s in at the provider: %v (code %q)", user, err, code)
	}
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange the code: %v", err)
	}
	return tok
}

// TestOIDCLogin: people log in through a real OpenID Connect provider (Ory Hydra) and see what
// their group's role may see; the provider's tokens work as bearers when they verify, and
// every bad input of the list is refused with 401 (a login page for a browser) and a
// reason in the log, serving nothing else.
func TestOIDCLogin(t *testing.T) {
	const ttl = 20 * time.Second // the provider's tokens: short, for the refresh
	s := startOIDCScene(t, ttl)
	testenv.Eventually(t, pollTimeout, "the first refresh", func() error {
		if _, err := testenv.CheckHTTP(s.base+"/-/ready", http.StatusOK); err != nil {
			return err
		}
		return nil
	})

	// alice logs in from the search page, lands back on it, and sees payments' service only.
	alice := browserClient(t)
	resp, body, err := s.idp.Login(alice, s.base+"/search?q=service", "alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/search" || !strings.Contains(string(body), "pay") ||
		strings.Contains(string(body), "bankvault") || strings.Contains(string(body), ">bank<") {
		t.Fatalf("after the login: %s %s\n%s", resp.Request.URL.Redacted(), resp.Status, body)
	}
	loggedAt := time.Now()
	if code, who := s.whoami(t, alice, ""); code != http.StatusOK || who["user"] != "alice@example.org" || who["role"] != "payments" {
		t.Errorf("alice's whoami: %d %v", code, who)
	}
	for _, c := range s.cookies(alice) {
		if c.Name == auth.SessionCookie && (!strings.HasPrefix(c.Value, auth.SessionTokenPrefix)) {
			t.Errorf("session cookie %q", c.Value)
		}
	}
	if !strings.Contains(s.log.String(), `"msg":"audit","user":"alice@example.org","role":"payments"`) {
		t.Errorf("no audit line for alice:\n%s", s.log.String())
	}

	// carol is someone the provider knows, in no role's group: told so, and nothing served.
	carol := browserClient(t)
	resp, body, _ = s.idp.Login(carol, s.base+"/", "carol", "carol-pw")
	if resp == nil || resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "no role of this strata holds any of your groups") {
		t.Errorf("carol: %v\n%s", resp.Status, body)
	}
	if code, _ := s.whoami(t, carol, ""); code != http.StatusUnauthorized {
		t.Errorf("carol's whoami: %d", code)
	}

	// The provider's own tokens as bearers: an ID token of strata's client; a JWT access token
	// whose audience is strata; not an access token meant for nobody in particular.
	bobTokens := providerTokens(t, s.idp, "strata", "strata-client-secret", "bob", "bob-pw", oauth2.SetAuthURLParam("audience", "strata"))
	idToken, _ := bobTokens.Extra("id_token").(string)
	if code, who := s.whoami(t, nil, idToken); code != http.StatusOK || who["role"] != "bank" {
		t.Errorf("bob's ID token: %d %v", code, who)
	}
	if code, who := s.whoami(t, nil, bobTokens.AccessToken); code != http.StatusOK || who["role"] != "bank" {
		t.Errorf("bob's access token for strata: %d %v", code, who)
	}
	noAudience := providerTokens(t, s.idp, "strata", "strata-client-secret", "bob", "bob-pw")
	bad := map[string]string{"an access token for no audience": noAudience.AccessToken}

	// Wrong audience: an ID token of another client of the same provider.
	s.idp.Client("other", "other-client-secret", []string{"http://127.0.0.1:1/test-callback"}, nil)
	other := providerTokens(t, s.idp, "other", "other-client-secret", "root", "root-pw")
	bad["wrong audience"], _ = other.Extra("id_token").(string)
	// Wrong issuer: an ID token for client "strata" from another provider.
	elsewhere := oidctest.Start(t, oidctest.Options{Users: oidcUsers})
	elsewhere.Client("strata", "strata-client-secret", []string{"http://127.0.0.1:1/test-callback"}, nil)
	bad["wrong issuer"], _ = providerTokens(t, elsewhere, "strata", "strata-client-secret", "root", "root-pw").Extra("id_token").(string)
	// Unsigned: bob's claims under alg none; tampered: bob's token claiming the SREs' group.
	parts := strings.Split(idToken, ".")
	bad["alg none"] = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := strings.Replace(string(claims), `"groups":["bank"]`, `"groups":["sre"]`, 1)
	if forged == string(claims) {
		t.Fatalf("bob's claims hold no groups to forge: %s", claims)
	}
	bad["tampered"] = parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2]
	bad["malformed"] = "not.a.jwt"
	bad["forged session"] = auth.SessionTokenPrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	for what, token := range bad {
		if code, data := s.whoami(t, nil, token); code != http.StatusUnauthorized || data != nil {
			t.Errorf("%s: %d %v, want 401 and nothing", what, code, data)
		}
	}
	for _, reason := range []string{"expected audience", "failed to verify signature", "unexpected signature algorithm", "malformed jwt"} {
		if !strings.Contains(s.log.String(), reason) {
			t.Errorf("no %q reason in the log", reason)
		}
	}

	// The callback's bad inputs: a state this browser was not given, a replayed callback, a
	// callback in another browser than the one that started the login (login CSRF), and a code
	// of another login (its PKCE verifier does not match).
	noFollow := func(c *http.Client) *http.Client {
		cc := *c
		cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		return &cc
	}
	callbackOf := func(user string) (*http.Client, string) { // a login stopped at strata's callback
		c := browserClient(t)
		var cb string
		c.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
			if r.URL.Path == "/auth/callback" {
				cb = r.URL.String()
				return http.ErrUseLastResponse
			}
			return nil
		}
		if _, _, err := s.idp.Login(c, s.base+"/auth/login", user, user+"-pw"); err != nil || cb == "" {
			t.Fatalf("a login of %s up to the callback: %v", user, err)
		}
		c.CheckRedirect = nil
		return c, cb
	}
	refused := func(what string, c *http.Client, u string) {
		t.Helper()
		resp, body, err := getBody(noFollow(c), u)
		if err != nil || resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "could not be finished") ||
			strings.Contains(strings.Join(resp.Header.Values("Set-Cookie"), " "), auth.SessionTokenPrefix) {
			t.Errorf("%s: %v %v\n%s", what, resp.Status, err, body)
		}
	}
	c1, cb1 := callbackOf("bob")
	stolen := strings.Replace(cb1, "state=", "state=x", 1)
	refused("a state not given", c1, stolen)
	refused("another browser", browserClient(t), cb1)
	if resp, _, err := getBody(noFollow(c1), cb1); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the callback itself: %v %v", resp.Status, err)
	}
	refused("the callback replayed", c1, cb1)
	c2, _ := callbackOf("bob") // c2's login waits at its callback; give it c3's code
	_, cb3 := callbackOf("alice")
	u2, _ := url.Parse(s.base + "/auth/login")
	state2 := ""
	for _, c := range c2.Jar.Cookies(u2.ResolveReference(&url.URL{Path: "/auth/callback"})) {
		if c.Name == auth.LoginCookie {
			state2 = c.Value
		}
	}
	u3, _ := url.Parse(cb3)
	injected := s.base + "/auth/callback?" + url.Values{"state": {state2}, "code": {u3.Query().Get("code")}}.Encode()
	refused("another login's code", c2, injected)
	if !strings.Contains(s.log.String(), "the provider refused the code") {
		t.Errorf("no reason for the injected code in the log")
	}

	// strata login's exchange: a code with another verifier than the login's challenge is
	// refused, and spent; a return address that is not a loopback listener never starts.
	verifier := oauth2.GenerateVerifier()
	cli := browserClient(t)
	var cliCode string
	cli.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
		if r.URL.Host == "127.0.0.1:1" {
			cliCode = r.URL.Query().Get("code")
			return http.ErrUseLastResponse
		}
		return nil
	}
	cliStart := s.base + "/auth/login?" + url.Values{"cli": {"http://127.0.0.1:1/callback"}, "cli_state": {"st"},
		"cli_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}}.Encode()
	if _, _, err := s.idp.Login(cli, cliStart, "bob", "bob-pw"); err != nil || cliCode == "" {
		t.Fatalf("a login of strata login: %v", err)
	}
	for _, v := range []string{oauth2.GenerateVerifier(), verifier} {
		resp, err := http.PostForm(s.base+"/auth/token", url.Values{"code": {cliCode}, "code_verifier": {v}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(b), auth.SessionTokenPrefix) {
			t.Errorf("the code with a wrong verifier, then spent: %s %s", resp.Status, b)
		}
	}
	for _, redirect := range []string{"https://evil.example/cb", "http://evil.example:80/cb", "http://127.0.0.1.evil.example:80/cb"} {
		u := s.base + "/auth/login?" + url.Values{"cli": {redirect}, "cli_state": {"st"}, "cli_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}}.Encode()
		if resp, _, err := getBody(noFollow(browserClient(t)), u); err != nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("cli=%s: %v %v, want 400", redirect, resp.Status, err)
		}
	}

	// An open redirect in next: the login ends on strata's own page.
	evil := browserClient(t)
	resp, _, err = s.idp.Login(evil, s.base+"/auth/login?next="+url.QueryEscape("//evil.example/x"), "bob", "bob-pw")
	if err != nil || resp.Request.URL.Host != "127.0.0.1:"+strconv.Itoa(s.port) || resp.Request.URL.Path != "/" {
		t.Errorf("next=//evil.example: ended at %v (%v)", resp.Request.URL.Redacted(), err)
	}

	// The session outlives the provider's token: strata refreshes it. bob's ID token, which
	// nothing refreshes, is refused once it expires.
	time.Sleep(time.Until(loggedAt.Add(ttl + 3*time.Second)))
	if code, who := s.whoami(t, alice, ""); code != http.StatusOK || who["user"] != "alice@example.org" {
		t.Errorf("alice after her token's expiry: %d %v (the session was not refreshed)\n%s", code, who, grepLines(s.log.String(), "refresh"))
	}
	if code, _ := s.whoami(t, nil, idToken); code != http.StatusUnauthorized {
		t.Errorf("an expired ID token: %d, want 401", code)
	}
	if !strings.Contains(s.log.String(), "token is expired") {
		t.Errorf("no reason for the expired token in the log")
	}

	// Logout goes through the provider's end-session endpoint and back to a login: the old
	// session, replayed, is refused.
	old := s.cookies(alice)
	req, _ := http.NewRequest(http.MethodPost, s.base+"/auth/logout", nil)
	req.Header.Set("Origin", s.base)
	resp, err = alice.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Query().Get("login_challenge") == "" {
		t.Errorf("after logout: at %s, want the provider's login form", resp.Request.URL.Redacted())
	}
	replay := &http.Client{Jar: mustJar(t, s.base, old), Transport: htmlTransport{}}
	if code, _ := s.whoami(t, replay, ""); code != http.StatusUnauthorized {
		t.Errorf("the logged-out session replayed: %d, want 401", code)
	}

	// The provider rotates its keys: a token signed with the new one verifies (strata fetches
	// the keys again for a key id it has not seen). (Last: after a rotation, Hydra v2.3.0's refreshed
	// ID tokens name the old key's id and do not verify with that key, for strata as for Hydra's
	// own end-session endpoint.)
	s.idp.RotateKeys()
	rotated, _ := providerTokens(t, s.idp, "strata", "strata-client-secret", "bob", "bob-pw").Extra("id_token").(string)
	if kid(t, rotated) == kid(t, idToken) {
		t.Fatalf("the rotated token names the old key %q", kid(t, idToken))
	}
	if code, who := s.whoami(t, nil, rotated); code != http.StatusOK || who["role"] != "bank" {
		t.Errorf("a token signed with the provider's new key: %d %v", code, who)
	}
	// The provider down: bob's open session goes on; a new login says the provider cannot be
	// reached.
	bob := browserClient(t)
	if _, _, err := s.idp.Login(bob, s.base+"/", "bob", "bob-pw"); err != nil {
		t.Fatal(err)
	}
	s.idp.Stop()
	if code, who := s.whoami(t, bob, ""); code != http.StatusOK || who["role"] != "bank" {
		t.Errorf("bob's session with the provider down: %d %v", code, who)
	}
	// (strata takes the provider's answer of the last second for granted.)
	testenv.Eventually(t, 10*time.Second, "a login page saying the provider cannot be reached", func() error {
		resp, body, err := getBody(noFollow(browserClient(t)), s.base+"/auth/login")
		if err != nil || resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "cannot be reached") {
			return fmt.Errorf("%v %v\n%.300s", resp.Status, err, body)
		}
		return nil
	})
}

// grepLines are the lines of s that hold sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// kid is the key id a JWT's header names.
func kid(t *testing.T, jwt string) string {
	t.Helper()
	header, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[0])
	var h struct{ Kid string }
	if err != nil || json.Unmarshal(header, &h) != nil || h.Kid == "" {
		t.Fatalf("no key id in the token's header %q", header)
	}
	return h.Kid
}

// cookies are the client's cookies for strata.
func (s *oidcScene) cookies(c *http.Client) []*http.Cookie {
	u, _ := url.Parse(s.base + "/")
	return c.Jar.Cookies(u)
}

func mustJar(t *testing.T, base string, cookies []*http.Cookie) *cookiejar.Jar {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(base + "/")
	jar.SetCookies(u, cookies)
	return jar
}

func getBody(c *http.Client, u string) (*http.Response, []byte, error) {
	resp, err := c.Get(u)
	if err != nil {
		return &http.Response{Status: err.Error()}, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp, b, err
}

// TestOIDCInBrowser: Chromium logs in through the provider's own pages, lands on the search
// page it asked for, sees payments' service and none of bank's, logs out (through the
// provider's end-session endpoint) and is sent to log in again.
func TestOIDCInBrowser(t *testing.T) {
	chromium := testenv.Command(t, "chromium")
	s := startOIDCScene(t, time.Hour)
	testenv.Eventually(t, pollTimeout, "the first refresh", func() error {
		_, err := testenv.CheckHTTP(s.base+"/-/ready", http.StatusOK)
		return err
	})
	b := startBrowser(t, chromium, s.base)
	atLoginForm := func(what string) {
		t.Helper()
		b.waitVisible("#user")
		if u, err := url.Parse(b.location()); err != nil || u.Query().Get("login_challenge") == "" || u.Host == "127.0.0.1:"+strconv.Itoa(s.port) {
			t.Fatalf("%s: at %s, want the provider's login form", what, b.location())
		}
	}
	step(b, "open the search page", chromedp.Navigate(s.base+"/search?q=service"))
	atLoginForm("a browser without a session")
	step(b, "fill the provider's form", chromedp.Steps(chromedp.SendKeys("#user", "alice"), chromedp.SendKeys("#password", "alice-pw")))
	resp, err := chromedp.RunResponse(b.stepCtx(), chromedp.Click("#submit"))
	if err != nil || resp == nil || resp.Status != http.StatusOK {
		t.Fatalf("sign in: %v %v", statusOf(resp), err)
	}
	if u, _ := url.Parse(b.location()); u.Path != "/search" || u.Query().Get("q") != "service" {
		t.Fatalf("after the login: at %s, want the search page asked for", b.location())
	}
	main := b.text("main")
	if !strings.Contains(main, "pay") || strings.Contains(main, "bank") {
		t.Errorf("payments' search for services shows:\n%s", main)
	}
	if who := b.text("form.who"); !strings.Contains(who, "alice@example.org") || !strings.Contains(who, "payments") {
		t.Errorf("the header says %q", who)
	}
	step(b, "log out", chromedp.Click("form.who button"))
	atLoginForm("after logging out")
	step(b, "open the landing page", chromedp.Navigate(s.base+"/"))
	atLoginForm("a page after logging out")
}
