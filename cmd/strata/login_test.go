package main

import (
	"bufio"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/oidctest"
	"github.com/strata-obs/strata/internal/testenv"
)

// TestLogin: strata login against a strata serve whose people log in through a real OpenID
// Connect provider (Ory Hydra): the person logs in in a browser (here a client that fills the
// provider's form), the CLI keeps the token with mode 0600, and strata query sends it and gets
// the person's role's view: payments' service, not bank's.
func TestLogin(t *testing.T) {
	idp := oidctest.Start(t, oidctest.Options{Users: []oidctest.User{
		{Name: "alice", Password: "alice-pw", Email: "alice@example.org", Groups: []string{"payments"}}}})
	addr := testenv.FreeAddr(t)
	base := "http://" + addr
	idp.Client("strata", "strata-secret", []string{base + "/auth/callback"}, []string{base + "/auth/login"})
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("inventory.yml", `hosts: [{name: shared, addresses: [10.9.0.1]}]
lbs:
  - name: edge
    provider: haproxy
    services:
      - {name: pay, labels: {team: payments}, instances: [{name: p0, address: "10.9.0.1:8080"}]}
      - {name: bank, labels: {team: bank}, instances: [{name: b0, address: "10.9.0.1:9090"}]}
`)
	write("secret", "strata-secret\n")
	cfg := write("strata.yml", `sources: [{type: inventory, name: inventory, file: inventory.yml}]
auth:
  oidc: {issuer_url: '`+idp.Issuer+`', client_id: strata, client_secret_file: secret, redirect_url: '`+base+`/auth/callback'}
  roles: [{name: payments, groups: [payments], scope: ['team="payments"']}]
`)
	srv := startUp(t, "serve", "--config.file="+cfg, "--web.listen-address="+addr, "--storage.path="+filepath.Join(dir, "data"), "--log.level=warn")
	if _, err := testenv.TryWaitHTTP(base+"/-/ready", http.StatusOK, 60*time.Second, srv.running); err != nil {
		t.Fatalf("strata serve: %v\n%s", err, srv.log)
	}

	config := filepath.Join(dir, "config")
	login := strataCommand(t, "login", "--server", base, "--no-browser")
	login.Env = append(login.Env, "XDG_CONFIG_HOME="+config)
	stderr, err := login.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	login.Stdout = &stdout
	if err := login.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- login.Wait() }()
	// The address to open, as the person reads it.
	start := ""
	lines := bufio.NewScanner(stderr)
	for start == "" && lines.Scan() {
		if m := regexp.MustCompile(`^\s+(http://\S+/auth/login\?\S+)$`).FindStringSubmatch(lines.Text()); m != nil {
			start = m[1]
		}
	}
	if start == "" {
		t.Fatalf("strata login printed no address to open")
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	jar, _ := cookiejar.New(nil)
	resp, body, err := idp.Login(&http.Client{Jar: jar, Timeout: 30 * time.Second}, start, "alice", "alice-pw")
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "back to the terminal") {
		t.Fatalf("the login in the browser: %v %v\n%s", resp.Status, err, body)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("strata login: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("strata login did not end after the browser's login")
	}
	if !strings.Contains(stdout.String(), "as alice@example.org (role payments)") {
		t.Errorf("strata login said %q", stdout.String())
	}
	file := filepath.Join(config, "strata", "token")
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the kept token: %v %v, want mode 0600", fi, err)
	}

	// strata query sends it, and reads what payments may see.
	query := strataCommand(t, "query", "--server", base, "service")
	query.Env = append(query.Env, "XDG_CONFIG_HOME="+config, "STRATA_TOKEN=")
	out, err := query.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "pay") || strings.Contains(string(out), "bank") {
		t.Errorf("strata query with the kept token: %v\n%s", err, out)
	}
	// Without it: refused.
	query = strataCommand(t, "query", "--server", base, "service")
	query.Env = append(query.Env, "XDG_CONFIG_HOME="+t.TempDir(), "STRATA_TOKEN=")
	if out, err := query.CombinedOutput(); err == nil || strings.Contains(string(out), "pay") {
		t.Errorf("strata query without a token: %v\n%s", err, out)
	}
}
