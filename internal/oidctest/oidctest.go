// Package oidctest starts a real OpenID Connect provider for tests: Ory Hydra, built from the
// Go module proxy by scripts/hydra-build, on its in-memory store and 127.0.0.1, ending with the
// test. Hydra keeps no users: a deployer writes the login and consent app it sends browsers
// to, and this package is that app for tests: a form that checks the test's users and
// passwords, a consent that grants what the client asked and puts the user's email and groups
// in the tokens, and a logout that accepts.
package oidctest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/testenv"
)

// Version is the Hydra release scripts/hydra-build builds (scripts/hydra/go.mod).
const Version = "v2.3.0"

// User is a person the login app knows.
type User struct {
	Name, Password, Email string
	Groups                []string
}

// Options of a provider.
type Options struct {
	Users      []User
	IDTokenTTL time.Duration // of ID and access tokens; default an hour
}

// Provider is a running Hydra and its login app.
type Provider struct {
	Issuer string // http://127.0.0.1:port/, its public side
	Admin  string // its admin API

	t     testing.TB
	proc  *testenv.Process
	users map[string]User
}

// Bin is Hydra's path: in $STRATA_HYDRA_BIN, else scripts/hydra-build's cache. A binary that
// is not there is a missing real part.
func Bin(t testing.TB) string {
	t.Helper()
	return filepath.Join(testenv.Built(t, "STRATA_HYDRA_BIN", "hydra-"+Version, "scripts/hydra-build", "hydra"), "hydra")
}

// Start starts Hydra and the login app (JWT access tokens, whose email and groups claims are at
// the top level as in an ID token, as strata's README tells a Hydra deployer to set), and returns once Hydra answers its discovery.
func Start(t testing.TB, opts Options) *Provider {
	t.Helper()
	bin := Bin(t)
	if opts.IDTokenTTL == 0 {
		opts.IDTokenTTL = time.Hour
	}
	p := &Provider{t: t, users: map[string]User{}}
	for _, u := range opts.Users {
		p.users[u.Name] = u
	}
	app := p.startApp(t)
	public, admin := testenv.FreePort(t), testenv.FreePort(t)
	p.Issuer = fmt.Sprintf("http://127.0.0.1:%d/", public)
	p.Admin = fmt.Sprintf("http://127.0.0.1:%d", admin)
	dir := t.TempDir()
	config := fmt.Sprintf(`dsn: memory
serve:
  public: {host: 127.0.0.1, port: %d}
  admin: {host: 127.0.0.1, port: %d}
urls:
  self: {issuer: %q}
  login: %s/login
  consent: %s/consent
  logout: %s/logout
secrets: {system: [%q]}
ttl: {id_token: %s, access_token: %s}
strategies: {access_token: jwt}
oauth2: {allowed_top_level_claims: [email, groups]}
log: {level: warn}
`, public, admin, p.Issuer, app, app, app, testenv.RandomHex(t, 24), opts.IDTokenTTL, opts.IDTokenTTL)
	file := filepath.Join(dir, "hydra.yml")
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	// --dev: an issuer on http (127.0.0.1 in a test); --sqa-opt-out: no telemetry.
	p.proc = testenv.StartProcess(t, bin, "serve", "all", "--dev", "--sqa-opt-out", "-c", file)
	testenv.WaitHTTP(t, p.Issuer+".well-known/openid-configuration", http.StatusOK, p.proc)
	testenv.WaitHTTP(t, p.Admin+"/health/ready", http.StatusOK, p.proc)
	return p
}

// Stop ends Hydra: the provider is down.
func (p *Provider) Stop() { p.proc.Stop() }

// Client registers an OAuth 2.0 client, confidential when secret is not empty, allowed the
// scopes strata asks for and refresh tokens.
func (p *Provider) Client(id, secret string, redirects, postLogout []string) {
	p.t.Helper()
	c := map[string]any{"client_id": id, "grant_types": []string{"authorization_code", "refresh_token"},
		"response_types": []string{"code"}, "scope": "openid profile email groups offline_access",
		"redirect_uris": redirects, "post_logout_redirect_uris": postLogout, "audience": []string{id}}
	if secret != "" {
		c["client_secret"], c["token_endpoint_auth_method"] = secret, "client_secret_basic"
	} else {
		c["token_endpoint_auth_method"] = "none"
	}
	if err := p.admin(http.MethodPost, "/admin/clients", c, nil); err != nil {
		p.t.Fatalf("hydra: create client %s: %v", id, err)
	}
}

// RotateKeys gives Hydra a new key to sign ID tokens with: the next tokens name a key id that
// a relying party has not seen, and must fetch the provider's keys again to verify them.
func (p *Provider) RotateKeys() {
	p.t.Helper()
	if err := p.admin(http.MethodPost, "/admin/keys/hydra.openid.id-token", map[string]any{"alg": "RS256", "use": "sig", "kid": "rotated-" + testenv.RandomHex(p.t, 4)}, nil); err != nil {
		p.t.Fatalf("hydra: rotate the ID token's keys: %v", err)
	}
}

// admin calls Hydra's admin API.
func (p *Provider) admin(method, path string, body, answer any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(method, p.Admin+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if body == nil {
		req.Body = http.NoBody
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, data)
	}
	if answer != nil {
		return json.Unmarshal(data, answer)
	}
	return nil
}

var formTmpl = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html><head><title>Test provider login</title></head><body>
<h1>Sign in to the test provider</h1>
{{if .Error}}<p id="error">{{.Error}}</p>{{end}}
<form method="post" action="/login">
<input type="hidden" name="login_challenge" value="{{.Challenge}}">
<label>User <input id="user" name="user"></label>
<label>Password <input id="password" type="password" name="password"></label>
<button id="submit" type="submit">Sign in</button>
</form></body></html>
`))

// startApp serves the login, consent and logout pages Hydra sends browsers to.
func (p *Provider) startApp(t testing.TB) string {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		_ = formTmpl.Execute(w, map[string]string{"Challenge": r.FormValue("login_challenge")})
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		challenge := r.FormValue("login_challenge")
		u, ok := p.users[r.FormValue("user")]
		if !ok || u.Password != r.FormValue("password") {
			w.WriteHeader(http.StatusUnauthorized)
			_ = formTmpl.Execute(w, map[string]string{"Challenge": challenge, "Error": "wrong user or password"})
			return
		}
		var to struct {
			RedirectTo string `json:"redirect_to"`
		}
		if err := p.admin(http.MethodPut, "/admin/oauth2/auth/requests/login/accept?"+url.Values{"login_challenge": {challenge}}.Encode(),
			map[string]any{"subject": u.Name, "remember": false}, &to); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		http.Redirect(w, r, to.RedirectTo, http.StatusFound)
	})
	mux.HandleFunc("GET /consent", func(w http.ResponseWriter, r *http.Request) {
		q := url.Values{"consent_challenge": {r.FormValue("consent_challenge")}}.Encode()
		var req struct {
			Subject  string   `json:"subject"`
			Scope    []string `json:"requested_scope"`
			Audience []string `json:"requested_access_token_audience"`
		}
		if err := p.admin(http.MethodGet, "/admin/oauth2/auth/requests/consent?"+q, nil, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		u := p.users[req.Subject]
		claims := map[string]any{"email": u.Email, "groups": u.Groups}
		var to struct {
			RedirectTo string `json:"redirect_to"`
		}
		if err := p.admin(http.MethodPut, "/admin/oauth2/auth/requests/consent/accept?"+q, map[string]any{
			"grant_scope": req.Scope, "grant_access_token_audience": req.Audience, "remember": false,
			"session": map[string]any{"id_token": claims, "access_token": claims}}, &to); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		http.Redirect(w, r, to.RedirectTo, http.StatusFound)
	})
	mux.HandleFunc("GET /logout", func(w http.ResponseWriter, r *http.Request) {
		var to struct {
			RedirectTo string `json:"redirect_to"`
		}
		if err := p.admin(http.MethodPut, "/admin/oauth2/auth/requests/logout/accept?"+url.Values{"logout_challenge": {r.FormValue("logout_challenge")}}.Encode(),
			nil, &to); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		http.Redirect(w, r, to.RedirectTo, http.StatusFound)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// Login goes through a login as a browser without JavaScript would, with c (which must keep
// cookies): from start (strata's /auth/login) to the provider's login form, which it fills
// with user and password, and on through the redirects until c stops following them. It
// returns the last response, its body read.
func (p *Provider) Login(c *http.Client, start, user, password string) (*http.Response, []byte, error) {
	resp, body, err := get(c, start)
	if err != nil {
		return resp, body, err
	}
	challenge := resp.Request.URL.Query().Get("login_challenge")
	if challenge == "" || resp.StatusCode != http.StatusOK {
		return resp, body, fmt.Errorf("%s did not lead to the provider's login form (at %s: %s)", start, resp.Request.URL.Redacted(), resp.Status)
	}
	form := url.Values{"login_challenge": {challenge}, "user": {user}, "password": {password}}
	u := *resp.Request.URL
	u.RawQuery = ""
	resp, err = c.PostForm(u.String(), form)
	if err != nil {
		return resp, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp, body, err
}

func get(c *http.Client, u string) (*http.Response, []byte, error) {
	resp, err := c.Get(u)
	if err != nil {
		return resp, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp, body, err
}
