package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/testenv"
)

// The hardening tests run strata serve as its own process, as an operator runs it, and send it
// what the probe of the hardening issue sent: the process must stay up, its memory bounded
// (its peak RSS read from /proc), every answer a clear error within the limits, nothing of a
// file leaked, the other sources refreshed.

// strataProcess is strata serve, running until the test ends.
type strataProcess struct {
	*upProcess
	base string
}

// serveStrata starts strata serve on a free port of 127.0.0.1 with the configuration config
// (written to a file) and args, and waits until it is ready. wrap, if not nil, is a command
// that runs strata (prlimit).
func serveStrata(t *testing.T, config string, wrap []string, args ...string) *strataProcess {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "strata.yml")
	if err := os.WriteFile(file, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		addr := testenv.FreeAddr(t)
		all := append([]string{"serve", "--config.file=" + file, "--web.listen-address=" + addr, "--topology.refresh-interval=2s", "--log.level=warn"}, args...)
		if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--storage.path=") }) {
			all = append(all, "--storage.path="+filepath.Join(dir, "data"+strconv.Itoa(attempt)))
		}
		p := startWrapped(t, wrap, all...)
		base := "http://" + addr
		_, err := testenv.TryWaitHTTP(base+"/-/ready", http.StatusOK, 90*time.Second, p.running)
		if err == nil {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("strata's log:\n%.20000s", p.log)
				}
			})
			return &strataProcess{upProcess: p, base: base}
		}
		p.kill()
		if attempt == 3 || !strings.Contains(p.log.String(), "address already in use") {
			t.Fatalf("strata serve: %v\n%s", err, p.log)
		}
	}
}

// memory is the process's resident memory now and at its peak, in MiB.
func (p *strataProcess) memory(t *testing.T) (rss, peak int) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("strata is gone: %v\n%s", err, p.log)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return rss, peak
}

// alive fails the test if strata exited.
func (p *strataProcess) alive(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("strata exited: %v\n%s", p.cmd.ProcessState, p.log)
	default:
	}
	if _, err := testenv.TryWaitHTTP(p.base+"/-/healthy", http.StatusOK, 10*time.Second, p.running); err != nil {
		t.Fatalf("strata does not answer /-/healthy: %v", err)
	}
}

// answer is what strata answered a request: status, Prometheus's error type and message, and
// how long it took.
type answer struct {
	status          int
	errType, errMsg string
	body            string
	took            time.Duration
}

// send POSTs form to path (GET when form is nil and path has its query) with a client timeout.
func (p *strataProcess) send(t *testing.T, path string, form url.Values, timeout time.Duration) (answer, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	method, body := http.MethodGet, io.Reader(nil)
	if form != nil {
		method, body = http.MethodPost, strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{took: time.Since(start)}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	a := answer{status: resp.StatusCode, body: string(b), took: time.Since(start)}
	var env struct{ ErrorType, Error string }
	if json.Unmarshal(b, &env) == nil {
		a.errType, a.errMsg = env.ErrorType, env.Error
	}
	return a, nil
}

// fleetInventory is an inventory of hosts hosts and lbs LBs of 10 services of 10 instances,
// the instances spread over the hosts.
func fleetInventory(hosts, lbs int) string {
	var b strings.Builder
	b.WriteString("hosts:\n")
	ip := func(i int) string { return fmt.Sprintf("10.%d.%d.%d", 100+i/65536, i/256%256, i%256) }
	for h := range hosts {
		fmt.Fprintf(&b, "  - {name: node-%05d, addresses: [%s], labels: {rack: r%d, zone: z%d}, facts: {kernel_release: 6.1.0-%d-amd64, os_image: Debian GNU/Linux 12, product_name: PowerEdge R640}}\n",
			h, ip(h), h%40, h%3, 10+h%5)
	}
	b.WriteString("lbs:\n")
	n := 0
	for l := range lbs {
		fmt.Fprintf(&b, "  - name: lb-%03d\n    services:\n", l)
		for s := range 10 {
			fmt.Fprintf(&b, "      - name: svc-%d\n        instances:\n", s)
			for i := range 10 {
				fmt.Fprintf(&b, "          - {name: s%d, address: \"%s:%d\"}\n", i, ip(n%hosts), 8000+i)
				n++
			}
		}
	}
	return b.String()
}

// inventoryConfig is a strata.yml of one inventory source per file.
func inventoryConfig(files ...string) string {
	var b strings.Builder
	b.WriteString("sources:\n")
	for i, f := range files {
		fmt.Fprintf(&b, "  - type: inventory\n    name: inv%d\n    file: %s\n", i, f)
	}
	return b.String()
}

// writeFile writes content to a new file of dir.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestHardeningQueries: the probe's heaviest questions against 2,000 hosts and 20,000
// instances, with --query.timeout=5s, each answered by a clear error that names its limit,
// the process alive and its memory bounded. First with the default limits, which refuse them
// before anything runs; then with the limits on the text lifted, which shows the bounds that
// hold by construction: the cells counted as the answer grows, the deadline inside the walk,
// and a client that goes away stopping the work.
func TestHardeningQueries(t *testing.T) {
	inv := writeFile(t, t.TempDir(), "inventory.yml", fleetInventory(2000, 200))
	projection := testenv.WideProjection(200_000)        // 600 KB, a form body of 1 MB
	matchers := testenv.ManyMatchers("instance", 20_000) // 240 KB

	t.Run("default limits", func(t *testing.T) {
		p := serveStrata(t, inventoryConfig(inv), nil, "--query.timeout=5s")
		now := time.Now()
		rss0, _ := p.memory(t)
		for _, c := range []struct {
			name, path string
			form       url.Values
			status     int
			holds      string
		}{
			{"a 600 KB path query", "/api/v1/topology/query", url.Values{"q": {projection}}, 422, "more than the limit of 65536 (--query.max-length)"},
			{"20,000 matchers", "/api/v1/topology/query", url.Values{"q": {matchers}}, 422, "(--query.max-length)"},
			{"the UI's search", "/search", url.Values{"q": {matchers}}, 422, "(--query.max-length)"},
			{"a subquery of a day at 1 ms", "/api/v1/query", url.Values{"query": {"max_over_time(vector(1)[1d:1ms])"}}, 422,
				"takes 86400000 steps, more than the limit of 5000000 samples (--query.max-samples)"},
			// 11,000 steps over every path and instance: 40,000 series, 440 million samples.
			// (One clock reading for both ends: two could be a millisecond apart, one point
			// past Prometheus's 11,000 per series, a 400 of another limit.)
			{"11,000 steps over every path", "/api/v1/query_range", url.Values{"query": {`strata_topology_path_info or strata_topology_instance_info`},
				"start": {strconv.FormatFloat(float64(now.Add(-10999*time.Millisecond).UnixMilli())/1000, 'f', 3, 64)},
				"end":   {strconv.FormatFloat(float64(now.UnixMilli())/1000, 'f', 3, 64)}, "step": {"0.001"}},
				422, "query processing would load too many samples into memory"},
			{"a 100 KB PromQL expression", "/api/v1/query", url.Values{"query": {strings.Repeat("(", 50_000) + "1" + strings.Repeat(")", 50_000)}}, 422,
				"(--query.max-length)"},
			{"a 2 MB form", "/api/v1/query", url.Values{"query": {strings.Repeat("1+", 1_000_000) + "1"}}, 400, "request body too large"},
		} {
			if c.path == "/search" {
				// The UI answers pages by GET; 240 KB of query string fits its header limit.
				a, err := p.send(t, c.path+"?q="+url.QueryEscape(c.form.Get("q")), nil, 30*time.Second)
				if err != nil || a.status != c.status || !strings.Contains(a.body, c.holds) {
					t.Errorf("%s: %d, %v: %.300s", c.name, a.status, err, a.body)
				}
				continue
			}
			a, err := p.send(t, c.path, c.form, 30*time.Second)
			want := map[int]string{400: "bad_data", 422: "execution"}[c.status]
			if err != nil || a.status != c.status || a.errType != want || !strings.Contains(a.errMsg, c.holds) {
				t.Errorf("%s: %d %s %q, %v; want %d execution holding %q", c.name, a.status, a.errType, a.errMsg, err, c.status, c.holds)
			}
			t.Logf("%s: %d in %s", c.name, a.status, a.took.Round(time.Millisecond))
		}
		p.alive(t)
		rss, peak := p.memory(t)
		t.Logf("RSS %d MiB before, %d MiB after, %d MiB at the peak", rss0, rss, peak)
		if peak > rss0+400 {
			t.Errorf("peak RSS %d MiB, more than 400 MiB over the %d MiB before the queries", peak, rss0)
		}
		// The probe's 3 h range at 1 s steps answers within the bounds: this process's history
		// is seconds long, so it may fit, or be refused for its samples or its time.
		if a, err := p.send(t, "/api/v1/query_range", url.Values{"query": {"strata_topology_path_info"},
			"start": {strconv.FormatInt(time.Now().Add(-3*time.Hour).Unix(), 10)}, "end": {strconv.FormatInt(time.Now().Unix(), 10)}, "step": {"1"}},
			60*time.Second); err != nil || (a.status != 200 && !strings.Contains(a.errMsg, "too many samples") && a.errType != "timeout") {
			t.Errorf("3 h at 1 s: %d %q %v", a.status, a.errMsg, err)
		}
		// The mission question still answers.
		if a, err := p.send(t, "/api/v1/topology/query?q="+url.QueryEscape(`service{name="svc-0"} -> instance[0] -> host .kernel_release`), nil, 10*time.Second); err != nil || a.status != 200 {
			t.Errorf("the mission question after the probe: %d %v: %.300s", a.status, err, a.body)
		}
	})

	t.Run("text limits lifted", func(t *testing.T) {
		p := serveStrata(t, inventoryConfig(inv), nil, "--query.timeout=5s", "--query.max-length=2000000",
			"--query.max-matchers=100000", "--query.max-columns=1000000", "--query.max-concurrency=1")
		rss0, _ := p.memory(t)
		// The projection cut by | limit 1 is one row: its cells are made for that row alone.
		a, err := p.send(t, "/api/v1/topology/query", url.Values{"q": {projection}}, 30*time.Second)
		var data struct {
			Data struct{ Rows [][]string } `json:"data"`
		}
		if err != nil || a.status != 200 || json.Unmarshal([]byte(a.body), &data) != nil || len(data.Data.Rows) != 1 || len(data.Data.Rows[0]) != 200_002 {
			n := -1
			if len(data.Data.Rows) > 0 {
				n = len(data.Data.Rows[0])
			}
			t.Errorf("600 KB projection | limit 1: %d %q %v: %d rows, the first of %d cells", a.status, a.errMsg, err, len(data.Data.Rows), n)
		}
		// Without the limit, 2,000 rows of 200,002 cells are refused before one is made.
		a, err = p.send(t, "/api/v1/topology/query", url.Values{"q": {strings.TrimSuffix(projection, " | limit 1")}}, 30*time.Second)
		if err != nil || a.status != 422 || !strings.Contains(a.errMsg, "more than 1000000 cells, rows × columns (--query.max-results)") {
			t.Errorf("600 KB projection: %d %q %v", a.status, a.errMsg, err)
		}
		for _, path := range []string{"/api/v1/topology/query", "/api/v1/topology/graph"} {
			a, err := p.send(t, path, url.Values{"q": {matchers}}, 60*time.Second)
			if err != nil || a.status != 503 || a.errType != "timeout" || !strings.Contains(a.errMsg, "(--query.timeout)") {
				t.Errorf("%s, 20,000 matchers: %d %s %q %v; want 503 timeout", path, a.status, a.errType, a.errMsg, err)
			}
			// The deadline holds inside the walk: the answer comes at 5 s, not after the walk.
			if a.took > 15*time.Second {
				t.Errorf("%s, 20,000 matchers: answered after %s with --query.timeout=5s", path, a.took.Round(time.Second))
			}
			t.Logf("%s, 20,000 matchers: %d after %s", path, a.status, a.took.Round(time.Millisecond))
		}
		a, err = p.send(t, "/search?q="+url.QueryEscape(matchers), nil, 60*time.Second)
		if err != nil || a.status != 503 || !strings.Contains(a.body, "(--query.timeout)") {
			t.Errorf("the UI's search, 20,000 matchers: %d %v", a.status, err)
		}

		// A client that goes away after a second: the work stops then, not at the timeout. With
		// one place for the topology API's queries, the next query gets it as soon as the
		// abandoned one has stopped: at once, not 4 s later, when the timeout would end it.
		if _, err := p.send(t, "/api/v1/topology/query", url.Values{"q": {matchers}}, time.Second); err == nil {
			t.Fatal("the query answered within a second")
		}
		next, err := p.send(t, "/api/v1/topology/query?q="+url.QueryEscape("host | limit 1"), nil, 30*time.Second)
		if err != nil || next.status != 200 {
			t.Fatalf("the next query: %d %v", next.status, err)
		}
		t.Logf("the next query, once the client of the first left: answered in %s", next.took.Round(time.Millisecond))
		if next.took > 3*time.Second {
			t.Errorf("the next query waited %s: the abandoned one ran on toward its timeout", next.took.Round(time.Millisecond))
		}
		p.alive(t)
		rss, peak := p.memory(t)
		t.Logf("RSS %d MiB before, %d MiB after, %d MiB at the peak", rss0, rss, peak)
		if peak > rss0+400 {
			t.Errorf("peak RSS %d MiB, more than 400 MiB over the %d MiB before the queries", peak, rss0)
		}
	})
}

// TestHardeningIdleConnections: 1,000 idle keep-alive connections against a process that may
// open 512 files take no more places than --web.max-connections leaves (the file limit lowers
// it): /-/healthy and /-/ready still answer, new connections taking the places of the idle
// ones, and the process never runs out of descriptors (the TSDB's compactions need theirs).
func TestHardeningIdleConnections(t *testing.T) {
	inv := writeFile(t, t.TempDir(), "inventory.yml", fleetInventory(50, 2))
	p := serveStrata(t, inventoryConfig(inv), []string{"prlimit", "--nofile=512:512"})
	addr := strings.TrimPrefix(p.base, "http://")
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 1000 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", len(conns)+1, err)
		}
		conns = append(conns, c)
		// A request, then nothing: an idle keep-alive connection once answered.
		if _, err := io.WriteString(c, "GET /-/healthy HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{"/-/healthy", "/-/ready", "/api/v1/topology/query?q=host"} {
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := client.Get(p.base + path)
		if err != nil {
			t.Fatalf("%s with 1,000 idle connections open: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s with 1,000 idle connections open: %s", path, resp.Status)
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if len(fds) >= 512-64 {
		t.Errorf("strata holds %d file descriptors of 512: too few left for its storage", len(fds))
	}
	t.Logf("strata holds %d file descriptors with 1,000 connections offered", len(fds))
	// An idle connection that lost its place was closed, not left hanging: the client sees EOF.
	closed := 0
	for _, c := range conns[:200] {
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		r := bufio.NewReader(c)
		for {
			if _, err := r.ReadString('\n'); err != nil {
				if errors.Is(err, io.EOF) {
					closed++
				}
				break
			}
		}
	}
	if closed == 0 {
		t.Error("no idle connection was closed to make room")
	}
	p.alive(t)
}

// TestHardeningFiles: an inventory path that becomes a named pipe, a link to /dev/zero or to a
// password file, at run time. The other sources (a real HAProxy, another inventory) go on
// refreshing; the broken one is down with the reason, never a word of the file in the API, the
// warnings or the log; the memory stays bounded; SIGTERM stops the process at once.
func TestHardeningFiles(t *testing.T) {
	dir := t.TempDir()
	stable := writeFile(t, dir, "stable.yml", fleetInventory(20, 1))
	hostile := writeFile(t, dir, "hostile.yml", strings.ReplaceAll(fleetInventory(20, 1), "lb-000", "lb-hostile"))
	sock := filepath.Join(dir, "admin.sock")
	runHAProxy(t, sock)
	config := inventoryConfig(stable, hostile) + fmt.Sprintf("  - type: haproxy\n    name: edge\n    runtime_api: unix://%s\n", sock)
	p := serveStrata(t, config, nil, "--topology.stale-after=10m")
	rss0, _ := p.memory(t)

	const secret = "hunter2-S3CRET-hash"
	shadow := writeFile(t, dir, "shadow", "root:$y$j9T$"+secret+":19700:0:99999:7:::\ndaemon:*:19700:0:99999:7:::\n")
	envFile := writeFile(t, dir, "cloud.env", "AWS_SECRET_ACCESS_KEY="+secret+"\n")
	for _, c := range []struct {
		name  string
		make  func(path string) error
		holds string
	}{
		{"a named pipe", func(p string) error { return syscall.Mkfifo(p, 0o600) }, "not a regular file but a named pipe"},
		{"a link to /dev/zero", func(p string) error { return os.Symlink("/dev/zero", p) }, "not a regular file but a character device"},
		{"a link to a password file", func(p string) error { return os.Symlink(shadow, p) }, "unknown field …"},
		{"a .env file", func(p string) error { return os.Symlink(envFile, p) }, "want a mapping, got a string"},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Put in place by rename, as a deploy would.
			tmp := hostile + ".new"
			_ = os.Remove(tmp)
			if err := c.make(tmp); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, hostile); err != nil {
				t.Fatal(err)
			}
			var sources []struct {
				Name, Error string
				Up          bool
				LastSeen    time.Time `json:"last_seen"`
			}
			start := time.Now()
			testenv.Eventually(t, 30*time.Second, "inv1 down, the others refreshed since", func() error {
				if err := getData(p.base+"/api/v1/topology/sources", &sources); err != nil {
					return err
				}
				down := false
				for _, s := range sources {
					switch {
					case s.Name == "inv1":
						down = !s.Up && strings.Contains(s.Error, c.holds)
					case !s.Up || s.LastSeen.Before(start):
						return fmt.Errorf("source %s: up %v, last seen %s", s.Name, s.Up, s.LastSeen)
					}
				}
				if !down {
					return fmt.Errorf("inv1 not down with %q: %+v", c.holds, sources)
				}
				return nil
			})
			a, err := p.send(t, "/api/v1/topology/query?q=host", nil, 10*time.Second)
			if err != nil || a.status != 200 {
				t.Fatalf("a query: %d %v", a.status, err)
			}
			all := a.body + fmt.Sprint(sources) + p.log.String()
			for _, leak := range []string{secret, "AWS_SECRET", "root:", "daemon"} {
				if strings.Contains(all, leak) {
					t.Errorf("%q in the API's answers or the log", leak)
				}
			}
		})
	}
	p.alive(t)
	rss, peak := p.memory(t)
	t.Logf("RSS %d MiB before, %d MiB after, %d MiB at the peak", rss0, rss, peak)
	if peak > rss0+300 {
		t.Errorf("peak RSS %d MiB, more than 300 MiB over the %d MiB before", peak, rss0)
	}
	// SIGTERM: the process ends at once, its storage closed.
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("strata exited %d on SIGTERM", code)
		}
		t.Logf("stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatal("strata did not stop within 20 s of SIGTERM")
	}
}

// TestHardeningFullDisk: strata on a disk that fills up. Readiness says so and the failures
// count, the process serves its graph throughout; once there is room it writes again by
// itself, and what it wrote then survives a restart.
func TestHardeningFullDisk(t *testing.T) {
	testenv.Root(t)
	disk := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", disk).CombinedOutput(); err != nil {
		testenv.Missing(t, "mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", disk).Run() })
	inv := writeFile(t, t.TempDir(), "inventory.yml", fleetInventory(200, 5))
	config := inventoryConfig(inv)
	storage := filepath.Join(disk, "data")
	p := serveStrata(t, config, nil, "--storage.path="+storage)

	filler := filepath.Join(disk, "fill")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()
	// The inventory changes, so that every refresh has series to write.
	var mu sync.Mutex
	kernel := 0
	bump := func() {
		mu.Lock()
		defer mu.Unlock()
		kernel++
		if err := os.WriteFile(inv+".new", []byte(strings.ReplaceAll(fleetInventory(200, 5), "6.1.0-1", fmt.Sprintf("6.%d.0-1", kernel))), 0o644); err == nil {
			_ = os.Rename(inv+".new", inv)
		}
	}
	testenv.Eventually(t, 60*time.Second, "readiness says the storage cannot be written", func() error {
		bump()
		a, err := p.send(t, "/-/ready", nil, 5*time.Second)
		if err != nil {
			return err
		}
		if a.status != 503 || !strings.Contains(a.body, "the storage cannot be written since") {
			return fmt.Errorf("%d %s", a.status, a.body)
		}
		return nil
	})
	fams, err := scrapeMetrics(p.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if v := fams.One(t, "strata_storage_write_failures_total", map[string]string{"operation": "write"}).Value; v < 1 {
		t.Errorf("strata_storage_write_failures_total{operation=write} = %g with the disk full", v)
	}
	if a, err := p.send(t, "/api/v1/topology/query?q=host%20|%20count", nil, 10*time.Second); err != nil || a.status != 200 || !strings.Contains(a.body, `"200"`) {
		t.Errorf("the graph with the disk full: %d %v %.200s", a.status, err, a.body)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 90*time.Second, "ready again once the disk has room", func() error {
		bump()
		a, err := p.send(t, "/-/ready", nil, 5*time.Second)
		if err == nil && a.status != 200 {
			err = fmt.Errorf("%d %s", a.status, a.body)
		}
		return err
	})
	// A change after the recovery, written, then a restart.
	bump()
	mu.Lock()
	after := fmt.Sprintf("6.%d.0-10-amd64", kernel)
	mu.Unlock()
	testenv.Eventually(t, 30*time.Second, "the change after the recovery in the graph", func() error {
		a, err := p.send(t, "/api/v1/topology/query?q="+url.QueryEscape(`host{name="node-00000"} .kernel_release`), nil, 5*time.Second)
		if err == nil && !strings.Contains(a.body, after) {
			err = fmt.Errorf("%s", a.body)
		}
		return err
	})
	time.Sleep(3 * time.Second) // a refresh more: the series are written
	written := time.Now()
	p.kill()

	p2 := serveStrata(t, "sources: []\n", nil, "--storage.path="+storage)
	a, err := p2.send(t, "/api/v1/query?query="+url.QueryEscape(`strata_topology_host_info{host="node-00000"}`)+
		"&time="+strconv.FormatInt(written.Unix(), 10), nil, 10*time.Second)
	if err != nil || a.status != 200 || !strings.Contains(a.body, after) {
		t.Errorf("after a restart, the series written after the recovery: %d %v %.300s", a.status, err, a.body)
	}
}

// TestServeTLSAndBasicAuth: strata serve's own listeners (bounded by --web.max-connections)
// still go through --web.config.file: HTTPS only, and only with the right password, on the API,
// the UI and /metrics alike.
func TestServeTLSAndBasicAuth(t *testing.T) {
	dir := t.TempDir()
	web := testenv.NewWebConfig(t, dir)
	inv := writeFile(t, dir, "inventory.yml", fleetInventory(5, 1))
	file := writeFile(t, dir, "strata.yml", inventoryConfig(inv))
	addr := testenv.FreeAddr(t)
	p := startUp(t, "serve", "--config.file="+file, "--storage.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr,
		"--web.config.file="+web.File, "--topology.refresh-interval=2s", "--log.level=warn")
	testenv.Eventually(t, 60*time.Second, "strata serve ready over HTTPS", func() error {
		if err := p.cmd.ProcessState; err != nil {
			t.Fatalf("strata exited: %v\n%s", err, p.log)
		}
		code, _, err := web.Get("https", addr, "/-/ready", web.User, web.Password)
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("/-/ready: %d", code)
		}
		return err
	})
	for _, path := range []string{"/api/v1/topology/query?q=host", "/", "/metrics", "/api/v1/query?query=up"} {
		if code, body, err := web.Get("https", addr, path, web.User, web.Password); err != nil || code != http.StatusOK {
			t.Errorf("https %s with the password: %d %v %.200s", path, code, err, body)
		}
		for _, c := range []struct{ what, user, password string }{
			{"a wrong password", web.User, web.Password + "x"},
			{"no password", "", ""},
		} {
			code, body, err := web.Get("https", addr, path, c.user, c.password)
			if err != nil || code != http.StatusUnauthorized || strings.Contains(body, "node-0000") {
				t.Errorf("https %s with %s: %d %v, want 401 and nothing of the graph", path, c.what, code, err)
			}
		}
		resp, err := http.Get("http://" + addr + path)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || strings.Contains(string(b), "node-0000") {
				t.Errorf("plain http %s: %s", path, resp.Status)
			}
		}
	}
}
