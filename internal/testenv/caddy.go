package testenv

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// Caddy is a real Caddy the test started (`caddy run` on a JSON configuration).
type Caddy struct {
	Dir     string // caddy.json, its storage, and its HOME and XDG directories
	Admin   string // the admin API's host:port on 127.0.0.1
	Process *Process
}

// StartCaddy runs Caddy until the test ends with servers as its http app's servers (name →
// server object of Caddy's JSON config), and returns once the admin API answers GET /config/.
// The rest of the configuration is StartCaddy's: the admin API on a free port of 127.0.0.1
// without persisting the config, storage in Dir, logs at WARN, and automatic HTTPS disabled
// on each server that does not set automatic_https itself (a host matcher would turn it on, and
// Caddy would serve TLS and ask an ACME CA for a certificate). HOME and the XDG directories are
// in Dir, so that Caddy writes nothing outside it. Caddy's output is logged when the test has
// failed. The admin API answers before the servers listen.
func StartCaddy(t testing.TB, servers map[string]any) *Caddy {
	t.Helper()
	bin := Command(t, "caddy")
	c := &Caddy{Dir: t.TempDir(), Admin: FreeAddr(t)}
	for _, s := range servers {
		if srv, ok := s.(map[string]any); ok {
			if _, set := srv["automatic_https"]; !set {
				srv["automatic_https"] = map[string]any{"disable": true}
			}
		}
	}
	config := map[string]any{
		"admin":   map[string]any{"listen": c.Admin, "config": map[string]any{"persist": false}},
		"storage": map[string]any{"module": "file_system", "root": filepath.Join(c.Dir, "storage")},
		"logging": map[string]any{"logs": map[string]any{"default": map[string]any{"level": "WARN"}}},
		"apps":    map[string]any{"http": map[string]any{"servers": servers}},
	}
	b, err := json.MarshalIndent(config, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(c.Dir, "caddy.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	// env(1) sets Caddy's environment: StartProcess runs the program as given.
	c.Process = StartProcess(t, "env", "HOME="+c.Dir, "XDG_DATA_HOME="+filepath.Join(c.Dir, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(c.Dir, "config"), bin, "run", "--config", file)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("caddy's output:\n%s", c.Process.Log())
		}
	})
	WaitHTTP(t, "http://"+c.Admin+"/config/", http.StatusOK, c.Process)
	return c
}
