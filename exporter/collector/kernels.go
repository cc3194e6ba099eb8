package collector

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/strata-obs/strata/internal/kernelversion"
)

// The kernels installed on a host beside the one running, and whether it waits for a reboot:
// what tells a host that was patched from one that was patched and rebooted.

// The families the kernel collector emits beside strata_host_info's facts.
var hostRebootRequiredSince = family("strata_host_reboot_required_since_timestamp_seconds",
	"Since when the host has waited for a reboot (the reboot-required file's time, or the install time of a kernel newer than the one running), in unix seconds; absent when it waits for none.", gauge)

// maxDpkgStatus bounds what is read of Debian's package database: a host with every package
// of the archive writes about 60 MiB; a bigger file is not a status file.
const maxDpkgStatus = 128 << 20

// installedKernels is the kernel releases installed under root, oldest first: /boot's
// vmlinuz-<release>, /lib/modules/<release> that holds a kernel or its modules' index (a
// directory a removed kernel left behind holds neither), and the linux-image-<release>
// packages Debian's database says are installed. RPM's database needs SQLite to read and is
// not read: RPM hosts keep each kernel in /lib/modules and /boot. A part that does not exist is
// no error; each kernel comes with when it was installed (its file's time), as far as told.
func installedKernels(root string) (map[string]time.Time, error) {
	kernels := map[string]time.Time{}
	add := func(release string, at time.Time) {
		if release == "" || strings.ContainsAny(release, "/ \t") {
			return
		}
		if old, ok := kernels[release]; !ok || at.After(old) {
			kernels[release] = at
		}
	}
	var errs []error
	if entries, err := readDirUnder(root, "boot"); err == nil {
		for _, e := range entries {
			if release, ok := strings.CutPrefix(e.Name(), "vmlinuz-"); ok && !strings.Contains(release, "rescue") {
				add(release, modTime(e))
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("read /boot: %w", err))
	}
	for _, dir := range []string{"lib/modules", "usr/lib/modules"} {
		entries, err := readDirUnder(root, dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("read /%s: %w", dir, err))
			continue
		}
		for _, e := range entries {
			for _, f := range []string{"vmlinuz", "modules.dep"} {
				if info, err := statUnder(root, dir+"/"+e.Name()+"/"+f); err == nil && info.Mode().IsRegular() {
					add(e.Name(), info.ModTime())
					break
				}
			}
		}
	}
	if f, err := openUnderRoot(root, "var/lib/dpkg/status"); err == nil {
		releases, err := dpkgKernels(f, maxDpkgStatus)
		f.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("read /var/lib/dpkg/status: %w", err))
		}
		for _, release := range releases {
			if _, ok := kernels[release]; !ok {
				add(release, time.Time{})
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("open /var/lib/dpkg/status: %w", err))
	}
	return kernels, errors.Join(errs...)
}

// readDirUnder lists a directory inside the root, its links resolved inside the root (/lib
// is a link to usr/lib on most hosts).
func readDirUnder(root, dir string) ([]fs.DirEntry, error) {
	f, err := openUnderRoot(root, dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := f.ReadDir(4096) // more kernels than that is not a host's /boot
	if errors.Is(err, io.EOF) {     // an empty directory
		return nil, nil
	}
	return entries, err
}

// statUnder stats a file inside the root, its links resolved inside the root.
func statUnder(root, name string) (fs.FileInfo, error) {
	f, err := openUnderRoot(root, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Stat()
}

func modTime(e fs.DirEntry) time.Time {
	info, err := e.Info()
	if err != nil {
		return time.Time{}
	}
	return info.ModTime()
}

// dpkgKernels reads dpkg's status file (deb822 paragraphs) for the linux-image-<release>
// packages installed: "Status: install ok installed". Meta-packages (linux-image-amd64,
// linux-image-generic) name no release: a release holds a digit and a dot. A file of more
// than limit bytes is refused whole: a part of it is no list of what is installed.
func dpkgKernels(file io.Reader, limit int64) ([]string, error) {
	r := &io.LimitedReader{R: file, N: limit + 1}
	var out []string
	var pkg, status string
	flush := func() {
		if release, ok := strings.CutPrefix(pkg, "linux-image-"); ok && status == "install ok installed" &&
			strings.ContainsAny(release, "0123456789") && strings.Contains(release, ".") {
			out = append(out, strings.TrimPrefix(release, "unsigned-"))
		}
		pkg, status = "", ""
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			flush()
		case strings.HasPrefix(line, "Package: "):
			pkg = strings.TrimSpace(line[len("Package: "):])
		case strings.HasPrefix(line, "Status: "):
			status = strings.TrimSpace(line[len("Status: "):])
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if r.N <= 0 {
		return nil, fmt.Errorf("more than %d bytes: not a status file", limit)
	}
	return out, nil
}

// sortedKernels is the releases, oldest first.
func sortedKernels(kernels map[string]time.Time) []string {
	out := make([]string, 0, len(kernels))
	for k := range kernels {
		out = append(out, k)
	}
	slices.SortFunc(out, kernelversion.Compare)
	return out
}

// rebootRequired tells whether the host waits for a reboot, and since when: the file
// Debian's and Ubuntu's package hooks write (/run/reboot-required, its time the time of the
// first package that asked), else a kernel newer than the running one installed (what dnf's
// needs-restarting -r reports for the kernel on RPM hosts).
func rebootRequired(root string, f kernelFacts) (bool, time.Time) {
	if file, err := openUnderRoot(root, "run/reboot-required"); err == nil {
		info, err := file.Stat()
		file.Close()
		if err == nil {
			return true, info.ModTime()
		}
	}
	return f.newer != "", f.newerAt
}

// Build dates as kernels write them in their version (uname -v): Debian's "(2024-11-22)" at
// the end, the others the build's date(1) ("Fri May 23 06:34:41 UTC 2025").
var (
	debianBuildDate = regexp.MustCompile(`\((\d{4}-\d{2}-\d{2})\)\s*$`)
	dateBuildDate   = regexp.MustCompile(`(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d{1,2}) \d{2}:\d{2}:\d{2}(?: \S+)? (\d{4})\s*$`)
)

// kernelBuildDate is the running kernel's build date (YYYY-MM-DD) read from its version
// string; "" when the version carries none (a reproducible build writes "@0").
func kernelBuildDate(version string) string {
	if m := debianBuildDate.FindStringSubmatch(version); m != nil {
		if _, err := time.Parse(time.DateOnly, m[1]); err == nil {
			return m[1]
		}
		return ""
	}
	if m := dateBuildDate.FindStringSubmatch(version); m != nil {
		t, err := time.Parse("Jan 2 2006", m[1]+" "+m[2]+" "+m[3])
		if err == nil {
			return t.Format(time.DateOnly)
		}
	}
	return ""
}
