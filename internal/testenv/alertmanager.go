package testenv

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// StartAlertmanager runs Debian's Alertmanager until the test ends, alone (no cluster), on a
// free port of 127.0.0.1, with a route that keeps every alert and notifies no one; it returns
// the base URL once /-/ready answers 200. Its output is logged when the test has failed.
func StartAlertmanager(t testing.TB) string {
	t.Helper()
	bin := Command(t, "prometheus-alertmanager")
	dir := t.TempDir()
	config := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(config, []byte("route:\n  receiver: none\n  group_wait: 1s\nreceivers:\n  - name: none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := FreeAddr(t)
	proc := StartProcess(t, bin, "--config.file="+config, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("alertmanager's output:\n%s", proc.Log())
		}
	})
	base := "http://" + addr
	WaitHTTP(t, base+"/-/ready", http.StatusOK, proc)
	return base
}
