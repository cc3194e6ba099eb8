package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/testenv"
)

// get is a GET's status and body (at most 1 MiB).
func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

// post is a POST's status and body.
func post(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Post(u, "", nil)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

// metric is the value of a series of /metrics without labels, as text ("" when absent).
func metric(t *testing.T, base, name string) string {
	t.Helper()
	_, body := get(t, base+"/metrics")
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestReload: strata serve reads its configuration again at SIGHUP and at POST /-/reload
// (with --web.enable-lifecycle): a source added joins the graph, one removed leaves it; a file
// that does not parse, a rule file that does not load and a change only a restart applies are
// refused, saying why, with strata_config_last_reload_successful 0, and the running
// configuration goes on.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	one := writeFile(t, dir, "one.yml", fleetInventory(2, 1))
	two := writeFile(t, dir, "two.yml", strings.ReplaceAll(strings.ReplaceAll(fleetInventory(2, 1), "lb-000", "lb-two"), "node-0", "node-2"))
	file := filepath.Join(dir, "strata.yml")
	write := func(content string) {
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(inventoryConfig(one) + "rule_files: []\n")
	addr := testenv.FreeAddr(t)
	base := "http://" + addr
	p := startUp(t, "serve", "--config.file="+file, "--storage.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr,
		"--web.enable-lifecycle", "--topology.refresh-interval=1s", "--log.level=info")
	lbs := func() string {
		_, body := get(t, base+"/api/v1/topology/query?q="+url.QueryEscape("lb"))
		return body
	}
	waitLBs := func(what string, want, not string) {
		t.Helper()
		testenv.Eventually(t, 60*time.Second, what, func() error {
			if err := p.running(); err != nil {
				t.Fatalf("%v\n%s", err, p.log)
			}
			if got := lbs(); !strings.Contains(got, want) || (not != "" && strings.Contains(got, not)) {
				return fmt.Errorf("lbs: %.300s", got)
			}
			return nil
		})
	}
	waitLBs("the first inventory's LB", "lb-000", "lb-two")

	// SIGHUP: the second inventory joins.
	write(inventoryConfig(one, two) + "rule_files: []\n")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLBs("the second inventory's LB after SIGHUP", "lb-two", "")
	if v := metric(t, base, "strata_config_last_reload_successful"); v != "1" {
		t.Errorf("strata_config_last_reload_successful %q after a good reload", v)
	}
	at := metric(t, base, "strata_config_last_reload_success_timestamp_seconds")

	// Refused, each saying why; the graph keeps both LBs.
	badRules := writeFile(t, dir, "bad.rules.yml", "groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: up ==\n")
	for _, c := range []struct{ what, file, want string }{
		{"a file that does not parse", inventoryConfig(one, two) + "rule_files: []\nsourcez: []\n", `strata.yml:9: unknown field "sourcez"`},
		{"a rule file that does not load", inventoryConfig(one, two) + "rule_files: [" + badRules + "]\n", "bad.rules.yml"},
		{"a change only a restart applies", inventoryConfig(one, two) + "rule_files: []\ntopology: {refresh_interval: 5s}\n", "topology changed: strata applies it at a restart"},
	} {
		write(c.file)
		code, body := post(t, base+"/-/reload")
		if code != http.StatusInternalServerError || !strings.Contains(body, c.want) {
			t.Errorf("reload with %s: %d %q, want 500 saying %q", c.what, code, body, c.want)
		}
		if v := metric(t, base, "strata_config_last_reload_successful"); v != "0" {
			t.Errorf("strata_config_last_reload_successful %q after %s", v, c.what)
		}
		if v := metric(t, base, "strata_config_last_reload_success_timestamp_seconds"); v != at {
			t.Errorf("the last success's time moved from %s to %s on %s", at, v, c.what)
		}
	}
	time.Sleep(2 * time.Second) // two refreshes on the running configuration
	if got := lbs(); !strings.Contains(got, "lb-000") || !strings.Contains(got, "lb-two") {
		t.Errorf("after refused reloads the graph lost a source's LB: %.300s", got)
	}

	// POST /-/reload: the first inventory removed, its LB leaves.
	write(inventoryConfig(two) + "rule_files: []\n")
	if code, body := post(t, base+"/-/reload"); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, body)
	}
	waitLBs("the first inventory's LB gone", "lb-two", "lb-000")
	if v := metric(t, base, "strata_config_last_reload_successful"); v != "1" {
		t.Errorf("strata_config_last_reload_successful %q after a good reload", v)
	}
	if !strings.Contains(p.log.String(), "configuration reload refused") {
		t.Errorf("the log says nothing of the refused reloads:\n%s", p.log)
	}

	// A source whose socket does not exist is no bad file: the reload takes, and the source is
	// down, saying why, beside the others.
	gone := filepath.Join(dir, "no-haproxy.sock")
	write(inventoryConfig(two) + "  - {type: haproxy, name: gone, runtime_api: 'unix://" + gone + "'}\nrule_files: []\n")
	if code, body := post(t, base+"/-/reload"); code != http.StatusOK {
		t.Fatalf("reload with a source whose socket does not exist: %d %s", code, body)
	}
	testenv.Eventually(t, 30*time.Second, "the new source down with its error", func() error {
		_, body := get(t, base+"/api/v1/topology/sources")
		if !strings.Contains(body, `"gone"`) || !strings.Contains(body, "no such file or directory") {
			return fmt.Errorf("sources: %.500s", body)
		}
		return nil
	})
	waitLBs("the kept inventory's LB beside the down source", "lb-two", "")
}

// TestLifecycleOff: without --web.enable-lifecycle and --web.enable-admin-api, /-/reload, /-/quit
// and the snapshot are refused, as Prometheus refuses them, and strata goes on.
func TestLifecycleOff(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "strata.yml", inventoryConfig(writeFile(t, dir, "inv.yml", fleetInventory(1, 1))))
	addr := testenv.FreeAddr(t)
	base := "http://" + addr
	p := startUp(t, "serve", "--config.file="+file, "--storage.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	testenv.Eventually(t, 60*time.Second, "strata ready", func() error {
		if code, _ := get(t, base+"/-/ready"); code != http.StatusOK {
			return fmt.Errorf("/-/ready %d", code)
		}
		return p.running()
	})
	for path, want := range map[string]int{"/-/reload": http.StatusForbidden, "/-/quit": http.StatusForbidden, "/api/v1/admin/tsdb/snapshot": http.StatusServiceUnavailable} {
		if code, body := post(t, base+path); code != want {
			t.Errorf("POST %s: %d %s, want %d", path, code, body, want)
		}
	}
	if err := p.running(); err != nil {
		t.Errorf("strata stopped: %v", err)
	}
}

// instances is what PromQL answers for strata_topology_instance_info at a time: each server
// with its health, sorted ("" and the error when the query fails).
func instances(t *testing.T, base string, at time.Time) string {
	t.Helper()
	code, body := get(t, base+"/api/v1/query?query="+url.QueryEscape(`strata_topology_instance_info{lb="edge"}`)+
		"&time="+strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64))
	if code != http.StatusOK {
		return fmt.Sprintf("%d %s", code, body)
	}
	var answer struct {
		Data struct {
			Result []struct{ Metric map[string]string }
		}
	}
	if err := json.Unmarshal([]byte(body), &answer); err != nil {
		return err.Error()
	}
	var out []string
	for _, r := range answer.Data.Result {
		out = append(out, r.Metric["server"]+"="+r.Metric["health"])
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// TestStopCrashSnapshotRestore: strata serve with a real HAProxy, stopped by SIGTERM, killed by
// SIGKILL, and restored from a snapshot of its admin API: after each start, what it wrote
// before is answered as it was (the WAL replayed, the snapshot's blocks read), and the start
// says what it recovered.
func TestStopCrashSnapshotRestore(t *testing.T) {
	backend := testenv.FreeAddr(t)
	www := t.TempDir()
	writeFile(t, www, "index.html", "ok\n") // the health check's GET /
	testenv.StartProcess(t, testenv.Command(t, "busybox"), "httpd", "-f", "-p", backend, "-h", www)
	hap := testenv.StartHAProxy(t, func() string {
		return fmt.Sprintf(testenv.HAProxyDefaults+`frontend fe
  bind %s
  default_backend c1ps
backend c1ps
  option httpchk GET /
  server up %s check inter 300ms
  server down %s check inter 300ms
`, testenv.FreeAddr(t), backend, testenv.FreeAddr(t))
	})
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	file := writeFile(t, dir, "strata.yml", "sources:\n  - {type: haproxy, name: edge, runtime_api: 'unix://"+hap.Socket+"'}\nrule_files: []\n")
	const want = "down=DOWN,up=UP"
	start := func(storage string) (*upProcess, string) {
		addr := testenv.FreeAddr(t)
		p := startUp(t, "serve", "--config.file="+file, "--storage.path="+storage, "--web.listen-address="+addr,
			"--web.enable-admin-api", "--topology.refresh-interval=1s", "--log.level=info")
		base := "http://" + addr
		testenv.Eventually(t, 60*time.Second, "strata ready", func() error {
			if err := p.running(); err != nil {
				t.Fatalf("%v\n%s", err, p.log)
			}
			if code, body := get(t, base+"/-/ready"); code != http.StatusOK {
				return fmt.Errorf("/-/ready: %d %s", code, body)
			}
			return nil
		})
		return p, base
	}
	p, base := start(data)
	var seen time.Time
	testenv.Eventually(t, 60*time.Second, "both servers with their health in PromQL", func() error {
		seen = time.Now()
		if got := instances(t, base, seen); got != want {
			return fmt.Errorf("%s", got)
		}
		return nil
	})

	// A snapshot, with what is in memory.
	code, body := post(t, base+"/api/v1/admin/tsdb/snapshot")
	var snap struct{ Data struct{ Name string } }
	if err := json.Unmarshal([]byte(body), &snap); code != http.StatusOK || err != nil || snap.Data.Name == "" {
		t.Fatalf("snapshot: %d %s", code, body)
	}
	snapshot := filepath.Join(data, "snapshots", snap.Data.Name)
	if entries, err := os.ReadDir(snapshot); err != nil || len(entries) == 0 {
		t.Fatalf("snapshot directory %s: %v, %d entries", snapshot, err, len(entries))
	}
	if code, body := post(t, base+"/api/v1/admin/tsdb/snapshot?skip_head=maybe"); code != http.StatusBadRequest {
		t.Errorf("skip_head=maybe: %d %s, want 400", code, body)
	}

	// SIGTERM: a clean stop, exit 0; the next start answers for the time before it.
	stopClean(t, p, 30*time.Second, "between refreshes")
	p, base = start(data)
	if got := instances(t, base, seen); got != want {
		t.Errorf("after a stop, PromQL at %s answers %q, want %q", seen.Format(time.RFC3339), got, want)
	}
	if !strings.Contains(p.log.String(), "recovered what was written before the last stop") {
		t.Errorf("the start does not say what it recovered:\n%s", p.log)
	}

	// SIGKILL: a crash loses at most the refresh it cut.
	time.Sleep(3 * time.Second)
	killedAfter := time.Now().Add(-1500 * time.Millisecond)
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.exited
	_, base = start(data)
	if got := instances(t, base, killedAfter); got != want {
		t.Errorf("after a crash, PromQL at %s (1.5 s before the kill) answers %q, want %q", killedAfter.Format(time.RFC3339), got, want)
	}

	// Restore: the snapshot's directory as the storage of a new strata, with no source of its
	// own that could write the answer anew.
	restored := filepath.Join(dir, "restored")
	if err := os.CopyFS(restored, os.DirFS(snapshot)); err != nil {
		t.Fatal(err)
	}
	file = writeFile(t, dir, "strata.yml", "rule_files: []\n")
	_, base = start(restored)
	if got := instances(t, base, seen); got != want {
		t.Errorf("restored from the snapshot, PromQL at %s answers %q, want %q", seen.Format(time.RFC3339), got, want)
	}
}

// TestStopMidRefresh: SIGTERM while a refresh waits on a source that does not answer (an admin
// API that hangs) stops strata at once, cleanly, and what it stored before is answered after.
func TestStopMidRefresh(t *testing.T) {
	entered := make(chan struct{}, 100)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	}))
	defer hang.Close()
	dir := t.TempDir()
	inv := writeFile(t, dir, "inv.yml", fleetInventory(2, 1))
	file := writeFile(t, dir, "strata.yml", inventoryConfig(inv)+"  - {type: caddy, name: hangs, admin_url: '"+hang.URL+"'}\nrule_files: []\n")
	data := filepath.Join(dir, "data")
	addr := testenv.FreeAddr(t)
	base := "http://" + addr
	// A 15 s interval: the source's deadline is 10 s, so a refresh waits that long on it.
	p := startUp(t, "serve", "--config.file="+file, "--storage.path="+data, "--web.listen-address="+addr, "--log.level=info")
	var stored time.Time
	testenv.Eventually(t, 60*time.Second, "the inventory's LB in PromQL", func() error {
		if err := p.running(); err != nil {
			t.Fatalf("%v\n%s", err, p.log)
		}
		stored = time.Now()
		_, body := get(t, base+"/api/v1/query?query="+url.QueryEscape(`count(strata_topology_instance_info{lb="lb-000"})`))
		if !strings.Contains(body, `"result":[{`) {
			return fmt.Errorf("%.300s", body)
		}
		return nil
	})
	// The next refresh asks the hanging source again: stop it while it waits.
	for len(entered) > 0 {
		<-entered
	}
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("no refresh asked the source again within 30 s")
	}
	stop := time.Now()
	stopClean(t, p, 20*time.Second, "mid-refresh")
	if waited := time.Since(stop); waited > 9*time.Second {
		t.Errorf("the stop waited %s: it waited out the source's deadline", waited)
	}

	addr = testenv.FreeAddr(t)
	base = "http://" + addr
	p = startUp(t, "serve", "--config.file="+file, "--storage.path="+data, "--web.listen-address="+addr, "--log.level=warn")
	testenv.Eventually(t, 60*time.Second, "strata up again", func() error {
		if err := p.running(); err != nil {
			t.Fatalf("%v\n%s", err, p.log)
		}
		if code, _ := get(t, base+"/-/healthy"); code != http.StatusOK {
			return fmt.Errorf("/-/healthy %d", code)
		}
		return nil
	})
	_, body := get(t, base+"/api/v1/query?query="+url.QueryEscape(`count(strata_topology_instance_info{lb="lb-000"})`)+
		"&time="+strconv.FormatFloat(float64(stored.UnixMilli())/1000, 'f', 3, 64))
	if !strings.Contains(body, `"result":[{`) {
		t.Errorf("after the stop, what was stored before it is not answered: %.300s", body)
	}
}

// stopClean sends p SIGTERM and wants a clean stop within the time given: exit 0, saying the
// TSDB is closed.
func stopClean(t *testing.T, p *upProcess, within time.Duration, when string) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(within):
		t.Fatalf("strata did not stop within %s of SIGTERM %s:\n%s", within, when, p.log)
	}
	if !p.cmd.ProcessState.Success() || !strings.Contains(p.log.String(), "strata stopped: the TSDB is closed") {
		t.Errorf("SIGTERM %s: %v, want exit 0 saying the TSDB closed\n%s", when, p.cmd.ProcessState, p.log)
	}
}
