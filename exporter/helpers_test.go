package exporter_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/strata-obs/strata/exporter"
	"github.com/strata-obs/strata/exporter/collector"
	"github.com/strata-obs/strata/internal/testenv"
)

// hostOptions reads the real host: /proc, /sys and / of this machine, every collector on,
// no container runtime socket (tests that need one add it).
func hostOptions(enabled ...string) exporter.Options {
	if len(enabled) == 0 {
		for _, f := range collector.Factories() {
			enabled = append(enabled, f.Name)
		}
	}
	return exporter.Options{
		Collector: collector.Config{
			ProcFS:        "/proc",
			SysFS:         "/sys",
			RootFS:        "/",
			AddressLister: collector.NewNetlinkAddressLister(),
		},
		Enabled: enabled,
	}
}

// served is a strata-exporter running in this test process through exporter.Run.
type served struct {
	addr string // 127.0.0.1:port
}

func (s served) url(path string) string { return "http://" + s.addr + path }

// serve runs exporter.Run on a free port of 127.0.0.1 until the test ends; webConfigFile is
// --web.config.file ("" for plain HTTP).
func serve(t *testing.T, opts exporter.Options, webConfigFile string) served {
	t.Helper()
	logger := testenv.Logger(t, slog.LevelDebug)
	var lastErr error
	for range 5 { // another process may take the free port between pick and listen
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t)))
		addrs, systemd, configFile := []string{addr}, false, webConfigFile
		opts.WebConfig = &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &systemd, WebConfigFile: &configFile}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- exporter.Run(ctx, opts, logger) }()
		if err := waitListening(addr, errc, 10*time.Second); err != nil {
			cancel()
			lastErr = err
			continue
		}
		t.Cleanup(func() {
			cancel()
			select {
			case err := <-errc:
				if err != nil {
					t.Errorf("exporter.Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("exporter.Run did not return 10 s after its context ended")
			}
		})
		return served{addr: addr}
	}
	t.Fatalf("start the exporter: %v", lastErr)
	return served{}
}

// waitListening waits until addr accepts TCP connections, or Run gives up.
func waitListening(addr string, errc <-chan error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-errc:
			return fmt.Errorf("exporter.Run returned before serving: %v", err)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s does not accept connections after %s", addr, timeout)
}

// scrape GETs a /metrics URL with client, checks the answer is 200 and parses it.
func scrape(t testing.TB, client *http.Client, url string, header http.Header) testenv.Families {
	t.Helper()
	fams, err := testenv.Scrape(client, url, header)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}
