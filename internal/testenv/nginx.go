package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Nginx is a real nginx the test started: one process in the foreground (daemon off,
// master_process off), everything of it in Dir.
type Nginx struct {
	Bin     string // the nginx program
	Dir     string // its prefix: nginx.conf, nginx.pid, error.log, the temp paths
	Conf    string // Dir/nginx.conf
	Process *Process
}

// NginxBinary finds nginx, also where /usr/sbin is not on PATH.
func NginxBinary(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("nginx"); err != nil {
		if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
			return "/usr/sbin/nginx"
		}
	}
	return Command(t, "nginx")
}

// StartNginx runs nginx until the test ends on an nginx.conf in dir (a new temporary
// directory when dir is ""; files the configuration includes go there first) whose http block
// holds http after the boilerplate: nginx in the foreground as one process, its pid file, error
// log and temp paths in dir, no access log. It returns once nginx has written its pid file,
// which it does after binding every listen address; nginx's error.log is logged when the test
// has failed.
func StartNginx(t testing.TB, dir, http string) *Nginx {
	t.Helper()
	n := &Nginx{Bin: NginxBinary(t), Dir: dir}
	if n.Dir == "" {
		n.Dir = t.TempDir()
	}
	n.Conf = filepath.Join(n.Dir, "nginx.conf")
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events {
    worker_connections 64;
}
http {
    access_log off;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;

%[2]s}
`, n.Dir, http)
	if err := os.WriteFile(n.Conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	errorLog := filepath.Join(n.Dir, "error.log")
	n.Process = StartProcess(t, n.Bin, "-p", n.Dir+"/", "-e", errorLog, "-c", n.Conf)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(errorLog)
			t.Logf("nginx's error.log:\n%s%s", b, n.Process.Log())
		}
	})
	Eventually(t, 10*time.Second, "nginx's pid file", func() error {
		if err := n.Process.Running(); err != nil {
			b, _ := os.ReadFile(errorLog)
			t.Fatalf("%v\nerror.log:\n%s", err, b)
		}
		_, err := os.Stat(filepath.Join(n.Dir, "nginx.pid"))
		return err
	})
	return n
}
