package collector

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// benchContainers is the size of the host in docs/design.md's Targets target: a scrape of a host with
// 1,000 containers takes < 50 ms and the exporter stays < 40 MB RSS.
const benchContainers = 1000

// BenchmarkScrape1000Containers scrapes, with every collector, a generated host with 1,000
// containers on cgroup v1 (900 Docker, 100 Kubernetes under the cgroupfs driver), each with a
// process in its own network namespace listening on one socket. "warm" is the steady state
// of a scraped exporter (caches filled by the previous scrape), "cold" the first scrape of a
// new exporter. cpu-ms/op is the CPU time (user and system) a scrape costs, ms/op its wall
// time; peak-RSS-MB is the process's high-water mark (VmHWM) over the loop.
//
// On a fixture tree sockets are read from /proc/<pid>/net/tcp{,6}; on a live host the
// listener collector uses sock_diag instead.
func BenchmarkScrape1000Containers(b *testing.B) {
	dir := b.TempDir()
	if err := writeBenchHost(dir, benchContainers); err != nil {
		b.Fatal(err)
	}
	cfg := fixtureConfig(b, dir)
	checkBenchHost(b, newFullSet(b, cfg))

	b.Run("warm", func(b *testing.B) {
		set := newFullSet(b, cfg)
		set.Gather(b.Context(), "bench-01")
		resetPeakRSS(b)
		cpu := processCPU()
		b.ReportAllocs()
		for b.Loop() {
			set.Gather(b.Context(), "bench-01")
		}
		reportScrape(b, cpu)
	})
	b.Run("cold", func(b *testing.B) {
		resetPeakRSS(b)
		cpu := processCPU()
		b.ReportAllocs()
		for b.Loop() {
			newFullSet(b, cfg).Gather(b.Context(), "bench-01")
		}
		reportScrape(b, cpu)
	})
}

// checkBenchHost makes sure the benchmark measures what it says: every collector succeeds,
// and every container and its listener are found.
func checkBenchHost(b *testing.B, set *Set) {
	b.Helper()
	metrics := set.Gather(b.Context(), "bench-01")
	for name, v := range collectorSuccesses(b, metrics) {
		if v != 1 {
			b.Fatalf("collector %s fails on the generated host", name)
		}
	}
	var containers, listeners int
	for _, mf := range gatherFamilies(b, metrics) {
		switch mf.GetName() {
		case containerInfo.Name:
			containers = len(mf.GetMetric())
		case listenerInfo.Name:
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "container_id" && l.GetValue() != "" {
						listeners++
					}
				}
			}
		}
	}
	if containers != benchContainers || listeners != benchContainers {
		b.Fatalf("found %d containers and %d container listeners, want %d of each", containers, listeners, benchContainers)
	}
}

func reportScrape(b *testing.B, cpuBefore time.Duration) {
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/op")
	b.ReportMetric(float64((processCPU()-cpuBefore).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
	if hwm, err := peakRSS(); err == nil {
		b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MB")
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.Sys)/(1<<20), "go-sys-MB")
}

// processCPU is the user and system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS starts a new high-water mark of the process's RSS (clear_refs, Linux 4.0+), so
// that the fixture's generation and earlier benchmarks do not count.
func resetPeakRSS(b *testing.B) {
	runtime.GC()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("peak RSS not reset, it includes what ran before: %v", err)
	}
}

// peakRSS is VmHWM of /proc/self/status, in bytes.
func peakRSS() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// writeBenchHost writes a host with n containers into dir: the baremetal fixture for the host's
// own facts, its cgroup v2 tree replaced by a v1 one holding the containers, and one process
// per container, in the container's network namespace, listening on :8080. Ids derive from
// the container's number, so every run writes the same host.
func writeBenchHost(dir string, n int) error {
	if err := copyTree(filepath.Join("testdata", "baremetal"), dir); err != nil {
		return err
	}
	cg := filepath.Join(dir, "sys", "fs", "cgroup")
	if err := os.RemoveAll(cg); err != nil {
		return err
	}
	w := &treeWriter{}
	w.symlink("cpu,cpuacct", filepath.Join(cg, "cpu"))
	w.symlink("cpu,cpuacct", filepath.Join(cg, "cpuacct"))
	w.file(filepath.Join(cg, "unified", "cgroup.controllers"), "")
	for _, unit := range []string{"docker.service", "containerd.service", "kubelet.service", "sshd.service"} {
		for _, ctl := range []string{"cpu,cpuacct", "memory", "pids", "systemd"} {
			w.file(filepath.Join(cg, ctl, "system.slice", unit, "cgroup.procs"), "")
		}
	}

	var tcp bytes.Buffer
	for i := range n {
		sum := sha256.Sum256([]byte("bench/" + strconv.Itoa(i)))
		id := hex.EncodeToString(sum[:])
		rel := "docker/" + id
		if i%10 == 9 { // every tenth a Kubernetes pod's container
			u := hex.EncodeToString(sum[16:])
			rel = fmt.Sprintf("kubepods/burstable/pod%s-%s-%s-%s-%s/%s", u[0:8], u[8:12], u[12:16], u[16:20], u[20:32], id)
		}
		w.file(filepath.Join(cg, "cpu,cpuacct", rel, "cpuacct.usage"), strconv.Itoa(1e9+i*7919)+"\n")
		w.file(filepath.Join(cg, "cpu,cpuacct", rel, "cgroup.procs"), "")
		w.file(filepath.Join(cg, "memory", rel, "memory.usage_in_bytes"), strconv.Itoa(64<<20+i*4096)+"\n")
		w.file(filepath.Join(cg, "memory", rel, "memory.stat"), benchMemoryStat(i))
		w.file(filepath.Join(cg, "pids", rel, "pids.current"), strconv.Itoa(1+i%17)+"\n")

		pid := filepath.Join(dir, "proc", strconv.Itoa(10000+i))
		inode := 500000 + i
		w.symlink(fmt.Sprintf("net:[%d]", 4026540000+i), filepath.Join(pid, "ns", "net"))
		w.file(filepath.Join(pid, "comm"), "app\n")
		var cgroup strings.Builder
		for _, ctl := range []string{"12:pids", "11:memory", "10:blkio", "9:devices", "5:cpu,cpuacct", "1:name=systemd"} {
			cgroup.WriteString(ctl + ":/" + rel + "\n")
		}
		cgroup.WriteString("0::/" + rel + "\n")
		w.file(filepath.Join(pid, "cgroup"), cgroup.String())
		for fd, target := range []string{"/dev/null", "pipe:[1201]", "pipe:[1202]", fmt.Sprintf("socket:[%d]", inode), "/var/log/app.log"} {
			w.symlink(target, filepath.Join(pid, "fd", strconv.Itoa(fd)))
		}
		tcp.Reset()
		tcp.WriteString(tcpHeader)
		fmt.Fprintf(&tcp, "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 %d 1 ffff9a3c4e2b0000 100 0 0 10 0\n", inode)
		fmt.Fprintf(&tcp, "   1: 020011AC:1F90 010011AC:9A4E 01 00000000:00000000 02:000A7D8C 00000000     0        0 %d 1 ffff9a3c4e2b0080 20 4 29 10 -1\n", inode+1000000)
		w.file(filepath.Join(pid, "net", "tcp"), tcp.String())
		w.file(filepath.Join(pid, "net", "tcp6"), tcp6Header)
	}
	return w.err
}

func benchMemoryStat(i int) string {
	inactive := 8<<20 + i*512
	return fmt.Sprintf("cache %d\nrss %d\nrss_huge 0\nshmem 0\nmapped_file 2297856\ndirty 0\nwriteback 0\n"+
		"pgpgin 91234\npgpgout 70021\npgfault 120934\npgmajfault 31\ninactive_anon 0\nactive_anon %d\n"+
		"inactive_file %d\nactive_file 1048576\nunevictable 0\nhierarchical_memory_limit 9223372036854771712\n"+
		"total_cache %d\ntotal_rss %d\ntotal_rss_huge 0\ntotal_shmem 0\ntotal_mapped_file 2297856\n"+
		"total_dirty 0\ntotal_writeback 0\ntotal_pgpgin 91234\ntotal_pgpgout 70021\ntotal_pgfault 120934\n"+
		"total_pgmajfault 31\ntotal_inactive_anon 0\ntotal_active_anon %d\ntotal_inactive_file %d\n"+
		"total_active_file 1048576\ntotal_unevictable 0\n",
		inactive+1<<20, 48<<20, 48<<20, inactive, inactive+1<<20, 48<<20, 48<<20, inactive)
}

// treeWriter writes files and links, keeping the first error.
type treeWriter struct{ err error }

func (w *treeWriter) file(path, content string) {
	if w.err != nil {
		return
	}
	if w.err = os.MkdirAll(filepath.Dir(path), 0o755); w.err == nil {
		w.err = os.WriteFile(path, []byte(content), 0o644)
	}
}

func (w *treeWriter) symlink(target, path string) {
	if w.err != nil {
		return
	}
	if w.err = os.MkdirAll(filepath.Dir(path), 0o755); w.err == nil {
		w.err = os.Symlink(target, path)
	}
}
