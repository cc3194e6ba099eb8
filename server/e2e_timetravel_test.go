package server_test

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/strata-obs/strata/exporter"
	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/query/querytest"
	"github.com/strata-obs/strata/server"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/haproxy"
)

// TestTimeTravelHAProxy: a real HAProxy's server changes address through the runtime API.
// Queried @ the time before, strata answers the old address and host; now, the new one; diff
// between the two times names exactly that change; and all of it again after strata restarts
// on the same storage.
func TestTimeTravelHAProxy(t *testing.T) {
	testenv.Root(t)
	testenv.Command(t, "haproxy")
	busybox := testenv.Command(t, "busybox")
	portA, portB := testenv.FreePort(t), testenv.FreePort(t)
	hostHTTPD(t, busybox, portA)
	second := testenv.StartProcess(t, busybox, "httpd", "-f", "-p", "127.0.0.2:"+strconv.Itoa(portB), "-h", t.TempDir())
	testenv.WaitHTTP(t, fmt.Sprintf("http://127.0.0.2:%d/", portB), 0, second)

	hap := startHAProxy(t, []int{portA})
	expOpts := exporterOptions()
	host := exporter.HostName(*expOpts)
	src, err := haproxy.New(haproxy.Config{Name: "edge", RuntimeAPI: "unix://" + hap.Socket})
	if err != nil {
		t.Fatal(err)
	}
	opts := server.Options{RefreshInterval: time.Second, ScrapeInterval: time.Second, Exporter: expOpts,
		LBSources: []source.LoadBalancers{src}, LocalHost: host, StoragePath: t.TempDir()}
	a := startApp(t, opts)

	const mission = `service{name="c1ps"} -> instance[0] .address .port`
	const toHost = `service{name="c1ps"} -> instance[0] -> host .kernel_release`
	want := func(address string, port int) []string {
		return []string{querytest.FormatRow([]string{"instance", "edge/c1ps/s0", address, strconv.Itoa(port)})}
	}
	// settled waits until the latest graph answers rows, then for two more refreshes, so that
	// the storage holds that state; it returns a time within it.
	settled := func(a *app, rows []string) time.Time {
		testenv.Eventually(t, pollTimeout, "the graph to show "+fmt.Sprint(rows), func() error {
			return a.expect(mission, "", rows)
		})
		time.Sleep(2500 * time.Millisecond)
		at := time.Now()
		time.Sleep(1500 * time.Millisecond)
		return at
	}
	before := settled(a, want("127.0.0.1", portA))
	hap.Command(t, fmt.Sprintf("set server c1ps/s0 addr 127.0.0.2 port %d", portB))
	testenv.Eventually(t, pollTimeout, "s0 UP at its new address", func() error {
		if row := hap.stat(t, "c1ps")[0]; row["status"] != "UP" || row["addr"] != fmt.Sprintf("127.0.0.2:%d", portB) {
			return fmt.Errorf("haproxy says %v", row)
		}
		return nil
	})
	after := settled(a, want("127.0.0.2", portB))

	hostRow := []string{querytest.FormatRow([]string{"host", host, testenv.ReadThisHost(t).KernelRelease})}
	wantDiff := []string{
		querytest.FormatRow([]string{"changed", "instance", "edge/c1ps/s0", "address", "127.0.0.1", "127.0.0.2"}),
		querytest.FormatRow([]string{"changed", "instance", "edge/c1ps/s0", "port", strconv.Itoa(portA), strconv.Itoa(portB)}),
	}
	check := func(a *app) {
		t.Helper()
		for _, c := range []struct {
			q, at string
			rows  []string
		}{
			{mission, unix(before), want("127.0.0.1", portA)},
			{mission + " @ " + before.UTC().Format(time.RFC3339Nano), "", want("127.0.0.1", portA)},
			{mission, unix(after), want("127.0.0.2", portB)},
			{mission, "", want("127.0.0.2", portB)},
			{toHost, unix(before), hostRow},
			{toHost, "", hostRow},
			{fmt.Sprintf("diff(service{name=%q} -> instance, %s, %s)", "c1ps", unix(before), unix(after)), "", wantDiff},
		} {
			if err := a.expect(c.q, c.at, c.rows); err != nil {
				t.Error(err)
			}
		}
		var diff server.QueryData
		path := "/api/v1/topology/diff?" + url.Values{"q": {`service{name="c1ps"} -> instance`}, "from": {unix(before)}, "to": {unix(after)}}.Encode()
		if _, err := getAPI(a.base, path, &diff); err != nil {
			t.Error(err)
		} else if got := rowsOf(diff.Rows); !slices.Equal(got, wantDiff) {
			t.Errorf("diff endpoint: %v, want %v", got, wantDiff)
		}
	}
	check(a)

	// A restart on the same storage keeps the past.
	a.stop()
	check(startApp(t, opts))
}

func unix(t time.Time) string { return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64) }

func rowsOf(rows [][]string) []string {
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, querytest.FormatRow(r))
	}
	return out
}

// expect asks the query API q (at time at, unless empty) and compares the rows.
func (a *app) expect(q, at string, rows []string) error {
	params := url.Values{"q": {q}}
	if at != "" {
		params.Set("time", at)
	}
	var d server.QueryData
	if _, err := getAPI(a.base, "/api/v1/topology/query?"+params.Encode(), &d); err != nil {
		return err
	}
	if got := rowsOf(d.Rows); !slices.Equal(got, rows) {
		return fmt.Errorf("%s (time %q): rows %v, want %v", q, at, got, rows)
	}
	return nil
}
