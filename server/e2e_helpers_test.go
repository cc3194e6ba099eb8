package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/strata-obs/strata/exporter"
	"github.com/strata-obs/strata/exporter/collector"
	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/server"
)

// The end-to-end tests run strata's App (storage, scraper, in-process exporter, refresh loop,
// HTTP API) against real load balancers, real podman containers and real host processes, and
// compare what the API and /metrics answer with what the system itself says (uname -r,
// /etc/os-release, podman inspect, /proc, HAProxy's runtime API). Everything listens on
// 127.0.0.1; every process and container is removed when the test ends.

// pollTimeout bounds a wait for the graph to show something: the first scrape lands a
// second or two after start, the first refresh after the refresh interval, and a change
// needs a scrape and a refresh more.
const pollTimeout = 45 * time.Second

// testLogger logs warnings and errors into the test's log.
func testLogger(t testing.TB) *slog.Logger { return testenv.Logger(t, slog.LevelWarn) }

// exporterOptions is strata up's in-process exporter on this machine: every default
// collector, the real /proc, /sys and /, and the given Docker-API sockets.
func exporterOptions(dockerSockets ...string) *exporter.Options {
	var enabled []string
	for _, f := range collector.Factories() {
		if f.DefaultEnabled {
			enabled = append(enabled, f.Name)
		}
	}
	return &exporter.Options{
		Collector: collector.Config{ProcFS: "/proc", SysFS: "/sys", RootFS: "/",
			AddressLister: collector.NewNetlinkAddressLister(), DockerSockets: dockerSockets},
		Enabled: enabled,
	}
}

// app is a server.App running in the test until it ends, serving on 127.0.0.1.
type app struct {
	base string // http://127.0.0.1:port
	*server.App
	stop func() // ends Run and waits for it (once); the test's end does it too
}

// startApp builds the app from opts (a listen address of its own, and a fresh storage
// directory unless opts names one) and runs it until the test ends or stop; it returns once
// the HTTP API answers.
func startApp(t *testing.T, opts server.Options) *app {
	t.Helper()
	return startAppWith(t, opts, testLogger(t))
}

// startAppWith is startApp logging to logger.
func startAppWith(t *testing.T, opts server.Options, logger *slog.Logger) *app {
	t.Helper()
	return startAppOn(t, "", opts, logger)
}

// startAppOn is startAppWith listening on addr, when the test must know it before (a redirect
// URL registered with an OpenID Connect provider); "" picks a free port.
func startAppOn(t *testing.T, addr string, opts server.Options, logger *slog.Logger) *app {
	t.Helper()
	var lastErr error
	fixed := addr != ""
	for range 3 { // another process may take the free port between pick and listen
		if addr == "" {
			addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t)))
		}
		addrs, systemd, configFile := []string{addr}, false, ""
		opts.WebConfig = &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &systemd, WebConfigFile: &configFile}
		if opts.StoragePath == "" {
			opts.StoragePath = t.TempDir()
		}
		ctx, cancel := context.WithCancel(context.Background())
		a, err := server.New(ctx, opts, logger)
		if err != nil {
			cancel()
			t.Fatalf("server.New: %v", err)
		}
		errc := make(chan error, 1)
		go func() { errc <- a.Run(ctx) }()
		base := "http://" + addr
		running := func() error {
			select {
			case err := <-errc:
				return fmt.Errorf("App.Run returned before serving: %v", err)
			default:
				return nil
			}
		}
		if _, lastErr = testenv.TryWaitHTTP(base+"/-/healthy", http.StatusOK, 15*time.Second, running); lastErr != nil {
			cancel()
			if fixed {
				break
			}
			addr = ""
			continue
		}
		stop := sync.OnceFunc(func() {
			cancel()
			select {
			case err := <-errc:
				if err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("App.Run: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("App.Run did not return 15 s after its context ended")
			}
		})
		t.Cleanup(stop)
		return &app{base: base, App: a, stop: stop}
	}
	t.Fatalf("start the app: %v", lastErr)
	return nil
}

// The JSON API's answers, as a client reads them.

// apiEntity is an entity as the API shows it, printed the way a test's message wants it.
type apiEntity server.EntityJSON

func (e apiEntity) String() string {
	return fmt.Sprintf("%s/%s%v stale=%v sources=%v", e.Kind, e.ID, e.Attrs, e.Stale, e.Sources)
}

type apiEdge = server.EdgeJSON

type apiGraph struct {
	Nodes    []apiEntity `json:"nodes"`
	Edges    []apiEdge   `json:"edges"`
	Warnings []string    `json:"-"`
}

// node finds an entity of the graph by kind and id.
func (g apiGraph) node(kind, id string) (apiEntity, bool) {
	for _, n := range g.Nodes {
		if n.Kind == kind && n.ID == id {
			return n, true
		}
	}
	return apiEntity{}, false
}

// down lists the refs ("kind/id") an entity has edges to.
func (g apiGraph) down(ref string) []string {
	var out []string
	for _, e := range g.Edges {
		if e.From == ref {
			out = append(out, e.To)
		}
	}
	return out
}

type apiEntityAnswer struct {
	Entity     apiEntity            `json:"entity"`
	Up         []apiEdge            `json:"up"`
	Down       []apiEdge            `json:"down"`
	Neighbours map[string]apiEntity `json:"neighbours"`
	Paths      []map[string]string  `json:"paths"`
}

type apiSource struct {
	Name     string    `json:"name"`
	Kind     string    `json:"kind"`
	Up       bool      `json:"up"`
	LastSeen time.Time `json:"last_seen"`
	Error    string    `json:"error"`
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// getAPI GETs a JSON API path and decodes the envelope's data into data; the warnings are
// returned.
func getAPI(base, path string, data any) ([]string, error) {
	resp, err := httpClient.Get(base + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	var env struct {
		Status   string          `json:"status"`
		Data     json.RawMessage `json:"data"`
		Error    string          `json:"error"`
		Warnings []string        `json:"warnings"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("GET %s: %s: not the API's envelope: %v: %.300s", path, resp.Status, err, body)
	}
	if resp.StatusCode != http.StatusOK || env.Status != "success" {
		return env.Warnings, fmt.Errorf("GET %s: %s: %s", path, resp.Status, env.Error)
	}
	if err := json.Unmarshal(env.Data, data); err != nil {
		return env.Warnings, fmt.Errorf("GET %s: decode data: %v", path, err)
	}
	return env.Warnings, nil
}

func (a *app) graph(kind string) (apiGraph, error) {
	path := "/api/v1/topology/graph"
	if kind != "" {
		path += "?kind=" + url.QueryEscape(kind)
	}
	var g apiGraph
	w, err := getAPI(a.base, path, &g)
	g.Warnings = w
	return g, err
}

// onlyHost is the graph's one host, or an error that says why not or which of want's
// attributes it lacks.
func (a *app) onlyHost(want map[string]string) (apiEntity, error) {
	g, err := a.graph("host")
	if err != nil {
		return apiEntity{}, err
	}
	if len(g.Nodes) != 1 {
		return apiEntity{}, fmt.Errorf("want one host, got %v (warnings %v)", g.Nodes, g.Warnings)
	}
	h := g.Nodes[0]
	for k, v := range want {
		if h.Attrs[k] != v {
			return h, fmt.Errorf("host %v: %s is %q, want %q", h, k, h.Attrs[k], v)
		}
	}
	return h, nil
}

func (a *app) entity(kind, id string) (apiEntityAnswer, error) {
	var e apiEntityAnswer
	_, err := getAPI(a.base, "/api/v1/topology/entity/"+kind+"/"+id, &e)
	return e, err
}

func (a *app) sources() ([]apiSource, error) {
	var s []apiSource
	_, err := getAPI(a.base, "/api/v1/topology/sources", &s)
	return s, err
}

func scrapeMetrics(url string) (testenv.Families, error) { return testenv.Scrape(httpClient, url, nil) }

// process is a program the test started; it ends with the test.
type process = testenv.Process

// hostHTTPD is busybox httpd serving a directory on 127.0.0.1:port as a plain host process.
func hostHTTPD(t testing.TB, busybox string, port int) *process {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("host process\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testenv.StartProcess(t, busybox, "httpd", "-f", "-p", "127.0.0.1:"+strconv.Itoa(port), "-h", dir)
	testenv.WaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 0, p)
	return p
}

// procComm is a process's comm, as /proc shows it (and strata-exporter reports it).
func procComm(t testing.TB, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// Podman: the containers of the tests, from busybox-static's /bin/busybox imported as an
// image (no registry can be reached), served over podman's Docker-compatible API on a socket
// of the test's own.

const e2eImage = "localhost/strata-e2e:1"

type podman struct {
	bin  string
	sock string // the Docker-compatible API's socket
}

// startPodman checks for podman, runc and busybox, imports the image if needed and starts the
// API service.
func startPodman(t *testing.T) *podman {
	t.Helper()
	testenv.Root(t)
	p := &podman{bin: testenv.Command(t, "podman")}
	testenv.Command(t, "runc")
	p.ensureImage(t, testenv.Command(t, "busybox"))
	p.sock = filepath.Join(t.TempDir(), "podman.sock")
	svc := testenv.StartProcess(t, p.bin, testenv.PodmanArgs("system", "service", "--time=0", "unix://"+p.sock)...)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", p.sock)
		},
	}}
	testenv.Eventually(t, 30*time.Second, "podman API service", func() error {
		if err := svc.Running(); err != nil {
			t.Fatal(err)
		}
		resp, err := client.Get("http://podman/_ping")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("_ping: %s", resp.Status)
		}
		return nil
	})
	// SIGTERM first: podman's service cleans up its socket and state on it.
	t.Cleanup(func() {
		_ = syscall.Kill(-svc.Pid(), syscall.SIGTERM)
		select {
		case <-svc.Exited():
		case <-time.After(10 * time.Second):
		}
	})
	return p
}

func (p *podman) run(args ...string) (string, error) {
	return testenv.TryOutput(p.bin, testenv.PodmanArgs(args...)...)
}

func (p *podman) must(t testing.TB, args ...string) string {
	t.Helper()
	out, err := p.run(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// httpdContainer runs busybox httpd on port 8080 in a container published at
// 127.0.0.1:hostPort, and returns its name and full id (podman inspect).
func (p *podman) httpdContainer(t testing.TB, hostPort int) (name, id string) {
	t.Helper()
	name = "strata-e2e-" + testenv.RandomHex(t, 6)
	t.Cleanup(func() { _, _ = p.run("rm", "-f", "-t", "0", name) })
	p.must(t, "run", "-d", "--name", name,
		"--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
		"-p", fmt.Sprintf("127.0.0.1:%d:8080", hostPort),
		e2eImage, "/bin/httpd", "-f", "-p", "8080", "-h", "/www")
	testenv.WaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", hostPort), 0, nil)
	return name, p.must(t, "inspect", "-f", "{{.Id}}", name)
}

// ensureImage imports e2eImage from a busybox rootfs unless podman has it already.
func (p *podman) ensureImage(t testing.TB, busybox string) {
	t.Helper()
	if _, err := p.run("image", "exists", e2eImage); err == nil {
		return
	}
	rootfs := t.TempDir()
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc", "www"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"sh", "httpd"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(rootfs, "www", "index.html"), []byte("container\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tar := exec.Command(testenv.Command(t, "tar"), "-C", rootfs, "-c", ".")
	imp := exec.Command(p.bin, testenv.PodmanArgs("import", "--change", `CMD ["/bin/sh"]`, "-", e2eImage)...)
	pipe, err := tar.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	imp.Stdin = pipe
	var out bytes.Buffer
	imp.Stdout, imp.Stderr = &out, &out
	if err := tar.Start(); err != nil {
		t.Fatal(err)
	}
	if err := imp.Run(); err != nil {
		_ = tar.Wait()
		t.Fatalf("podman import: %v\n%s", err, out.String())
	}
	if err := tar.Wait(); err != nil {
		t.Fatalf("tar: %v", err)
	}
}

// queryAPI evaluates expr at a time through the /api/v1/query of Prometheus's HTTP API at base.
// A zero time is now.
func queryAPI(base, expr string, at time.Time) ([]testenv.Sample, error) {
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	params := url.Values{"query": {expr}}
	if !at.IsZero() {
		params.Set("time", unix(at))
	}
	if _, err := getAPI(base, "/api/v1/query?"+params.Encode(), &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("%s: a %s, not a vector", expr, data.ResultType)
	}
	out := make([]testenv.Sample, 0, len(data.Result))
	for _, r := range data.Result {
		s, ok := r.Value[1].(string)
		if !ok {
			return nil, fmt.Errorf("%s: value %v", expr, r.Value)
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: value %v: %w", expr, r.Value, err)
		}
		out = append(out, testenv.Sample{Labels: r.Metric, Value: v})
	}
	return out, nil
}
