// Package packaging holds the nfpm configurations of strata's .deb and .rpm packages (make
// packages, scripts/packages) and the test that installs them.
package packaging

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/strata-obs/strata/internal/testenv"
)

// TestDebianPackages builds the packages twice (0.1.0, then 0.2.0), installs the first with
// dpkg on this Debian machine, upgrades to the second and purges them, checking each step
// against the system's own answers (dpkg, getent, the files, systemd-analyze, the installed
// exporter's port): the user and the configuration an operator changed are kept on upgrade,
// and everything goes on purge. The .rpm's are read with rpm -qp. It installs into this
// machine: it runs under CI=true or STRATA_TEST_PACKAGES=1.
func TestDebianPackages(t *testing.T) {
	if os.Getenv("CI") != "true" && os.Getenv("STRATA_TEST_PACKAGES") == "" {
		t.Skip("installs packages into this machine: runs under CI=true or STRATA_TEST_PACKAGES=1")
	}
	testenv.Root(t)
	for _, cmd := range []string{"dpkg", "rpm", "systemd-analyze", "make"} {
		testenv.Command(t, cmd)
	}
	for _, p := range []string{"strata", "strata-exporter"} {
		if out, err := exec.Command("dpkg-query", "-W", "-f=${db:Status-Status}", p).Output(); err == nil && string(out) == "installed" {
			t.Fatalf("%s is installed on this machine already: the test would replace it", p)
		}
	}
	t.Cleanup(func() { run(t, "dpkg", "--purge", "strata", "strata-exporter") })

	dir := t.TempDir()
	build := func(version string) map[string]string {
		cmd := exec.Command("make", "-C", "..", "packages")
		cmd.Env = append(os.Environ(), "PKG_VERSION="+version)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make packages (%s): %v\n%s", version, err, out)
		}
		files := map[string]string{}
		for _, name := range []string{"strata", "strata-exporter"} {
			for _, ext := range []string{"deb", "rpm"} {
				matches, _ := filepath.Glob(filepath.Join("..", "dist", name+"_"+version+"_*."+ext))
				if len(matches) != 1 {
					t.Fatalf("dist/%s_%s_<arch>.%s: found %q", name, version, ext, matches)
				}
				dst := filepath.Join(dir, filepath.Base(matches[0]))
				copyFile(t, matches[0], dst)
				files[name+"."+ext] = dst
			}
		}
		return files
	}
	v1, v2 := build("0.1.0"), build("0.2.0")

	// The .rpm's contents, by rpm itself.
	list := run(t, "rpm", "-qlp", v1["strata.rpm"])
	for _, f := range []string{"/usr/bin/strata", "/usr/lib/systemd/system/strata.service", "/etc/strata/strata.yml", "/etc/default/strata",
		"/usr/share/man/man1/strata.1.gz", "/usr/share/bash-completion/completions/strata", "/usr/share/licenses/strata/LICENSE"} {
		if !slices.Contains(strings.Fields(list), f) {
			t.Errorf("strata's rpm lacks %s:\n%s", f, list)
		}
	}
	if conf := strings.Fields(run(t, "rpm", "-qp", "--configfiles", v1["strata.rpm"])); !slices.Equal(conf, []string{"/etc/default/strata", "/etc/strata/strata.yml"}) {
		t.Errorf("strata's rpm's configuration files %q", conf)
	}
	if scripts := run(t, "rpm", "-qp", "--scripts", v1["strata.rpm"]); !strings.Contains(scripts, "useradd --system") {
		t.Errorf("strata's rpm makes no system user:\n%s", scripts)
	}
	if list := run(t, "rpm", "-qlp", v1["strata-exporter.rpm"]); !strings.Contains(list, "/usr/bin/strata-exporter") {
		t.Errorf("strata-exporter's rpm:\n%s", list)
	}

	// Install.
	run(t, "dpkg", "-i", v1["strata-exporter.deb"], v1["strata.deb"])
	if v := run(t, "dpkg-query", "-W", "-f=${Version}", "strata"); v != "0.1.0" {
		t.Fatalf("installed strata %q, want 0.1.0", v)
	}
	user := run(t, "getent", "passwd", "strata")
	if !strings.Contains(user, ":/var/lib/strata:/usr/sbin/nologin") {
		t.Errorf("the strata user: %q", user)
	}
	if owner := run(t, "stat", "-c", "%U:%G %a", "/var/lib/strata"); owner != "strata:strata 750" {
		t.Errorf("/var/lib/strata: %s, want strata:strata 750", owner)
	}
	if conf := run(t, "dpkg-query", "-W", "-f=${Conffiles}", "strata"); !strings.Contains(conf, "/etc/strata/strata.yml") || !strings.Contains(conf, "/etc/default/strata") {
		t.Errorf("strata's conffiles: %q", conf)
	}
	for _, f := range []string{"/usr/share/man/man1/strata.1.gz", "/usr/share/man/man1/strata-exporter.1.gz", "/usr/share/doc/strata/copyright",
		"/usr/share/bash-completion/completions/strata", "/usr/share/zsh/vendor-completions/_strata-exporter"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("installed: %v", err)
		}
	}
	if out := run(t, "/usr/bin/strata", "check", "config", "/etc/strata/strata.yml"); !strings.Contains(out, "OK") {
		t.Errorf("the shipped configuration: %s", out)
	}
	for _, unit := range []string{"strata.service", "strata-exporter.service"} {
		if out, err := exec.Command("systemd-analyze", "verify", "/lib/systemd/system/"+unit).CombinedOutput(); err != nil {
			t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out)
		}
	}
	if unit, _ := os.ReadFile("/lib/systemd/system/strata.service"); !strings.Contains(string(unit), "User=strata") || strings.Contains(string(unit), "DynamicUser") ||
		!strings.Contains(string(unit), "ExecReload=") || !strings.Contains(string(unit), "/usr/bin/strata serve") {
		t.Errorf("strata.service:\n%s", unit)
	}

	// The installed exporter answers on its port.
	addr := testenv.FreeAddr(t)
	exporter := testenv.StartProcess(t, "/usr/bin/strata-exporter", "--web.listen-address="+addr)
	body := testenv.WaitHTTP(t, "http://"+addr+"/metrics", http.StatusOK, exporter)
	if !strings.Contains(string(body), "strata_host_info{") {
		t.Errorf("the installed strata-exporter's /metrics has no strata_host_info:\n%.500s", body)
	}

	// An operator's changes, then the upgrade.
	appendFile(t, "/etc/strata/strata.yml", "# the operator's line\n")
	if err := os.WriteFile("/var/lib/strata/kept", []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, "dpkg", "-i", v2["strata-exporter.deb"], v2["strata.deb"])
	if v := run(t, "dpkg-query", "-W", "-f=${Version}", "strata"); v != "0.2.0" {
		t.Errorf("upgraded strata %q, want 0.2.0", v)
	}
	if conf, _ := os.ReadFile("/etc/strata/strata.yml"); !strings.Contains(string(conf), "# the operator's line") {
		t.Errorf("the upgrade replaced the operator's configuration:\n%s", conf)
	}
	if _, err := os.Stat("/var/lib/strata/kept"); err != nil {
		t.Errorf("the upgrade lost --storage.path's data: %v", err)
	}
	if _, err := exec.Command("getent", "passwd", "strata").Output(); err != nil {
		t.Errorf("the upgrade removed the strata user")
	}

	// Purge: nothing left.
	run(t, "dpkg", "--purge", "strata", "strata-exporter")
	for _, f := range []string{"/usr/bin/strata", "/usr/bin/strata-exporter", "/etc/strata", "/etc/default/strata", "/var/lib/strata", "/lib/systemd/system/strata.service"} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s after purge: %v", f, err)
		}
	}
	if _, err := exec.Command("getent", "passwd", "strata").Output(); err == nil {
		t.Errorf("the strata user outlived the purge")
	}
}

// run runs a command and returns its output, trimmed; a failure fails the test.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprint(f, text); err != nil {
		t.Fatal(err)
	}
}
