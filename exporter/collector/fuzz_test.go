package collector

import (
	"bytes"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/procfs"

	"github.com/strata-obs/strata/internal/cgroup"
)

// The fuzz tests' seeds are the fixture hosts' files; `make fuzz` runs each for a while.

// addFixtureFiles adds the content of every fixture file matching glob as a seed.
func addFixtureFiles(f *testing.F, glob string, add func([]byte)) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", glob))
	if err != nil || len(files) == 0 {
		f.Fatalf("no fixture matches %s: %v", glob, err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
}

func FuzzParseOSRelease(f *testing.F) {
	addFixtureFiles(f, "*/root/*/os-release", func(b []byte) { f.Add(string(b)) })
	addFixtureFiles(f, "*/root/usr/lib/os-release", func(b []byte) { f.Add(string(b)) })
	for _, s := range []string{"", "ID=x", `A="\"\\\$\` + "`" + `"`, "A='x'#c", `A="x" # c`, "=", "A=\"", "\xff=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		fields, err := ParseOSRelease(strings.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Errorf("error %q does not say its line", err)
			}
			return
		}
		// What was parsed, written back double-quoted with escapes, parses to the same.
		var b strings.Builder
		escape := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "`", "\\`")
		for k, v := range fields {
			if strings.Contains(v, "\n") {
				t.Fatalf("value of %s holds a line break: %q", k, v)
			}
			line := k + `="` + escape.Replace(v) + "\"\n"
			if len(line) > 60*1024 {
				return // escaping made it longer than a line may be
			}
			b.WriteString(line)
		}
		again, err := ParseOSRelease(strings.NewReader(b.String()))
		if err != nil {
			t.Fatalf("re-parse of %q: %v", b.String(), err)
		}
		if len(again) != len(fields) {
			t.Fatalf("re-parse has %d fields, want %d", len(again), len(fields))
		}
		for k, v := range fields {
			if again[k] != v {
				t.Errorf("%s: re-parsed %q, want %q", k, again[k], v)
			}
		}
	})
}

func FuzzParseProcNetTCP(f *testing.F) {
	addFixtureFiles(f, "*/proc/*/net/tcp*", func(b []byte) { f.Add(b) })
	f.Add([]byte(tcpHeader + "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1\n"))
	f.Add([]byte(tcpHeader + "   0: 0000000000000000FFFF00000100007F:1F90 0:0 0A 0 0 0 0 0 1 1\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		listeners, err := ParseProcNetTCP(bytes.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Errorf("error %q does not say its line", err)
			}
			return
		}
		for _, l := range listeners {
			if net.ParseIP(l.Address) == nil {
				t.Errorf("listener address %q is no IP address", l.Address)
			}
			if l.Port < 0 || l.Port > 65535 {
				t.Errorf("listener port %d out of range", l.Port)
			}
		}
	})
}

var (
	fullID   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	podUIDRe = regexp.MustCompile(`^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$`)
)

func FuzzParseCgroupPath(f *testing.F) {
	// Every cgroup of the fixture hosts, and every line of their processes' cgroup files.
	for _, host := range []string{"k8s-containerd-v2", "docker-v1", "baremetal"} {
		root := filepath.Join("testdata", host, "sys", "fs", "cgroup")
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				rel, _ := filepath.Rel(root, path)
				f.Add("/" + rel)
			}
			return err
		})
		if err != nil {
			f.Fatal(err)
		}
	}
	addFixtureFiles(f, "*/proc/*/cgroup", func(b []byte) {
		for _, line := range strings.Split(string(b), "\n") {
			if parts := strings.SplitN(line, ":", 3); len(parts) == 3 {
				f.Add(parts[2])
			}
		}
	})
	f.Fuzz(func(t *testing.T, path string) {
		ref, ok := cgroup.ParsePath(path)
		if !ok {
			if ref != (cgroup.ContainerRef{}) {
				t.Errorf("not a container, yet %+v", ref)
			}
			return
		}
		if !fullID.MatchString(ref.ID) {
			t.Errorf("container id %q is not 64 hex digits", ref.ID)
		}
		if ref.PodUID != "" && !podUIDRe.MatchString(ref.PodUID) {
			t.Errorf("pod uid %q is not a uid", ref.PodUID)
		}
		if !strings.Contains(path, ref.ID) {
			t.Errorf("container id %q is not in the path", ref.ID)
		}
		if !strings.Contains(path, "\n") {
			if fromProc, ok := containerFromProcCgroup("0::" + path + "\n"); !ok || fromProc != ref {
				t.Errorf("/proc/<pid>/cgroup says %+v, %v; the path says %+v", fromProc, ok, ref)
			}
		}
	})
}

func FuzzCPUInfo(f *testing.F) {
	addFixtureFiles(f, "*/proc/cpuinfo", func(b []byte) {
		if len(b) <= 8<<10 { // a 16-processor seed makes each step of minimizing take seconds
			f.Add(b)
		}
	})
	f.Add([]byte("processor\t: 0\nphysical id\t: 0\ncore id\t\t: 0\n\nprocessor\t: 1\n"))
	// One procfs for every input: a fuzz worker runs its inputs one after the other.
	dir := f.TempDir()
	fs, err := procfs.NewFS(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if err := os.WriteFile(filepath.Join(dir, "cpuinfo"), in, 0o644); err != nil {
			t.Fatal(err)
		}
		facts, err := readCPUFacts(fs)
		if err != nil {
			return
		}
		if facts.Threads < 1 || facts.Sockets < 1 || facts.Sockets > facts.Cores || facts.Cores > facts.Threads {
			t.Errorf("want 1 <= sockets <= cores <= threads, got %d sockets, %d cores, %d threads",
				facts.Sockets, facts.Cores, facts.Threads)
		}
	})
}
