package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRuleErrorsKeepFileContentOut: a rule file that does not load is named with the line of
// the problem, never with what the file holds: a glob that reached a password file must not
// put the password in the log or in /-/reload's answer.
func TestRuleErrorsKeepFileContentOut(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"shadow.yml": "root:$6$hunter2hunter2:19000:0:99999:7:::\n",
		"creds.yml":  "groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: up{password=\"hunter2\"} ==\n",
		"token.yml":  "groups: hunter2token\n",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		err := loadRules([]string{path})
		if err == nil {
			t.Errorf("%s loaded", name)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows the file's content: %v", name, err)
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("%s: the error does not name the file: %v", name, err)
		}
	}
}
