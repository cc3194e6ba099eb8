package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestClientToken: strata query sends $STRATA_TOKEN, else --token-file's token, else the one
// strata login keeps under the user's config directory, else none; a --token-file that cannot
// be read is an error, never a request without the token.
func TestClientToken(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":{"columns":["kind","id"],"rows":[]}}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "ci-token")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(dir, "config", "strata", "token")
	null, _ := os.Open(os.DevNull)
	defer null.Close()
	for _, c := range []struct {
		name, env, tokenFile string
		login                bool
		want                 string
		code                 int
	}{
		{"none", "", "", false, "", 0},
		{"the login's", "", "", true, "Bearer from-login", 0},
		{"--token-file", "", file, true, "Bearer from-file", 0},
		{"$STRATA_TOKEN", "from-env", file, true, "Bearer from-env", 0},
		{"a --token-file not there", "", filepath.Join(dir, "missing"), false, "", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			got = ""
			t.Setenv("STRATA_TOKEN", c.env)
			t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
			os.RemoveAll(filepath.Dir(kept))
			if c.login {
				if err := os.MkdirAll(filepath.Dir(kept), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(kept, []byte("from-login"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			code := runQuery(client{server: srv.URL, tokenFile: c.tokenFile, output: "json", timeout: 5 * time.Second}, "lb", null, null)
			if code != c.code || got != c.want {
				t.Errorf("exit %d sending %q, want %d and %q", code, got, c.code, c.want)
			}
		})
	}
}
