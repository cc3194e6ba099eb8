package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/strata-obs/strata/exporter/collector"
	"github.com/strata-obs/strata/internal/testenv"
)

func TestMain(m *testing.M) { testenv.RunMainOrTests(m, main) }

// exporterCommand is the program run with args, as a child process.
func exporterCommand(t *testing.T, args ...string) *exec.Cmd { return testenv.MainCommand(t, args...) }

func TestHelpListsEveryCollector(t *testing.T) {
	out, err := exporterCommand(t, "--help").CombinedOutput()
	if code := testenv.ExitCode(err); code != 0 {
		t.Fatalf("--help exited %d: %v\n%s", code, err, out)
	}
	for _, f := range collector.Factories() {
		if !strings.Contains(string(out), "--[no-]collector."+f.Name+" ") {
			t.Errorf("--help does not list --[no-]collector.%s", f.Name)
		}
	}
	for _, flag := range []string{"--web.listen-address", "--web.config.file", "--path.procfs", "--path.sysfs", "--path.rootfs", "--log.level", "--log.format"} {
		if !strings.Contains(string(out), flag+"=") {
			t.Errorf("--help does not list %s", flag)
		}
	}
}

func TestBadFlagsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"--collector.no-such-collector"},
		{"--no-collector.no-such-collector"},
		{"--collector.network.device-exclude=("},
		{"--log.level=loud"},
	} {
		if code := run(args); code != 2 {
			t.Errorf("run(%q) = %d, want 2", args, code)
		}
	}
}

// TestNoCollectorFlag runs strata-exporter with --no-collector.os and --no-collector.container:
// those two do not run, every other collector does; SIGTERM stops it with exit 0.
func TestNoCollectorFlag(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exporterCommand(t, "--web.listen-address="+addr, "--no-collector.os", "--no-collector.container")
	log, err := os.Create(t.TempDir() + "/strata-exporter.log")
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log // a file: readable while the child still writes
	logText := func() string { b, _ := os.ReadFile(log.Name()); return string(b) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	running := func() error {
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("exited before serving: %v", err)
		default:
			return nil
		}
	}
	body, err := testenv.TryWaitHTTP("http://"+addr+"/metrics", http.StatusOK, 15*time.Second, running)
	if err != nil {
		t.Fatalf("strata-exporter does not serve: %v\n%s", err, logText())
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	ran := map[string]bool{}
	for _, m := range fams["strata_exporter_collector_success"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "collector" {
				ran[lp.GetValue()] = true
			}
		}
	}
	for _, f := range collector.Factories() {
		want := f.DefaultEnabled && f.Name != "os" && f.Name != "container"
		if ran[f.Name] != want {
			t.Errorf("collector %s ran: %v, want %v", f.Name, ran[f.Name], want)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if code := testenv.ExitCode(err); code != 0 {
			t.Errorf("after SIGTERM strata-exporter exited %d: %v\n%s", code, err, logText())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("strata-exporter still runs 10 s after SIGTERM")
	}
}
