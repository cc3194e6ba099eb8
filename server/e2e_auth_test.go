package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/server"
	"github.com/strata-obs/strata/topology/auth"
	"github.com/strata-obs/strata/topology/config"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/inventory"
)

// twoTeamsInventory: payments' service pay and bank's service bank behind LB edge, their
// instances on one shared host; bank alone behind LB vault, on a host of its own.
const twoTeamsInventory = `hosts:
  - {name: shared, addresses: [10.9.0.1]}
  - {name: vaulthost, addresses: [10.9.0.2]}
lbs:
  - name: edge
    provider: haproxy
    services:
      - {name: pay, labels: {team: payments}, instances: [{name: p0, address: "10.9.0.1:8080"}]}
      - {name: bank, labels: {team: bank}, instances: [{name: b0, address: "10.9.0.1:9090"}]}
  - name: vault
    provider: haproxy
    services:
      - {name: bankvault, labels: {team: bank}, instances: [{name: v0, address: "10.9.0.2:9090"}]}
`

// TestAccessControl: with auth on, a request without a valid token reads nothing; a scoped
// role (payments) sees its service down to the shared host, and of bank's nothing, answered as
// if it did not exist, through the path language, the graph, entity and sources APIs and the
// UI; what a scope does not narrow (PromQL, /metrics) is an admin's; each read is audited.
func TestAccessControl(t *testing.T) {
	dir := t.TempDir()
	invFile := filepath.Join(dir, "inventory.yml")
	if err := os.WriteFile(invFile, []byte(twoTeamsInventory), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.New("inventory", invFile, 0)
	if err != nil {
		t.Fatal(err)
	}
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	tokens, err := auth.ParseTokens("tokens.yml", []byte("tokens:\n  - {name: root, sha256: "+sum("root-secret")+"}\n  - {name: payments-ci, sha256: "+sum("pay-secret")+"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	scope, err := auth.ParseScope([]string{`team="payments"`})
	if err != nil {
		t.Fatal(err)
	}
	authn, err := auth.NewAuthenticator(&auth.Config{Roles: []auth.Role{{Name: "admin", Tokens: []string{"root"}, Admin: true},
		{Name: "payments", Tokens: []string{"payments-ci"}, Scope: scope}}}, tokens, nil)
	if err != nil {
		t.Fatal(err)
	}
	var log testenv.LockedBuffer
	auditFile := filepath.Join(dir, "audit.log")
	a := startAppWith(t, server.Options{RefreshInterval: time.Second, LBSources: []source.LoadBalancers{inv}, FactSources: []source.Facts{inv}, Auth: authn,
		AuditFile: auditFile, EnablePprof: true}, slog.New(slog.NewJSONHandler(&log, nil)))

	get := func(path, token, accept string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, a.base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	rows := func(token, q string) [][]string {
		t.Helper()
		code, body := get("/api/v1/topology/query?"+url.Values{"q": {q}}.Encode(), token, "")
		var r struct{ Data struct{ Rows [][]string } }
		if code != http.StatusOK || json.Unmarshal([]byte(body), &r) != nil {
			t.Fatalf("%s: %d %s", q, code, body)
		}
		return r.Data.Rows
	}
	testenv.Eventually(t, pollTimeout, "the graph with both teams", func() error {
		if n := len(rows("root-secret", "instance")); n != 3 {
			return fmt.Errorf("%d instances", n)
		}
		return nil
	})

	// No token, a wrong one, a token in no role: 401, and nothing else.
	for _, token := range []string{"", "wrong", "root-secretx"} {
		if code, body := get("/api/v1/topology/query?q=instance", token, ""); code != http.StatusUnauthorized || !strings.Contains(body, `"errorType":"unauthorized"`) || strings.Contains(body, "edge") {
			t.Errorf("token %q: %d %s", token, code, body)
		}
	}
	// A browser without a session is sent to the login, and back after it.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	browse := func(method, path string, form url.Values, cookie *http.Cookie) *http.Response {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, a.base+path, body)
		req.Header.Set("Accept", "text/html")
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := browse("GET", "/lbs?time=x", nil, nil); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/auth/login?next=%2Flbs%3Ftime%3Dx" {
		t.Errorf("a browser without a session: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if code, body := get("/auth/login", "", "text/html"); code != http.StatusOK || !strings.Contains(body, `name="token"`) {
		t.Errorf("the login page: %d %.300s", code, body)
	}
	if resp := browse("POST", "/auth/login", url.Values{"token": {"wrong"}, "next": {"/lbs"}}, nil); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("a wrong token at the login: %d %v", resp.StatusCode, resp.Cookies())
	}
	var session *http.Cookie
	for next, want := range map[string]string{"/lbs": "/lbs", "//evil.example/x": "/", "https://evil.example/": "/", "/\\evil.example": "/"} {
		resp := browse("POST", "/auth/login", url.Values{"token": {"pay-secret"}, "next": {next}}, nil)
		cookies := resp.Cookies()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want || len(cookies) != 1 || !cookies[0].HttpOnly ||
			cookies[0].SameSite != http.SameSiteLaxMode || strings.Contains(cookies[0].Value, "pay-secret") {
			t.Fatalf("login with next=%q: %d to %q, cookies %v", next, resp.StatusCode, resp.Header.Get("Location"), cookies)
		}
		session = cookies[0]
	}
	if resp := browse("GET", "/lbs", nil, session); resp.StatusCode != http.StatusOK {
		t.Errorf("the LBs with the session: %d", resp.StatusCode)
	}
	tampered := *session
	tampered.Value = strings.Replace(tampered.Value, tampered.Value[:2], "cm9vdA", 1) // another token's name, the signature kept
	if resp := browse("GET", "/lbs", nil, &tampered); resp.StatusCode != http.StatusFound {
		t.Errorf("a tampered session: %d, want the login", resp.StatusCode)
	}
	// A form another site makes the browser post is refused (login CSRF, a forced logout).
	for _, path := range []string{"/auth/login", "/auth/logout"} {
		req, _ := http.NewRequest(http.MethodPost, a.base+path, strings.NewReader(url.Values{"token": {"pay-secret"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		req.AddCookie(session)
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
			t.Errorf("%s posted from another site: %d %v", path, resp.StatusCode, resp.Cookies())
		}
	}
	if resp := browse("POST", "/auth/logout", url.Values{}, session); resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
		t.Errorf("logout: %d %v", resp.StatusCode, resp.Cookies())
	}
	if code, _ := get("/-/healthy", "", ""); code != http.StatusOK {
		t.Errorf("/-/healthy without a token: %d", code)
	}

	// payments: its own, down to the shared host; nothing of bank's.
	got := rows("pay-secret", "lb -> instance -> host")
	if len(got) != 1 || got[0][1] != "shared" {
		t.Errorf("payments' hosts: %q, want the shared one", got)
	}
	for _, q := range []string{`service{name="bank"}`, `lb{name="vault"}`, `instance{name="b0"}`, `host{name="vaulthost"}`, `host{name="shared"} <- container`,
		`lb -> service`} {
		for _, r := range rows("pay-secret", q) {
			if slices.ContainsFunc(r, func(c string) bool { return strings.Contains(c, "bank") || strings.Contains(c, "vault") || c == "b0" }) {
				t.Errorf("payments' %s answers %q", q, r)
			}
		}
	}
	if n := len(rows("root-secret", `lb -> service`)); n != 3 {
		t.Errorf("the admin sees %d services, want 3", n)
	}
	// A bank entity answers as a name nothing has.
	bankCode, bankBody := get("/api/v1/topology/entity/instance/edge/bank/b0", "pay-secret", "")
	noneCode, noneBody := get("/api/v1/topology/entity/instance/edge/nothing/x0", "pay-secret", "")
	if bankCode != noneCode || strings.ReplaceAll(bankBody, "edge/bank/b0", "X") != strings.ReplaceAll(noneBody, "edge/nothing/x0", "X") {
		t.Errorf("bank's instance: %d %s; a missing one: %d %s", bankCode, bankBody, noneCode, noneBody)
	}
	if _, body := get("/api/v1/topology/graph", "pay-secret", ""); strings.Contains(body, "bank") || strings.Contains(body, "vault") || !strings.Contains(body, "edge/pay/p0") {
		t.Errorf("payments' graph: %.500s", body)
	}
	if _, body := get("/api/v1/topology/sources", "pay-secret", ""); strings.Contains(body, "inventory") {
		t.Errorf("payments sees the sources: %s", body)
	}
	// The UI: the LBs, a search, bank's LB's page.
	for _, page := range []string{"/", "/lbs", "/search?q=bank", "/search?q=10.9.0", "/fleet", "/patch", "/changes", "/search?q=bakn"} {
		code, body := get(page, "pay-secret", "text/html")
		if code >= 500 || slices.ContainsFunc([]string{"edge/bank", "bankvault", "vaulthost", "haproxy/vault", "10.9.0.2"}, func(s string) bool { return strings.Contains(body, s) }) {
			t.Errorf("payments' %s: %d names bank's", page, code)
		}
	}
	if _, body := get("/", "pay-secret", "text/html"); !strings.Contains(body, `payments-ci <span class="kind">(payments)</span>`) || !strings.Contains(body, `action="/auth/logout"`) {
		t.Error("the UI's header does not say who is signed in, with a log out")
	}
	if code, _ := get("/lb/haproxy/vault", "pay-secret", "text/html"); code != http.StatusNotFound {
		t.Errorf("bank's LB's page for payments: %d, want 404 as for any LB that does not exist", code)
	}
	// Series: payments reads those that name its entities alone; one that names none is left
	// out with a warning; /metrics is an admin's.
	for _, c := range []struct{ path, want, lacks string }{
		{"/api/v1/query?query=strata_topology_instance_info", `"service":"pay"`, `"bank"`},
		{"/api/v1/query?query=count(strata_topology_service_info)", `"value":[`, `"bank"`},
		{"/api/v1/series?match[]=strata_topology_service_info", `"service":"pay"`, `"bank"`},
		{"/api/v1/label/service/values", `["pay"]`, `"bank"`},
		{"/api/v1/label/lb/values", `["edge"]`, `"vault"`},
		{"/api/v1/query?query=strata_topology_source_up", `series that carry none of the labels`, `"source"`},
	} {
		code, body := get(c.path, "pay-secret", "")
		if code != http.StatusOK || !strings.Contains(body, c.want) || strings.Contains(body, c.lacks) {
			t.Errorf("payments' %s: %d %s", c.path, code, body)
		}
	}
	if _, body := get("/api/v1/query?query=count(strata_topology_service_info)", "pay-secret", ""); !strings.Contains(body, `"1"]`) {
		t.Errorf("payments counts services: %s, want 1", body)
	}
	if _, body := get("/api/v1/query?query=count(strata_topology_service_info)", "root-secret", ""); !strings.Contains(body, `"3"]`) {
		t.Errorf("the admin counts services: %s, want 3", body)
	}
	if code, _ := get("/metrics", "pay-secret", ""); code != http.StatusForbidden {
		t.Errorf("payments' /metrics: %d, want 403", code)
	}
	// Go's profiles (--web.enable-pprof) are an admin's too, and nobody's without a token.
	// So is what strata scrapes.
	for token, want := range map[string]int{"pay-secret": http.StatusForbidden, "": http.StatusUnauthorized, "root-secret": http.StatusOK} {
		if code, body := get("/debug/pprof/heap?debug=1", token, ""); code != want || (want == http.StatusOK) != strings.Contains(body, "heap profile") {
			t.Errorf("token %q, /debug/pprof/heap: %d %.80s, want %d", token, code, body, want)
		}
		for _, path := range []string{"/api/v1/targets", "/api/v1/metadata"} {
			if code, body := get(path, token, ""); code != want || (want == http.StatusOK) != strings.Contains(body, `"status":"success"`) {
				t.Errorf("token %q, %s: %d %.80s, want %d", token, path, code, body, want)
			}
		}
	}
	if code, _ := get("/metrics", "root-secret", ""); code != http.StatusOK {
		t.Errorf("the admin's /metrics: %d", code)
	}
	// The UI's PromQL page, through the same filter (once a sample is older than the page's
	// now, which it draws up to, truncated to the second).
	time.Sleep(1500 * time.Millisecond)
	if _, body := get("/promql?expr=strata_topology_service_info", "pay-secret", "text/html"); !strings.Contains(body, "pay") || strings.Contains(body, "service=&#34;bank") {
		i := strings.Index(body, "<main>")
		t.Errorf("payments' PromQL page: %.1500s", body[max(i, 0):])
	}
	// whoami: the identity as the server sees it.
	if _, body := get("/api/v1/auth/whoami", "pay-secret", ""); !strings.Contains(body, `"user":"payments-ci"`) || !strings.Contains(body, `"role":"payments"`) ||
		!strings.Contains(body, `"scope":["team=\"payments\""]`) {
		t.Errorf("whoami: %s", body)
	}
	// A plan's check, of payments' host and two it does not see (bank's, and one that does not
	// exist), is audited with every host it asks about.
	if code, body := get("/api/v1/topology/plan?check=shared,vaulthost&check=nowhere", "pay-secret", ""); code != http.StatusOK || !strings.Contains(body, `"hosts":["shared"]`) {
		t.Errorf("payments' check: %d %s", code, body)
	}
	// Every read is audited, in --audit.file: who, role, endpoint, query, rows.
	audit, err := os.ReadFile(auditFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), `"msg":"audit"`) {
		t.Error("audit lines in the log, with --audit.file set")
	}
	if fi, err := os.Stat(auditFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the audit file's mode: %v %v", fi.Mode(), err)
	}
	for _, line := range []string{
		`"endpoint":"/api/v1/topology/query","query":"lb -> instance -> host","rows":1,`,
		`"endpoint":"/api/v1/topology/plan","query":"shared,vaulthost,nowhere","rows":1,`,
	} {
		if strings.Contains(string(audit), `"msg":"audit","user":"payments-ci","role":"payments",`+line) {
			continue
		}
		var lines []string
		for _, l := range strings.Split(string(audit), "\n") {
			if strings.Contains(l, "payments-ci") {
				lines = append(lines, l)
			}
		}
		t.Errorf("no audit line for payments' %s in:\n%.2000s", line, strings.Join(lines, "\n"))
	}
	if all := log.String() + string(audit); strings.Contains(all, "pay-secret") || strings.Contains(all, "root-secret") {
		t.Error("a token is in the log")
	}
}

// TestBuildAuth: the file's auth block with its tokens file; a role naming a token the file
// lacks, a tokens file that is not there, and OpenID Connect (not in this strata yet) are each
// refused at start with what is wrong.
func TestBuildAuth(t *testing.T) {
	dir := t.TempDir()
	tokensFile := filepath.Join(dir, "tokens.yml")
	if err := os.WriteFile(tokensFile, []byte("tokens:\n  - {name: ci, sha256: "+strings.Repeat("ab", 32)+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	build := func(yml string) (*auth.Authenticator, error) {
		cfg, err := config.Parse(filepath.Join(dir, "strata.yml"), []byte(yml), server.Providers())
		if err != nil {
			return nil, err
		}
		return server.BuildAuth(cfg)
	}
	if a, err := build("auth:\n  tokens_file: tokens.yml\n  roles: [{name: ci, tokens: [ci], scope: ['team=\"x\"']}]\n"); err != nil || a == nil {
		t.Errorf("a good auth block: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "empty"), []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The provider is not asked at start: strata starts while it is down.
	a, err := build("auth:\n  oidc: {issuer_url: 'http://127.0.0.1:1/', client_id: s, redirect_url: 'https://s/auth/callback', client_secret_file: secret}\n  roles: [{name: a, groups: [x], admin: true}]\n")
	if err != nil || a == nil || a.OIDC() == nil || a.OIDC().PostLogoutURL() != "https://s/auth/login" {
		t.Errorf("an oidc block: %v", err)
	}
	if a, err := build("sources: []\n"); err != nil || a != nil {
		t.Errorf("no auth block: %v %v, want none", a, err)
	}
	for _, c := range []struct{ yml, want string }{
		{"auth:\n  tokens_file: tokens.yml\n  roles: [{name: ci, tokens: [gone], admin: true}]\n", `holds token "gone"`},
		{"auth:\n  tokens_file: missing.yml\n  roles: [{name: ci, admin: true}]\n", "auth.tokens_file: read tokens"},
		{"auth:\n  oidc: {issuer_url: 'https://idp.example/', client_id: s, redirect_url: 'https://s/cb', client_secret_file: gone}\n  roles: [{name: a, groups: [x], admin: true}]\n", "auth.oidc.client_secret_file:"},
		{"auth:\n  oidc: {issuer_url: 'https://idp.example/', client_id: s, redirect_url: 'https://s/cb', client_secret_file: empty}\n  roles: [{name: a, groups: [x], admin: true}]\n", "auth.oidc.client_secret_file: the file is empty"},
		{"auth:\n  tokens_file: tokens.yml\n  roles: [{name: a, groups: [sre], admin: true}]\n", "groups come from an OpenID Connect provider"},
	} {
		if _, err := build(c.yml); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.yml, err, c.want)
		}
	}
}

// TestPprof: Go's profiles are served with --web.enable-pprof only, and never the command
// line, which may hold a secret.
func TestPprof(t *testing.T) {
	get := func(base, path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	off := startApp(t, server.Options{RefreshInterval: time.Hour})
	if code, body := get(off.base, "/debug/pprof/goroutine?debug=1"); code != http.StatusNotFound || strings.Contains(body, "goroutine profile") {
		t.Errorf("without --web.enable-pprof: %d %.80s, want 404", code, body)
	}
	on := startApp(t, server.Options{RefreshInterval: time.Hour, EnablePprof: true})
	for path, holds := range map[string]string{"/debug/pprof/": "Types of profiles available", "/debug/pprof/goroutine?debug=1": "goroutine profile",
		"/debug/pprof/heap?debug=1": "heap profile", "/debug/pprof/profile?seconds=1": ""} {
		if code, body := get(on.base, path); code != http.StatusOK || !strings.Contains(body, holds) {
			t.Errorf("%s: %d %.80s, want 200 with %q", path, code, body, holds)
		}
	}
	if code, body := get(on.base, "/debug/pprof/cmdline"); code != http.StatusNotFound || strings.Contains(body, "strata") || strings.Contains(body, os.Args[0]) {
		t.Errorf("/debug/pprof/cmdline: %d %.80s, want 404 and no command line", code, body)
	}
}
