package collector

import (
	"context"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// kernelCollector reports the kernel's release, version and architecture, read under
// --path.procfs so that a host mounted into a container reports the host's kernel.
// The kernel does not change while the host runs, so it is read slowly.
type kernelCollector struct {
	cfg   Config
	facts *slowly[kernelFacts]
}

type kernelFacts struct{ release, version, arch string }

func newKernelCollector(cfg Config) (Collector, error) {
	c := &kernelCollector{cfg: cfg}
	c.facts = newSlowly(cfg, c.read)
	return c, nil
}

func (c *kernelCollector) Update(_ context.Context, s *Scrape) error {
	f, err := c.facts.get() // on a failed first read, what could be read
	s.Fact(hostInfo, "kernel_release", f.release)
	s.Fact(hostInfo, "kernel_version", f.version)
	s.Fact(hostInfo, "arch", f.arch)
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
	return kernelFacts{release, version, arch}, errors.Join(errs...)
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
