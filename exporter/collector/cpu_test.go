package collector

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/procfs"
)

func TestSummarizeCPUs(t *testing.T) {
	xeon := func(n uint, phys, core string, flags ...string) procfs.CPUInfo {
		return procfs.CPUInfo{Processor: n, VendorID: "GenuineIntel", CPUFamily: "6", Model: "85", Stepping: "7",
			Microcode: "0x5003604", ModelName: "Intel(R) Xeon(R) Gold 5222 CPU @ 3.80GHz", PhysicalID: phys, CoreID: core, Flags: flags}
	}
	xeonFacts := cpuFacts{ModelName: "Intel(R) Xeon(R) Gold 5222 CPU @ 3.80GHz", Vendor: "GenuineIntel", Family: "6",
		Model: "85", Stepping: "7", Microcode: "0x5003604"}
	with := func(f cpuFacts, threads, cores, sockets int, hypervisor bool) cpuFacts {
		f.Threads, f.Cores, f.Sockets, f.Hypervisor = threads, cores, sockets, hypervisor
		return f
	}
	tests := []struct {
		name    string
		cpus    []procfs.CPUInfo
		want    cpuFacts
		wantErr bool
	}{
		{name: "no processor", wantErr: true},
		{name: "one processor", cpus: []procfs.CPUInfo{xeon(0, "0", "0")}, want: with(xeonFacts, 1, 1, 1, false)},
		{
			name: "two sockets, hyper-threads, the same core ids in both sockets",
			cpus: []procfs.CPUInfo{
				xeon(0, "0", "0"), xeon(1, "0", "3"), xeon(2, "1", "0"), xeon(3, "1", "3"),
				xeon(4, "0", "0"), xeon(5, "0", "3"), xeon(6, "1", "0"), xeon(7, "1", "3"),
			},
			want: with(xeonFacts, 8, 4, 2, false),
		},
		{
			name: "a VM with 4 sockets of one core, hypervisor flag",
			cpus: []procfs.CPUInfo{
				xeon(0, "0", "0", "fpu", "hypervisor"), xeon(1, "1", "0", "fpu", "hypervisor"),
				xeon(2, "2", "0", "fpu", "hypervisor"), xeon(3, "3", "0", "fpu", "hypervisor"),
			},
			want: with(xeonFacts, 4, 4, 4, true),
		},
		{
			name: "no topology (most ARM kernels): a core per processor, one socket",
			cpus: []procfs.CPUInfo{{Processor: 0, ModelName: "Cortex-A72"}, {Processor: 1, ModelName: "Cortex-A72"},
				{Processor: 2, ModelName: "Cortex-A72"}, {Processor: 3, ModelName: "Cortex-A72"}},
			want: cpuFacts{ModelName: "Cortex-A72", Threads: 4, Cores: 4, Sockets: 1},
		},
		{
			name: "the first processor names the model, even on hybrid CPUs",
			cpus: []procfs.CPUInfo{{Processor: 0, ModelName: "P-core", VendorID: "GenuineIntel"}, {Processor: 1, ModelName: "E-core", VendorID: "GenuineIntel"}},
			want: cpuFacts{ModelName: "P-core", Vendor: "GenuineIntel", Threads: 2, Cores: 2, Sockets: 1},
		},
		{
			name: "the hypervisor flag is the first processor's",
			cpus: []procfs.CPUInfo{xeon(0, "0", "0", "fpu"), xeon(1, "0", "1", "hypervisor")},
			want: with(xeonFacts, 2, 2, 1, false),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := summarizeCPUs(tt.cpus)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error: %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("facts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReadCPUFacts reads the fixtures' cpuinfo through procfs, as the collector does.
func TestReadCPUFacts(t *testing.T) {
	for _, tt := range []struct {
		host                    string
		threads, cores, sockets int
		hypervisor              bool
	}{
		{"baremetal", 16, 8, 2, false},
		{"cloudvm", 2, 1, 1, true},
		{"k8s-containerd-v2", 4, 4, 4, true},
		{"docker-v1", 2, 2, 1, true},
	} {
		fs, err := procfs.NewFS(filepath.Join("testdata", tt.host, "proc"))
		if err != nil {
			t.Fatal(err)
		}
		f, err := readCPUFacts(fs)
		if err != nil {
			t.Errorf("%s: %v", tt.host, err)
			continue
		}
		if f.Threads != tt.threads || f.Cores != tt.cores || f.Sockets != tt.sockets || f.Hypervisor != tt.hypervisor {
			t.Errorf("%s: %d threads, %d cores, %d sockets, hypervisor %v; want %d, %d, %d, %v", tt.host,
				f.Threads, f.Cores, f.Sockets, f.Hypervisor, tt.threads, tt.cores, tt.sockets, tt.hypervisor)
		}
	}
}

// TestReadCPUFactsMalformed checks that a cpuinfo procfs cannot parse is an error of the
// collector, not a panic: procfs indexes past "processor:" when no blank follows the colon.
func TestReadCPUFactsMalformed(t *testing.T) {
	for _, content := range []string{
		"",
		"\n\n",
		"model name\t: no processor line first\n",
		"processor:0\n",
		"processor\t: zero\n",
		"processor\t: 0\ncpu MHz\t\t: fast\n",
	} {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "cpuinfo"), content)
		fs, err := procfs.NewFS(dir)
		if err != nil {
			t.Fatal(err)
		}
		if f, err := readCPUFacts(fs); err == nil {
			t.Errorf("readCPUFacts(%q) = %+v, want an error", content, f)
		} else if !strings.HasPrefix(err.Error(), "read cpuinfo: ") {
			t.Errorf("readCPUFacts(%q) error %q, want it to start with \"read cpuinfo: \"", content, err)
		}
	}
}
