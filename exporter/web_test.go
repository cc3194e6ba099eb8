package exporter_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-obs/strata/internal/testenv"
)

// TestWebTLSAndBasicAuth serves through --web.config.file (exporter-toolkit) with a
// self-signed certificate and a bcrypt-hashed password: only HTTPS with the right password
// gets the metrics.
func TestWebTLSAndBasicAuth(t *testing.T) {
	web := testenv.NewWebConfig(t, t.TempDir())
	user, password := web.User, web.Password
	srv := serve(t, hostOptions("identity", "kernel", "os"), web.File)
	get := func(scheme, path, user, password string) (int, string, error) {
		return web.Get(scheme, srv.addr, path, user, password)
	}

	code, body, err := get("https", "/metrics", user, password)
	if err != nil || code != http.StatusOK {
		t.Fatalf("https with the right password: %d %v\n%s", code, err, body)
	}
	fams, err := testenv.ParseMetrics([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fams.One(t, "strata_host_info", nil).Labels["kernel_release"], readTrim(t, "/proc/sys/kernel/osrelease"); got != want {
		t.Errorf("over https: kernel_release = %q, want %q", got, want)
	}
	for _, path := range []string{"/-/healthy", "/-/ready"} {
		if code, body, err := get("https", path, user, password); err != nil || code != http.StatusOK {
			t.Errorf("https %s with the right password: %d %v %s", path, code, err, body)
		}
	}

	for _, c := range []struct{ what, user, password string }{
		{"a wrong password", user, password + "x"},
		{"an unknown user", "mallory", password},
		{"no password", "", ""},
	} {
		code, body, err := get("https", "/metrics", c.user, c.password)
		if err != nil || code != http.StatusUnauthorized {
			t.Errorf("https with %s: %d %v, want 401", c.what, code, err)
		}
		if strings.Contains(body, "strata_host_info") {
			t.Errorf("https with %s leaked the metrics", c.what)
		}
	}

	code, body, err = get("http", "/metrics", user, password)
	if err == nil && code == http.StatusOK {
		t.Errorf("plain http answered 200")
	}
	if strings.Contains(body, "strata_host_info") {
		t.Errorf("plain http leaked the metrics")
	}
}

// TestWebEndpoints checks the plain HTTP server's health, readiness and landing page.
func TestWebEndpoints(t *testing.T) {
	srv := serve(t, hostOptions("kernel"), "")
	for _, path := range []string{"/-/healthy", "/-/ready", "/"} {
		resp, err := http.Get(srv.url(path))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s %s", path, resp.Status, body)
		}
		if path == "/" && !strings.Contains(string(body), "/metrics") {
			t.Errorf("the landing page does not link /metrics:\n%s", body)
		}
	}
}

// TestMalformedOSReleaseFailsOnlyTheOSCollector serves a host whose os-release is garbage: the
// answer is still 200, the os collector reports its failure, the kernel facts are there.
func TestMalformedOSReleaseFailsOnlyTheOSCollector(t *testing.T) {
	uname := testenv.Command(t, "uname")
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	garbage := "ID=debian\nthis is not os-release\n\x00\xff\xfe PRETTY_NAME=\"unterminated\n"
	if err := os.WriteFile(filepath.Join(root, "etc", "os-release"), []byte(garbage), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := hostOptions("identity", "kernel", "os")
	opts.Collector.RootFS = root
	srv := serve(t, opts, "")
	fams := scrape(t, nil, srv.url("/metrics"), nil)

	for collector, want := range map[string]float64{"os": 0, "kernel": 1, "identity": 1} {
		if got := fams.One(t, "strata_exporter_collector_success", map[string]string{"collector": collector}).Value; got != want {
			t.Errorf("strata_exporter_collector_success{collector=%q} = %g, want %g", collector, got, want)
		}
	}
	info := fams.One(t, "strata_host_info", nil).Labels
	if got, want := info["kernel_release"], testenv.Output(t, uname, "-r"); got != want {
		t.Errorf("kernel_release = %q, uname -r says %q", got, want)
	}
}

// TestTinyScrapeTimeout: with Prometheus's timeout header far shorter than any scrape, the
// answer is still a valid 200 that says which collectors made it.
func TestTinyScrapeTimeout(t *testing.T) {
	opts := hostOptions()
	srv := serve(t, opts, "")
	fams := scrape(t, nil, srv.url("/metrics"), http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {"0.001"}})
	for _, name := range opts.Enabled {
		fams.One(t, "strata_exporter_collector_success", map[string]string{"collector": name})
	}
	fams.One(t, "strata_host_info", nil) // the host is named even when no fact made it
}

// TestHugeScrapeTimeout: a timeout header past what a Duration holds (1e10 s), infinite or not
// a number is no reason to fail the scrape: every collector still succeeds (an overflow gave
// a deadline already past, and every collector failed).
func TestHugeScrapeTimeout(t *testing.T) {
	opts := hostOptions("identity", "kernel", "os")
	srv := serve(t, opts, "")
	for _, v := range []string{"1e10", "+Inf", "NaN", "-5", "9223372036.854775807"} {
		fams := scrape(t, nil, srv.url("/metrics"), http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {v}})
		for _, name := range opts.Enabled {
			if got := fams.One(t, "strata_exporter_collector_success", map[string]string{"collector": name}).Value; got != 1 {
				t.Errorf("timeout header %s: collector %s success = %g, want 1", v, name, got)
			}
		}
	}
}
