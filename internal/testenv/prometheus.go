package testenv

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Prometheus says how StartPrometheus runs a real Prometheus.
type Prometheus struct {
	// Config is prometheus.yml; "" is a global section alone (a 15 s scrape interval, nothing
	// scraped).
	Config string
	// Args are more flags.
	Args []string
	// Blocks, when set, is a directory of TSDB blocks copied into the data directory before
	// the start (promtool tsdb create-blocks-from's output).
	Blocks string
	// User, when set, is required of every request as basic auth (a web configuration of
	// Prometheus's own, the password stored as bcrypt); the base URL holds it.
	User *url.Userinfo
}

// StartPrometheus runs Prometheus as p says until the test ends, with a data directory of its
// own, on a free port of 127.0.0.1, logging at warn; it returns the base URL once /-/ready
// answers 200 (the blocks loaded). Prometheus's output is logged when the test has failed.
func StartPrometheus(t testing.TB, p Prometheus) string {
	t.Helper()
	bin := Command(t, "prometheus")
	dir := t.TempDir()
	config, data := filepath.Join(dir, "prometheus.yml"), filepath.Join(dir, "data")
	if p.Config == "" {
		p.Config = "global:\n  scrape_interval: 15s\n"
	}
	if err := os.WriteFile(config, []byte(p.Config), 0o644); err != nil {
		t.Fatal(err)
	}
	if p.Blocks != "" {
		if err := os.CopyFS(data, os.DirFS(p.Blocks)); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"--config.file=" + config, "--storage.tsdb.path=" + data, "--log.level=warn"}
	if p.User != nil {
		password, _ := p.User.Password()
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		web := filepath.Join(dir, "web.yml")
		if err := os.WriteFile(web, []byte(fmt.Sprintf("basic_auth_users:\n  %s: %s\n", p.User.Username(), hash)), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--web.config.file="+web)
	}
	addr := FreeAddr(t)
	proc := StartProcess(t, bin, append(append(args, "--web.listen-address="+addr), p.Args...)...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("prometheus's output:\n%s", proc.Log())
		}
	})
	base := (&url.URL{Scheme: "http", Host: addr, User: p.User}).String()
	WaitHTTP(t, base+"/-/ready", http.StatusOK, proc)
	return base
}
