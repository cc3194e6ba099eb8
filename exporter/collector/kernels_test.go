package collector

import (
	"slices"
	"strings"
	"testing"
)

// TestKernelBuildDate: the build date in the version strings of the kernels strata meets,
// as their uname -v prints it.
func TestKernelBuildDate(t *testing.T) {
	for version, want := range map[string]string{
		"#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)": "2024-11-22", // Debian
		"#23-Ubuntu SMP Mon Dec  9 23:59:34 UTC 2024":          "2024-12-09", // Ubuntu
		"#1 SMP PREEMPT_DYNAMIC Tue Oct 15 06:05:53 EDT 2024":  "2024-10-15", // RHEL
		"#1 SMP PREEMPT_DYNAMIC Tue Oct  8 19:35:28 -00 2024":  "2024-10-08", // Flatcar
		"#1 SMP Wed Jan 3 12:00:00 2024":                       "2024-01-03", // no zone
		"#1 SMP PREEMPT_DYNAMIC @0":                            "",           // a reproducible build
		"#1 SMP Debian 6.1.119-1 (2024-13-45)":                 "",           // no such day
		"#1 SMP Fri Feb 30 00:00:00 UTC 2024":                  "",           // no such day
		"":                                                     "",           // unreadable
		"#1 SMP (2024-11-22) built by someone":                 "",           // not at the end
		"#1 SMP Thu Jan  1 00:00:00 UTC 1970 (1999-12-31)":     "1999-12-31", // Debian's wins
	} {
		if got := kernelBuildDate(version); got != want {
			t.Errorf("kernelBuildDate(%q) = %q, want %q", version, got, want)
		}
	}
}

// TestDpkgKernels: the kernel packages of a status file that are installed; not one removed
// with its configuration kept, not the meta-packages, not a kernel's headers.
func TestDpkgKernels(t *testing.T) {
	status := `Package: linux-image-6.1.0-26-amd64
Status: deinstall ok config-files

Package: linux-image-6.1.0-27-amd64
Status: install ok installed
Description: Linux 6.1
 for 64-bit PCs

Package: linux-headers-6.1.0-28-amd64
Status: install ok installed

Package: linux-image-generic
Status: install ok installed

Package: linux-image-unsigned-6.8.0-1021-aws
Status: install ok installed

Package: linux-image-6.1.0-28-amd64
Status: install ok installed`
	got, err := dpkgKernels(strings.NewReader(status), int64(len(status)))
	if want := []string{"6.1.0-27-amd64", "6.8.0-1021-aws", "6.1.0-28-amd64"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("dpkgKernels = %q, %v; want %q", got, err, want)
	}
	// A line longer than a status file's lines, or a file past the limit: an error, not a hang
	// or a partial answer.
	if _, err := dpkgKernels(strings.NewReader("Package: x\nDescription: "+strings.Repeat("x", 2<<20)), 4<<20); err == nil {
		t.Error("a 2 MiB line read without an error")
	}
	if got, err := dpkgKernels(strings.NewReader(status), int64(len(status))-1); err == nil || got != nil {
		t.Errorf("a file one byte past the limit: %q, %v; want an error and nothing", got, err)
	}
}

func FuzzDpkgKernels(f *testing.F) {
	f.Add("Package: linux-image-6.1.0-28-amd64\nStatus: install ok installed\n\n")
	f.Fuzz(func(t *testing.T, status string) {
		releases, _ := dpkgKernels(strings.NewReader(status), 1<<20)
		for _, r := range releases {
			if !strings.Contains(status, r) || strings.ContainsAny(r, "\n") {
				t.Errorf("release %q is not the file's", r)
			}
		}
	})
}
