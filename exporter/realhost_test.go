package exporter_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-obs/strata/exporter/collector"
	"github.com/strata-obs/strata/internal/kernelversion"
	"github.com/strata-obs/strata/internal/testenv"
)

// TestRealHostFacts runs the exporter on this machine's /proc, /sys and / and checks each host
// fact against what the system itself says: uname, /proc, /etc/os-release read by the shell,
// /etc/machine-id.
func TestRealHostFacts(t *testing.T) {
	uname := testenv.Command(t, "uname")
	sh := testenv.Command(t, "sh")
	srv := serve(t, hostOptions(), "")
	// Every collector succeeds on this host, but dmi where the host has no DMI table (this
	// Firecracker VM): there it must say it failed. Containers of tests running beside this
	// one (other packages) come and go; one that leaves mid-scrape may fail the listener
	// collector once, so a few scrapes are allowed.
	_, dmiErr := os.Stat("/sys/class/dmi/id")
	var fams testenv.Families
	testenv.Eventually(t, 5*time.Second, "the scrape", func() error {
		fams = scrape(t, nil, srv.url("/metrics"), nil)
		var failed []string
		for _, f := range collector.Factories() {
			want := 1.0
			if f.Name == "dmi" && dmiErr != nil {
				want = 0
			}
			if s := fams.One(t, "strata_exporter_collector_success", map[string]string{"collector": f.Name}); s.Value != want {
				failed = append(failed, fmt.Sprintf("%s=%v (want %v)", f.Name, s.Value, want))
			}
		}
		if len(failed) > 0 {
			return fmt.Errorf("collector success on this host: %v", failed)
		}
		return nil
	})

	info := fams.One(t, "strata_host_info", nil).Labels
	osRelease := strings.Split(testenv.Output(t, sh, "-c",
		`for f in /etc/os-release /usr/lib/os-release; do if [ -r "$f" ]; then . "$f"; break; fi; done
		 printf '%s\n%s\n%s\n' "$ID" "$VERSION_ID" "$PRETTY_NAME"`), "\n")
	for len(osRelease) < 3 {
		osRelease = append(osRelease, "")
	}
	want := map[string]string{
		"host":           testenv.Output(t, uname, "-n"),
		"hostname":       testenv.Output(t, uname, "-n"),
		"kernel_release": testenv.Output(t, uname, "-r"),
		"kernel_version": readTrim(t, "/proc/sys/kernel/version"),
		"arch":           testenv.Output(t, uname, "-m"),
		"os_id":          osRelease[0],
		"os_version_id":  osRelease[1],
		"os_image":       osRelease[2],
		"machine_id":     readTrim(t, "/etc/machine-id"),
		"boot_id":        readTrim(t, "/proc/sys/kernel/random/boot_id"),
	}
	for label, w := range want {
		if got := info[label]; got != w {
			t.Errorf("strata_host_info %s = %q, the system says %q", label, got, w)
		}
	}
	// uname(1)'s -v is the same string as /proc/sys/kernel/version, through the syscall.
	if got, w := info["kernel_version"], testenv.Output(t, uname, "-v"); got != w {
		t.Errorf("strata_host_info kernel_version = %q, uname -v says %q", got, w)
	}
	// The kernel's build date as date(1) reads the end of uname -v (Debian's "(2024-11-22)",
	// or the build's own date(1) line), none when it holds no date (a reproducible build's
	// "@0"); the kernels installed as ls and dpkg-query list them; a reboot required as the
	// file says, or a kernel newer than the running one among those installed.
	// (The names the shell lists are compared as a set; the exporter's order is its own test's.)
	buildDate := testenv.Output(t, sh, "-c", `v=$(uname -v)
		d=$(printf '%s\n' "$v" | sed -n 's/.*(\([0-9]\{4\}-[0-9][0-9]-[0-9][0-9]\))[[:space:]]*$/\1/p')
		[ -z "$d" ] && d=$(printf '%s\n' "$v" | grep -oE '(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} +[0-9]{1,2} [0-9:]{8}( [^ ]+)? [0-9]{4}$' | awk '{print $2, $3, $NF}')
		[ -n "$d" ] && date -u -d "$d" +%F || true`)
	if got := info["kernel_build_date"]; got != buildDate {
		t.Errorf("strata_host_info kernel_build_date = %q, date(1) reads %q from uname -v", got, buildDate)
	}
	kernels := strings.Fields(testenv.Output(t, sh, "-c", `{ for f in /boot/vmlinuz-*; do [ -f "$f" ] && echo "${f#/boot/vmlinuz-}"; done
		for d in /lib/modules/* /usr/lib/modules/*; do [ -f "$d/vmlinuz" ] || [ -f "$d/modules.dep" ] && echo "${d##*/}"; done
		command -v dpkg-query >/dev/null && dpkg-query -W -f '${Package} ${Status}\n' 'linux-image-*' 2>/dev/null |
			awk '$2 == "install" && $4 == "installed" && $1 ~ /[0-9]\./ {sub(/^linux-image-(unsigned-)?/, "", $1); print $1}'
		} | grep -v rescue | sort -u`))
	if got := strings.FieldsFunc(info["kernels_installed"], func(r rune) bool { return r == ',' }); !sameSet(got, kernels) {
		t.Errorf("strata_host_info kernels_installed = %q, the system lists %q", info["kernels_installed"], kernels)
	}
	_, fileErr := os.Stat("/run/reboot-required")
	newer := false
	for _, k := range kernels {
		newer = newer || kernelversion.Compare(k, want["kernel_release"]) > 0
	}
	if got, w := info["reboot_required"], strconv.FormatBool(fileErr == nil || newer); got != w {
		t.Errorf("strata_host_info reboot_required = %q, want %s (/run/reboot-required: %v; a newer kernel installed: %v)", got, w, fileErr, newer)
	}

	if got, w := fams.One(t, "strata_host_cpu_cores", nil).Value, float64(countProcessors(t)); got != w {
		t.Errorf("strata_host_cpu_cores = %g, /proc/cpuinfo lists %g processors", got, w)
	}
	if got, w := fams.One(t, "strata_host_memory_bytes", nil).Value, float64(memTotalKB(t)*1024); got != w {
		t.Errorf("strata_host_memory_bytes = %g, /proc/meminfo MemTotal*1024 = %g", got, w)
	}
	var st syscall.Sysinfo_t
	if err := syscall.Sysinfo(&st); err != nil {
		t.Fatal(err)
	}
	// Boot time from /proc/stat's btime agrees with now - uptime to a few seconds.
	bootTime := fams.One(t, "strata_host_boot_time_seconds", nil).Value
	if w := float64(time.Now().Unix() - st.Uptime); bootTime < w-5 || bootTime > w+5 {
		t.Errorf("strata_host_boot_time_seconds = %.0f, now - sysinfo uptime = %.0f", bootTime, w)
	}
}

// TestRealHostAddresses checks strata_host_address_info holds every address `ip addr`
// lists, link-local ones aside (no backend is reached through them).
func TestRealHostAddresses(t *testing.T) {
	ip := testenv.Command(t, "ip")
	srv := serve(t, hostOptions("network"), "")
	before := ipAddresses(t, ip)
	fams := scrape(t, nil, srv.url("/metrics"), nil)
	after := ipAddresses(t, ip)
	if len(before) == 0 {
		t.Fatal("ip -o addr show lists no address")
	}
	for key := range before {
		if !after[key] {
			continue // went away while scraping (another test's container)
		}
		dev, addr, _ := strings.Cut(key, " ")
		if len(fams.Samples("strata_host_address_info", map[string]string{"device": dev, "address": addr})) != 1 {
			t.Errorf("ip addr lists %s on %s, strata_host_address_info does not", addr, dev)
		}
	}
	for _, s := range fams.Samples("strata_host_address_info", nil) {
		key := s.Labels["device"] + " " + s.Labels["address"]
		if !before[key] && !after[key] {
			t.Errorf("strata_host_address_info lists %s, ip addr does not", key)
		}
	}
}

// ipAddresses is "device address" for each non-link-local address `ip -o addr show` lists.
func ipAddresses(t *testing.T, ip string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, line := range strings.Split(testenv.Output(t, ip, "-o", "addr", "show"), "\n") {
		// 4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\ ...
		f := strings.Fields(line)
		if len(f) < 4 || (f[2] != "inet" && f[2] != "inet6") {
			continue
		}
		dev, _, _ := strings.Cut(f[1], "@")
		prefix, _, _ := strings.Cut(f[3], "/")
		addr := net.ParseIP(prefix)
		if addr == nil {
			t.Fatalf("ip -o addr show: cannot parse %q in %q", f[3], line)
		}
		if addr.IsLinkLocalUnicast() {
			continue
		}
		out[dev+" "+addr.String()] = true
	}
	return out
}

// TestSideBySideNodeExporter runs Debian's prometheus-node-exporter next to strata-exporter
// on the same host: the kernel and OS image each reports must be the same.
func TestSideBySideNodeExporter(t *testing.T) {
	bin := testenv.Command(t, "prometheus-node-exporter")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t)))
	cmd := exec.Command(bin, "--web.listen-address="+addr,
		"--collector.disable-defaults", "--collector.uname", "--collector.os")
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	var node testenv.Families
	testenv.Eventually(t, 15*time.Second, "node_exporter serving", func() error {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("prometheus-node-exporter exited: %v\n%s", err, log.String())
		default:
		}
		var err error
		node, err = testenv.Scrape(nil, "http://"+addr+"/metrics", nil)
		return err
	})

	srv := serve(t, hostOptions("identity", "kernel", "os"), "")
	strata := scrape(t, nil, srv.url("/metrics"), nil).One(t, "strata_host_info", nil).Labels
	uname := node.One(t, "node_uname_info", nil).Labels
	osInfo := node.One(t, "node_os_info", nil).Labels

	for _, c := range []struct{ strataLabel, nodeLabel, strata, node string }{
		{"kernel_release", "node_uname_info release", strata["kernel_release"], uname["release"]},
		{"kernel_version", "node_uname_info version", strata["kernel_version"], uname["version"]},
		{"arch", "node_uname_info machine", strata["arch"], uname["machine"]},
		{"hostname", "node_uname_info nodename", strata["hostname"], uname["nodename"]},
		{"os_id", "node_os_info id", strata["os_id"], osInfo["id"]},
		{"os_version_id", "node_os_info version_id", strata["os_version_id"], osInfo["version_id"]},
		{"os_image", "node_os_info pretty_name", strata["os_image"], osInfo["pretty_name"]},
	} {
		if c.strata != c.node {
			t.Errorf("strata_host_info %s = %q, but %s = %q", c.strataLabel, c.strata, c.nodeLabel, c.node)
		}
		if c.node == "" && c.strataLabel != "os_version_id" {
			t.Errorf("%s is empty: node_exporter reported nothing to compare", c.nodeLabel)
		}
	}
}

// TestListenerCommFollowsExec: a listener's comm is its process's name now, even when the
// collector first met that process before it exec'd the server: the common entrypoint pattern
// (sh -c '...; exec server').
func TestListenerCommFollowsExec(t *testing.T) {
	sh := testenv.Command(t, "sh")
	busybox := testenv.Command(t, "busybox")
	srv := serve(t, hostOptions("listener"), "")
	port := testenv.FreePort(t)
	gate := t.TempDir() + "/go"
	cmd := exec.Command(sh, "-c", fmt.Sprintf(
		`while [ ! -e %s ]; do sleep 0.05; done; exec %s httpd -f -p 127.0.0.1:%d`, gate, busybox, port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	scrape(t, nil, srv.url("/metrics"), nil) // the collector meets the shell
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.WaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 0, nil)
	comm := readTrim(t, fmt.Sprintf("/proc/%d/comm", cmd.Process.Pid))
	fams := scrape(t, nil, srv.url("/metrics"), nil)
	l := fams.One(t, "strata_listener_info", map[string]string{"port": strconv.Itoa(port)})
	if l.Labels["comm"] != comm {
		t.Errorf("strata_listener_info comm = %q, /proc/%d/comm = %q", l.Labels["comm"], cmd.Process.Pid, comm)
	}
}

func readTrim(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func countProcessors(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if key, _, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(key) == "processor" {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

func memTotalKB(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// MemTotal:       24683620 kB
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "MemTotal:" && f[2] == "kB" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatal("/proc/meminfo has no MemTotal")
	return 0
}

// sameSet tells whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(s string) bool { return !slices.Contains(b, s) })
}
