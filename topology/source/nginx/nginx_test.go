package nginx_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/nginx"
)

func TestNew(t *testing.T) {
	if _, err := nginx.New(nginx.Config{ConfigFile: "/etc/nginx/nginx.conf"}); err == nil || !strings.Contains(err.Error(), "name is empty") {
		t.Errorf("no name: %v", err)
	}
	if _, err := nginx.New(nginx.Config{Name: "legacy"}); err == nil || !strings.Contains(err.Error(), "config file is empty") {
		t.Errorf("no config file: %v", err)
	}
	if _, err := nginx.New(nginx.Config{Name: "legacy", ConfigFile: "x", Timeout: -1}); err == nil || !strings.Contains(err.Error(), "negative timeout") {
		t.Errorf("negative timeout: %v", err)
	}
	s, err := nginx.New(nginx.Config{Name: "legacy", ConfigFile: "/nonexistent/nginx.conf"})
	if err != nil || s.Name() != "legacy" {
		t.Fatalf("New = %v, %v", s, err)
	}
	if _, err := s.ListLoadBalancers(context.Background()); err == nil || !strings.Contains(err.Error(), "/nonexistent/nginx.conf") {
		t.Errorf("missing config file: %v", err)
	}
	s, _ = nginx.New(nginx.Config{Name: "legacy", ConfigFile: "/etc/nginx/nginx.conf", UseNginxT: true, Binary: "/nonexistent/nginx"})
	if _, err := s.ListLoadBalancers(context.Background()); err == nil || !strings.Contains(err.Error(), "/nonexistent/nginx -T") {
		t.Errorf("missing nginx binary: %v", err)
	}
}

// TestRealNginx runs Debian's nginx on a config with an upstream in nginx.conf and one in an
// included file, checks that requests through it reach the backends (the config is real),
// then reads it both ways: the files with their includes, and `nginx -T`.
func TestRealNginx(t *testing.T) {
	app1, app2, other := backend(t, "app1"), backend(t, "app2"), backend(t, "other")
	listen, backup := testenv.FreeAddr(t), testenv.FreeAddr(t)
	dir := t.TempDir()
	writeFile(t, dir, "conf.d/other.conf", fmt.Sprintf(`upstream other {
    server %s max_fails=2 fail_timeout=5s;
    server %s backup;
    server "unix:%s/nothing.sock" down;
}
`, hostPort(other), backup, dir))
	n := testenv.StartNginx(t, dir, fmt.Sprintf(`    upstream app {
        server %s weight=3;
        server %s;
    }
    include conf.d/*.conf;

    server {
        listen %s;
        location / {
            proxy_pass http://app;
        }
        location /other/ {
            proxy_pass http://other/;
        }
    }
`, hostPort(app1), hostPort(app2), listen))
	bin, conf := n.Bin, n.Conf

	if body := get(t, "http://"+listen+"/"); body != "app1" && body != "app2" {
		t.Fatalf("request through nginx answered %q, want app1 or app2", body)
	}
	if body := get(t, "http://"+listen+"/other/"); body != "other" {
		t.Fatalf("request through nginx to /other/ answered %q, want other", body)
	}

	instance := func(addr string, pos, weight int) source.Instance {
		host, port, _ := net.SplitHostPort(addr)
		p, _ := strconv.Atoi(port)
		return source.Instance{Name: addr, Address: host, Port: p, Position: pos, Health: source.HealthUp, Weight: weight, TrafficNote: noCounts}
	}
	backupInstance := instance(backup, 1, 1)
	backupInstance.Labels = map[string]string{"backup": "true"}
	unix := "unix:" + dir + "/nothing.sock"
	want := []source.LB{{
		Name: "legacy", Provider: "nginx", Host: "node-1", Addresses: []string{listen},
		Services: []source.Service{
			{Name: "app", TrafficNote: noCounts, Instances: []source.Instance{instance(hostPort(app1), 0, 3), instance(hostPort(app2), 1, 1)}},
			{Name: "other", TrafficNote: noCounts, Instances: []source.Instance{
				instance(hostPort(other), 0, 1),
				backupInstance,
				{Name: unix, Address: unix, Position: 2, Health: source.HealthMaint, Weight: 1, TrafficNote: noCounts},
			}},
		},
	}}
	for _, useNginxT := range []bool{false, true} {
		t.Run(fmt.Sprintf("UseNginxT=%v", useNginxT), func(t *testing.T) {
			s, err := nginx.New(nginx.Config{Name: "legacy", ConfigFile: conf, Host: "node-1", UseNginxT: useNginxT, Binary: bin})
			if err != nil {
				t.Fatal(err)
			}
			lbs, err := s.ListLoadBalancers(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(lbs, want) {
				t.Errorf("\n got %+v\nwant %+v", lbs, want)
			}
		})
	}
}

// noCounts is every nginx service's and instance's signal_note.
const noCounts = "open-source nginx counts no traffic per upstream: its stub_status counts all its requests together"

// TestRealNginxCountsNothingPerUpstream runs nginx with its one counter page, stub_status, in
// front of an upstream whose second server answers 500 to every request. nginx counts the
// requests, but of the whole nginx, with no upstream, server or status in them: the source
// gives the upstream and its servers no counts, and says why, rather than a share of the total.
func TestRealNginxCountsNothingPerUpstream(t *testing.T) {
	ok := backend(t, "ok")
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	t.Cleanup(bad.Close)
	listen := testenv.FreeAddr(t)
	n := testenv.StartNginx(t, "", fmt.Sprintf(`    upstream app {
        server %s;
        server %s;
    }
    server {
        listen %s;
        location / {
            proxy_pass http://app;
        }
        location = /nginx_status {
            stub_status;
        }
    }
`, hostPort(ok), hostPort(bad), listen))

	answers := map[int]int{}
	for range 10 {
		resp, err := http.Get("http://" + listen + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		answers[resp.StatusCode]++
	}
	if answers[http.StatusInternalServerError] == 0 {
		t.Fatalf("the clients got %v, want some 500s from the bad server", answers)
	}
	// All stub_status says: connections and requests of the whole nginx, and the connections'
	// states now.
	status := get(t, "http://"+listen+"/nginx_status")
	m := regexp.MustCompile(`^Active connections: \d+ \nserver accepts handled requests\n \d+ \d+ (\d+) \nReading: \d+ Writing: \d+ Waiting: \d+ \n$`).
		FindStringSubmatch(status)
	if m == nil {
		t.Fatalf("stub_status answered %q: want its global counts alone", status)
	}
	if requests, _ := strconv.Atoi(m[1]); requests < 11 {
		t.Fatalf("stub_status counts %d requests, want all of nginx's: the 10 proxied and itself", requests)
	}

	s, err := nginx.New(nginx.Config{Name: "legacy", ConfigFile: n.Conf})
	if err != nil {
		t.Fatal(err)
	}
	lbs, err := s.ListLoadBalancers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	svc := lbs[0].Services[0]
	if svc.Name != "app" || svc.Traffic != nil || svc.TrafficNote != noCounts || len(svc.Instances) != 2 {
		t.Fatalf("service %+v: want app, no counts, and why", svc)
	}
	for _, inst := range svc.Instances {
		if inst.Traffic != nil || inst.TrafficNote != noCounts {
			t.Errorf("instance %s: traffic %v, note %q; want none, and why", inst.Name, inst.Traffic, inst.TrafficNote)
		}
	}
}

// TestRealNginxSyntaxErrors writes broken files, included from a valid nginx.conf, and checks
// that nginx -t rejects each at the file and line where the source's error points, in both
// modes.
func TestRealNginxSyntaxErrors(t *testing.T) {
	bin := testenv.NginxBinary(t)
	tests := []struct {
		name, broken string
	}{
		{"extra brace", "upstream a {\n    server 127.0.0.1:1;\n}\n}\n"},
		{"missing semicolon", "upstream a {\n    server 127.0.0.1:1\n}\n"},
		{"unclosed block", "upstream a {\n    server 127.0.0.1:1;\n\n"},
		{"text after a quote", "upstream a {\n    server \"127.0.0.1:1\"x;\n}\n"},
		{"lone semicolon", "# nothing\n\n;\n"},
		{"unclosed quote", "upstream a {\n    server \"127.0.0.1:1;\n}\n"},
	}
	nginxSays := regexp.MustCompile(` in (\S+):(\d+)\n`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			conf := writeFile(t, dir, "nginx.conf", fmt.Sprintf("pid %[1]s/nginx.pid;\nerror_log %[1]s/error.log;\nevents {}\nhttp {\n    include conf.d/*.conf;\n}\n", dir))
			broken := writeFile(t, dir, "conf.d/broken.conf", tt.broken)

			out, err := exec.Command(bin, "-t", "-p", dir+"/", "-e", filepath.Join(dir, "error.log"), "-c", conf).CombinedOutput()
			m := nginxSays.FindSubmatch(out)
			if err == nil || m == nil || string(m[1]) != broken {
				t.Fatalf("nginx -t: %v, %s; want it to reject %s", err, out, broken)
			}
			line, _ := strconv.Atoi(string(m[2]))

			s, _ := nginx.New(nginx.Config{Name: "legacy", ConfigFile: conf})
			_, err = s.ListLoadBalancers(context.Background())
			var ce *nginx.ConfigError
			if !errors.As(err, &ce) || ce.File != broken || ce.Line != line {
				t.Errorf("reading the files: %v; nginx -t says %s:%d", err, broken, line)
			}
			t.Logf("nginx -t says %s:%d, the source %v", broken, line, err)

			s, _ = nginx.New(nginx.Config{Name: "legacy", ConfigFile: conf, UseNginxT: true, Binary: bin})
			_, err = s.ListLoadBalancers(context.Background())
			if want := fmt.Sprintf("%s:%d", broken, line); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("with nginx -T: %v, want …%s…", err, want)
			}
		})
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	file := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// backend is an HTTP server on 127.0.0.1 that answers its name.
func backend(t *testing.T, name string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, name)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func hostPort(srv *httptest.Server) string { return srv.Listener.Addr().String() }

func get(t *testing.T, url string) string {
	t.Helper()
	b, err := testenv.CheckHTTP(url, http.StatusOK)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
