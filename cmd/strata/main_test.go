package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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

func TestMain(m *testing.M) { testenv.RunMainOrTests(m, main) }

// strataCommand is the program run with args, as a child process.
func strataCommand(t *testing.T, args ...string) *exec.Cmd { return testenv.MainCommand(t, args...) }

// symlink makes link point at target and returns link.
func symlink(t *testing.T, target, link string) string {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	return link
}

// fifo makes a named pipe at path and returns path.
func fifo(t *testing.T, path string) string {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCheckConfig runs `strata check config FILE` on good and broken files: a good one exits 0
// saying OK; a broken one exits 1 and names the file, the line and the field of every problem.
func TestCheckConfig(t *testing.T) {
	// A kubernetes source without a kubeconfig is refused outside a pod, even where the
	// tests themselves run in one.
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	dir := t.TempDir()
	write := func(name, content string) string {
		file := filepath.Join(dir, name)
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return file
	}
	tests := []struct {
		name, file string
		code       int
		stdout     string   // exactly, "" for nothing
		stderr     []string // substrings, with FILE for the file's path
		lacks      []string // what stderr must not say
	}{
		{
			name: "valid",
			file: write("valid.yml", `sources:
  - type: haproxy
    name: edge
    runtime_api: unix:///run/haproxy/admin.sock
  - type: caddy
    name: web
    admin_url: http://127.0.0.1:2019
  - type: nginx
    name: legacy
    config: /etc/nginx/nginx.conf
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ["127.0.0.1:9100"]
topology:
  refresh_interval: 30s
  stale_after: 10m
`),
			code: 0, stdout: "FILE: OK\n",
		},
		{
			name: "bad runtime_api",
			file: write("runtime-api.yml", `sources:
  - type: haproxy
    name: edge
    runtime_api: http://127.0.0.1:9999
`),
			// The line and the field, never the value (a file is not always what it was meant to be).
			code: 1, stderr: []string{"FILE:4: sources[0].runtime_api: want unix:///path or tcp://host:port"}, lacks: []string{"127.0.0.1:9999"},
		},
		{
			name: "what serve would refuse",
			file: write("serve-refuses.yml", `sources:
  - type: kubernetes
  - type: inventory
    file: missing-inventory.yml
scrape_configs:
  - job_name: node
    scrape_interval: banana
    static_configs:
      - targets: ["127.0.0.1:9100"]
`),
			code: 1, stderr: []string{"FILE:2: source kubernetes: no kubeconfig is set and strata does not run in a pod", "FILE:3: source inventory:",
				"missing-inventory.yml", `FILE: scrape_configs: not a valid duration string: "…"`}, lacks: []string{"banana"},
		},
		{
			name: "unknown key",
			file: write("unknown-key.yml", `sources:
  - type: caddy
    name: web
    admin_url: http://127.0.0.1:2019
    colour: red
`),
			code: 1, stderr: []string{"FILE:5: sources[0]:", `unknown field "colour"`},
		},
		{
			name: "every problem at once",
			file: write("two-problems.yml", `sources:
  - type: haproxy
    name: edge
    runtime_api: tcp://127.0.0.1
topology:
  refresh_interval: soon
`),
			code: 1, stderr: []string{"FILE:4: sources[0].runtime_api:", "FILE:6: topology.refresh_interval:"},
		},
		{
			name: "bad YAML",
			file: write("bad-yaml.yml", "sources:\n  - type: haproxy\n    name: [edge\n"),
			code: 1, stderr: []string{"FILE:3:"},
		},
		{
			name: "missing file",
			file: filepath.Join(dir, "missing.yml"),
			code: 1, stderr: []string{"FILE", "no such file or directory"},
		},
		{
			// A path that leads to a password file: its content is never shown.
			name: "a symlink to a password file",
			file: symlink(t, write("shadow", "root:$y$j9T$Zq1v3cR8$hunter2hash:19700:0:99999:7:::\ndaemon:*:19700:0:99999:7:::\n"), filepath.Join(dir, "strata-link.yml")),
			code: 1, stderr: []string{"FILE:1: unknown field … (want one of", "FILE:2: unknown field …"}, lacks: []string{"hunter2", "root", "daemon", "$y$"},
		},
		{
			name: "a .env file",
			file: write("cloud.env", "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nAWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"),
			code: 1, stderr: []string{"FILE:1: want a mapping, got a string"}, lacks: []string{"AKIA", "wJalr", "EXAMPLE"},
		},
		{
			// A named pipe would block a reader until something writes to it.
			name: "a named pipe",
			file: fifo(t, filepath.Join(dir, "pipe.yml")),
			code: 1, stderr: []string{"FILE: not a regular file but a named pipe"},
		},
		{
			name: "a device",
			file: "/dev/zero",
			code: 1, stderr: []string{"/dev/zero: not a regular file but a character device"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := strataCommand(t, "check", "config", tt.file)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			code := testenv.ExitCode(cmd.Run())
			t.Logf("exit %d, stderr:\n%s", code, stderr.String())
			if code != tt.code {
				t.Errorf("exit code %d, want %d", code, tt.code)
			}
			if want := strings.ReplaceAll(tt.stdout, "FILE", tt.file); stdout.String() != want {
				t.Errorf("stdout %q, want %q", stdout.String(), want)
			}
			if tt.code == 0 && stderr.Len() > 0 {
				t.Errorf("stderr %q, want nothing", stderr.String())
			}
			for _, s := range tt.stderr {
				if want := strings.ReplaceAll(s, "FILE", tt.file); !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr does not say %q", want)
				}
			}
			for _, s := range tt.lacks {
				if strings.Contains(stderr.String(), s) {
					t.Errorf("stderr says %q", s)
				}
			}
		})
	}

	t.Run("no file", func(t *testing.T) {
		out, err := strataCommand(t, "check", "config").CombinedOutput()
		if code := testenv.ExitCode(err); code != 2 || !strings.Contains(string(out), "file") {
			t.Errorf("exit %d, output %q; want 2 and a word about the missing file argument", code, out)
		}
	})
}

// TestStrataUp runs the real `strata up` with no configuration: it must find this host through
// its in-process exporter (the kernel uname -r reports, the OS image of /etc/os-release) and,
// where HAProxy's runtime socket is at its usual path, the load balancer behind it.
func TestStrataUp(t *testing.T) {
	truth := testenv.ReadThisHost(t)
	haproxyBackend := startSystemHAProxy(t)

	dir := t.TempDir()
	var (
		base string
		up   *upProcess
	)
	for attempt := 1; ; attempt++ { // another process may take the free port between pick and listen
		addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
		up = startUp(t, "up", "--storage.path="+filepath.Join(dir, "data"+strconv.Itoa(attempt)),
			"--web.listen-address="+addr, "--topology.refresh-interval=2s", "--log.level=warn")
		base = "http://" + addr
		_, err := testenv.TryWaitHTTP(base+"/-/ready", http.StatusOK, 60*time.Second, up.running)
		if err == nil {
			break
		}
		up.kill()
		if attempt == 3 || !strings.Contains(up.log.String(), "address already in use") {
			t.Fatalf("strata up: %v\n%s", err, up.log)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("strata up's log:\n%s", up.log)
		}
	})

	var graph struct {
		Nodes []struct {
			Kind  string            `json:"kind"`
			ID    string            `json:"id"`
			Attrs map[string]string `json:"attributes"`
		} `json:"nodes"`
	}
	testenv.Eventually(t, 30*time.Second, "this host in the graph", func() error {
		if err := getData(base+"/api/v1/topology/graph?kind=host", &graph); err != nil {
			return err
		}
		for _, n := range graph.Nodes {
			if n.Kind != "host" {
				return fmt.Errorf("graph?kind=host lists %s/%s", n.Kind, n.ID)
			}
			if n.ID != truth.Hostname {
				continue
			}
			if n.Attrs["kernel_release"] != truth.KernelRelease || n.Attrs["os_image"] != truth.PrettyName {
				return fmt.Errorf("host %s %v: want kernel_release %q (uname -r), os_image %q (os-release)",
					n.ID, n.Attrs, truth.KernelRelease, truth.PrettyName)
			}
			return nil
		}
		return fmt.Errorf("no host %s in %+v", truth.Hostname, graph.Nodes)
	})

	// make run's first words: where to open strata, and this host as it found it.
	testenv.Eventually(t, 60*time.Second, "strata up saying where to open it and what it found", func() error {
		out := up.log.String()
		if !strings.Contains(out, "strata is up: open "+base+"/\n") {
			return fmt.Errorf("no \"strata is up: open %s/\" in its output", base)
		}
		_, line, ok := strings.Cut(out, "  this host: "+truth.Hostname)
		if !ok {
			return fmt.Errorf("no \"this host: %s\" in its output", truth.Hostname)
		}
		line, _, _ = strings.Cut(line, "\n")
		if want := " (" + truth.PrettyName + ", kernel " + truth.KernelRelease + ")"; line != want {
			t.Errorf("this host: %q, want %q (os-release, uname -r)", line, want)
		}
		return nil
	})

	testenv.Eventually(t, 30*time.Second, "strata_topology_host_info on /metrics", func() error {
		fams, err := scrapeMetrics(base + "/metrics")
		if err != nil {
			return err
		}
		info, err := fams.Only("strata_topology_host_info", map[string]string{"host": truth.Hostname})
		if err != nil {
			return err
		}
		if info.Labels["kernel_release"] != truth.KernelRelease || info.Labels["os_image"] != truth.PrettyName {
			return fmt.Errorf("%v: want kernel_release %q, os_image %q", info, truth.KernelRelease, truth.PrettyName)
		}
		return nil
	})

	if haproxyBackend != "" {
		testenv.Eventually(t, 30*time.Second, "the local HAProxy's instance on /metrics", func() error {
			fams, err := scrapeMetrics(base + "/metrics")
			if err != nil {
				return err
			}
			row, err := fams.Only("strata_topology_path_info", map[string]string{"lb": "haproxy", "service": haproxyBackend, "server": "app"})
			if err != nil {
				return err
			}
			for k, want := range map[string]string{
				"position": "0", "address": "127.0.0.1", "health": "UP", "host": truth.Hostname, "kernel_release": truth.KernelRelease,
			} {
				if row.Labels[k] != want {
					return fmt.Errorf("%v: %s is %q, want %q", row, k, row.Labels[k], want)
				}
			}
			return nil
		})
	}

	checkClient(t, base, truth, haproxyBackend)

	// Its in-process exporter answers on a unix socket of a private directory, for the embedded
	// scraper alone: the process listens on no TCP port but its web address.
	if got, want := tcpListeners(t, up.cmd.Process.Pid), []string{strings.TrimPrefix(base, "http://")}; !slices.Equal(got, want) {
		t.Errorf("strata up listens on TCP %v, want only %v", got, want)
	}

	// SIGTERM ends it cleanly.
	if err := up.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-up.exited:
		if code := up.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("strata up exited %d after SIGTERM, want 0\n%s", code, up.log)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("strata up still runs 15 s after SIGTERM")
	}
}

// haproxySocket is the first place strata up looks for HAProxy's runtime API.
const haproxySocket = "/run/haproxy/admin.sock"

// startSystemHAProxy runs an HAProxy of the test's whose runtime socket is at haproxySocket,
// with one backend of one server on 127.0.0.1, and returns the backend's name; or "" (having
// logged why) when that cannot be done without touching someone else's HAProxy.
func startSystemHAProxy(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("haproxy"); err != nil {
		if testenv.InCI() {
			t.Fatalf("real part missing in CI: haproxy: %v", err)
		}
		t.Logf("not testing the local HAProxy: %v", err)
		return ""
	}
	if os.Geteuid() != 0 {
		t.Logf("not testing the local HAProxy: %s needs root", haproxySocket)
		return ""
	}
	if _, err := os.Lstat(haproxySocket); err == nil {
		t.Logf("not testing the local HAProxy: %s exists, and belongs to another HAProxy", haproxySocket)
		return ""
	}
	sockDir := filepath.Dir(haproxySocket)
	if _, err := os.Stat(sockDir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(sockDir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Remove(sockDir) }) // only if empty: someone may have used it since
	}

	return runHAProxy(t, haproxySocket)
}

// runHAProxy runs an HAProxy whose runtime socket is at sock, with one backend of one server
// on 127.0.0.1, until the test ends, and returns the backend's name.
func runHAProxy(t *testing.T, sock string) string {
	t.Helper()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "app\n") }))
	t.Cleanup(app.Close)
	backend := "strata_up_" + testenv.RandomHex(t, 4)
	testenv.StartHAProxy(t, func() string {
		return fmt.Sprintf(`global
  maxconn 64

`+testenv.HAProxyDefaults+`
backend %s
  server app %s check inter 300ms fall 1 rise 1
`, backend, app.Listener.Addr())
	}, testenv.HAProxySocket(sock))
	return backend
}

// tcpListeners lists the TCP addresses a process listens on (from its sockets' inodes in
// /proc/PID/fd and the LISTEN rows of /proc/PID/net/tcp and tcp6), as "ip:port".
func tcpListeners(t *testing.T, pid int) []string {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		if link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var out []string
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] { // 0A: LISTEN
				continue
			}
			hexIP, hexPort, _ := strings.Cut(f[1], ":")
			port, _ := strconv.ParseUint(hexPort, 16, 16)
			raw, _ := hex.DecodeString(hexIP)
			ip := make(net.IP, len(raw))
			for i := 0; i+4 <= len(raw); i += 4 { // the kernel writes each 32-bit word in host order
				ip[i], ip[i+1], ip[i+2], ip[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
			}
			out = append(out, net.JoinHostPort(ip.String(), strconv.FormatUint(port, 10)))
		}
	}
	slices.Sort(out)
	return out
}

// upProcess is a strata child process of the test.
type upProcess struct {
	cmd    *exec.Cmd
	log    *testenv.LockedBuffer
	exited chan struct{}
	once   sync.Once
}

func startUp(t *testing.T, args ...string) *upProcess {
	t.Helper()
	return startWrapped(t, nil, args...)
}

// startWrapped is startUp through a wrapping command, when wrap is not nil: wrap, then strata
// and its args (prlimit --nofile=512:512).
func startWrapped(t *testing.T, wrap []string, args ...string) *upProcess {
	t.Helper()
	p := &upProcess{cmd: strataCommand(t, args...), log: &testenv.LockedBuffer{}, exited: make(chan struct{})}
	if wrap != nil {
		exe := p.cmd.Path
		p.cmd.Path = testenv.Command(t, wrap[0])
		p.cmd.Args = append(append(append([]string{wrap[0]}, wrap[1:]...), "--", exe), args...)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // gone with the test, even a killed one
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(p.kill)
	return p
}

func (p *upProcess) kill() {
	p.once.Do(func() {
		select {
		case <-p.exited:
			return
		default:
		}
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
}

// running is nil while the process runs: what testenv.TryWaitHTTP asks.
func (p *upProcess) running() error {
	select {
	case <-p.exited:
		return fmt.Errorf("exited: %v", p.cmd.ProcessState)
	default:
		return nil
	}
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// getData GETs a JSON API URL and decodes the envelope's data into data.
func getData(url string, data any) error {
	resp, err := httpClient.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return fmt.Errorf("GET %s: %s: %v", url, resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK || env.Status != "success" {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, env.Error)
	}
	return json.Unmarshal(env.Data, data)
}

func scrapeMetrics(url string) (testenv.Families, error) { return testenv.Scrape(nil, url, nil) }

// checkClient asks the running strata up through strata query and strata promql, as a user
// would, and compares with this host's own truth.
func checkClient(t *testing.T, base string, truth testenv.ThisHost, haproxyBackend string) {
	t.Helper()
	strata := func(args ...string) (stdout, stderr string, code int) {
		cmd := strataCommand(t, append(args, "--server", base)...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), testenv.ExitCode(err)
	}
	out, errOut, code := strata("query", "host .kernel_release .os_image")
	if code != 0 || !strings.Contains(out, "KERNEL_RELEASE") {
		t.Fatalf("strata query: exit %d\n%s%s", code, out, errOut)
	}
	found := false
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "host" && f[1] == truth.Hostname {
			found = f[2] == truth.KernelRelease && strings.Contains(line, truth.PrettyName)
		}
	}
	if !found {
		t.Errorf("strata query: no row host %s %s %q in\n%s", truth.Hostname, truth.KernelRelease, truth.PrettyName, out)
	}

	out, _, code = strata("query", "-o", "json", "host{id="+strconv.Quote(truth.Hostname)+"} .kernel_release")
	var data struct {
		Columns []string   `json:"columns"`
		Rows    [][]string `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &data); code != 0 || err != nil || len(data.Rows) != 1 || data.Rows[0][2] != truth.KernelRelease {
		t.Errorf("strata query -o json: exit %d, %v: %s", code, err, out)
	}

	_, errOut, code = strata("query", "host -> hots")
	if code != 1 || !strings.Contains(errOut, `1:9: expected kind after "->", got "hots"; did you mean host?`) {
		t.Errorf("strata query with a typo: exit %d, stderr %q", code, errOut)
	}

	out, _, code = strata("query", "--explain", "promql", "lb -> host | count by (kernel_release)")
	if want := `count by (kernel_release) (count by (host, kernel_release) (strata_topology_path_info{host!=""}))`; code != 0 || strings.TrimSpace(out) != want {
		t.Errorf("strata query --explain promql: exit %d, %q, want %q", code, out, want)
	}

	out, errOut, code = strata("promql", "strata_topology_host_info{host="+strconv.Quote(truth.Hostname)+"}")
	if code != 0 || !strings.Contains(out, `kernel_release="`+truth.KernelRelease+`"`) {
		t.Errorf("strata promql: exit %d\n%s%s", code, out, errOut)
	}

	if haproxyBackend != "" {
		q := fmt.Sprintf("service{name=%q} -> instance[0] -> host .kernel_release", haproxyBackend)
		out, errOut, code = strata("query", q)
		if code != 0 || !strings.Contains(out, truth.Hostname) || !strings.Contains(out, truth.KernelRelease) {
			t.Errorf("strata query %s: exit %d\n%s%s", q, code, out, errOut)
		}
	}
}
