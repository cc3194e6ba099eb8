package collector

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/strata-obs/strata/internal/kernelversion"
	"golang.org/x/sys/unix"
)

// kernelCollector reports the kernel's release, version, build date and architecture, read
// under --path.procfs so that a host mounted into a container reports the host's kernel, and
// the kernels installed under --path.rootfs beside it. The kernel does not change while the
// host runs, and kernels are installed seldom, so both are read slowly; whether the host
// waits for a reboot is looked at on every scrape.
type kernelCollector struct {
	cfg   Config
	facts *slowly[kernelFacts]
}

type kernelFacts struct {
	release, version, arch string
	buildDate              string // YYYY-MM-DD, from version
	installed              string // the releases installed, oldest first, comma-separated
	// newer is the newest kernel installed when it is newer than the running one, and when it
	// was installed (zero when not told): a reboot waits for it.
	newer   string
	newerAt time.Time
}

func newKernelCollector(cfg Config) (Collector, error) {
	c := &kernelCollector{cfg: cfg}
	c.facts = newSlowly(cfg, c.read)
	return c, nil
}

func (c *kernelCollector) Update(_ context.Context, s *Scrape) error {
	f, err := c.facts.get() // on a failed first read, what could be read
	s.Fact(hostInfo, "kernel_release", f.release)
	s.Fact(hostInfo, "kernel_version", f.version)
	s.Fact(hostInfo, "kernel_build_date", f.buildDate)
	s.Fact(hostInfo, "arch", f.arch)
	s.Fact(hostInfo, "kernels_installed", f.installed)
	required, since := rebootRequired(c.cfg.RootFS, f)
	s.Fact(hostInfo, "reboot_required", strconv.FormatBool(required))
	if required && !since.IsZero() {
		s.Emit(hostRebootRequiredSince, float64(since.Unix()))
	}
	return err
}

func (c *kernelCollector) read() (kernelFacts, error) {
	var errs []error
	release, err := readTrim(c.cfg.proc("sys/kernel/osrelease"))
	if err != nil {
		errs = append(errs, fmt.Errorf("read kernel release: %w", err))
	}
	version, err := readTrim(c.cfg.proc("sys/kernel/version"))
	if err != nil {
		errs = append(errs, fmt.Errorf("read kernel version: %w", err))
	}
	arch, err := c.arch()
	if err != nil {
		errs = append(errs, fmt.Errorf("read architecture: %w", err))
	}
	f := kernelFacts{release: release, version: version, arch: arch, buildDate: kernelBuildDate(version)}
	installed, err := installedKernels(c.cfg.RootFS)
	if err != nil {
		errs = append(errs, fmt.Errorf("kernels installed: %w", err))
	}
	sorted := sortedKernels(installed)
	f.installed = strings.Join(sorted, ",")
	if n := len(sorted); n > 0 && release != "" && kernelversion.Compare(sorted[n-1], release) > 0 {
		f.newer, f.newerAt = sorted[n-1], installed[sorted[n-1]]
	}
	return f, errors.Join(errs...)
}

// arch reads kernel.arch (Linux 6.1+); older kernels have no such file, and then the
// running kernel's uname tells, which is the host's as well since containers share it, as
// long as --path.procfs is a real procfs (not a copy of another host's).
func (c *kernelCollector) arch() (string, error) {
	arch, err := readTrim(c.cfg.proc("sys/kernel/arch"))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return arch, err
	}
	if !c.cfg.liveProcfs() {
		return "", err
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", err
	}
	return unix.ByteSliceToString(u.Machine[:]), nil
}
