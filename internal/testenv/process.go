package testenv

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// Process is a program a test started in a process group of its own; Stop, or the test's
// end, kills the group.
type Process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	log    *LockedBuffer
	once   sync.Once
}

// StartProcess starts a program that ends with the test; its output is kept for Running and Log.
func StartProcess(t testing.TB, name string, args ...string) *Process {
	t.Helper()
	return start(t, &syscall.SysProcAttr{Setpgid: true}, name, args...)
}

// startDying is StartProcess for a program that must not outlive the test binary even when
// that is killed (a timeout's panic, SIGKILL), when no cleanup runs: the kernel kills it then
// (Pdeathsig). A program that holds a path outside the test's own directories needs it, or
// it would keep the path from the next run.
func startDying(t testing.TB, name string, args ...string) *Process {
	t.Helper()
	return start(t, &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}, name, args...)
}

func start(t testing.TB, attr *syscall.SysProcAttr, name string, args ...string) *Process {
	t.Helper()
	p := &Process{cmd: exec.Command(name, args...), exited: make(chan struct{}), log: &LockedBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.SysProcAttr = attr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(p.Stop)
	return p
}

// Pid is the program's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the program has ended.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Log is what the program wrote so far.
func (p *Process) Log() string { return p.log.String() }

// Stop kills the program's process group and waits for it.
func (p *Process) Stop() {
	p.once.Do(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	})
}

// Running is nil while the program runs, else how it ended with the end of what it wrote.
func (p *Process) Running() error {
	select {
	case <-p.exited:
		out := p.log.String()
		if len(out) > 8000 {
			out = "…" + out[len(out)-8000:]
		}
		return fmt.Errorf("%s exited: %v\n%s", filepath.Base(p.cmd.Path), p.cmd.ProcessState, out)
	default:
		return nil
	}
}
