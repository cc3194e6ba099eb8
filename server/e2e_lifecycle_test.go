package server_test

import (
	"cmp"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/strata-obs/strata/dashboards/rules"
	"github.com/strata-obs/strata/exporter"
	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/query/querytest"
	"github.com/strata-obs/strata/server"
	"github.com/strata-obs/strata/topology/lifecycle"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/haproxy"
)

// TestLifecycleBansThisKernel: on the real HAProxy scene (a backend served by a process of this
// host), a policy that bans this host's running kernel (uname -r) turns the mission path's host
// to fail, in the path language (the API the CLI asks), in PromQL (the status series names the
// rule and the kernel), in a firing rule (the shipped alert's expression, without its hour of
// for:), in the UI's patch status, in a browser, and in the patch plan (which skips it: c1ps
// has no other host).
func TestLifecycleBansThisKernel(t *testing.T) {
	testenv.Root(t)
	testenv.Command(t, "haproxy")
	busybox := testenv.Command(t, "busybox")
	chromium := testenv.Command(t, "chromium")
	truth := testenv.ReadThisHost(t)
	port := testenv.FreePort(t)
	hostHTTPD(t, busybox, port)
	hap := startHAProxy(t, []int{port})
	src, err := haproxy.New(haproxy.Config{Name: "edge", RuntimeAPI: "unix://" + hap.Socket})
	if err != nil {
		t.Fatal(err)
	}
	// This host's OS supported for long, whatever the shipped data says of it: the kernel rule
	// alone fails the host.
	data, err := lifecycle.ParseData(strings.NewReader("os_id,version_id,name,support_end,extended_end,source,recorded\n"+
		truth.OSID+","+cmp.Or(truth.VersionID, "none")+",this host,2099-12-31,,the test,2026-12-07\n"), "test.csv")
	if err != nil {
		t.Fatal(err)
	}
	// The expression of the shipped alert StrataInstanceOnFailingHost (its for: is an hour).
	var shipped struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	if err := yaml.Unmarshal(rules.File, &shipped); err != nil {
		t.Fatal(err)
	}
	expr := ""
	for _, g := range shipped.Groups {
		for _, r := range g.Rules {
			if r.Alert == "StrataInstanceOnFailingHost" {
				expr = r.Expr
			}
		}
	}
	if expr == "" {
		t.Fatal("the shipped rules have no StrataInstanceOnFailingHost")
	}
	// The shipped alert's expression, to fire at once.
	rulesFile := filepath.Join(t.TempDir(), "lifecycle.rules.yml")
	firing := "groups:\n  - name: lifecycle-test\n    interval: 1s\n    rules:\n      - alert: StrataInstanceOnFailingHost\n        expr: " +
		strconv.Quote(expr) + "\n"
	if err := os.WriteFile(rulesFile, []byte(firing), 0o600); err != nil {
		t.Fatal(err)
	}
	expOpts := exporterOptions()
	host := exporter.HostName(*expOpts)
	a := startApp(t, server.Options{
		RefreshInterval: 2 * time.Second,
		ScrapeInterval:  time.Second,
		Exporter:        expOpts,
		LBSources:       []source.LoadBalancers{src},
		LocalHost:       host,
		RuleFiles:       []string{rulesFile},
		Lifecycle: &lifecycle.Policy{Data: data, Rules: []lifecycle.Rule{
			{Name: "bad-kernel", KernelRelease: regexp.MustCompile("^" + regexp.QuoteMeta(truth.KernelRelease) + "$"), Reason: "CVE-TEST-1"},
			{Name: "other-kernel", KernelRelease: regexp.MustCompile(`^0\.0\.0-none$`)},
		}},
	})

	if truth.OSID == "" || truth.VersionID == "" {
		t.Fatalf("os-release names no ID and VERSION_ID (%+v): the host's support end would be unknown", truth)
	}
	testenv.Eventually(t, pollTimeout, "the mission path's host fails the policy", func() error {
		return a.expect(`service{name="c1ps"} -> instance[0] -> host .kernel_release .lifecycle`, "",
			[]string{querytest.FormatRow([]string{"host", host, truth.KernelRelease, "fail"})})
	})
	testenv.Eventually(t, pollTimeout, "the status series in PromQL", func() error {
		got, err := queryAPI(a.base, `strata_lifecycle_status{rule=~"bad-kernel|other-kernel|support-end"}`, time.Time{})
		if err != nil {
			return err
		}
		states := map[string]string{}
		for _, s := range got {
			if s.Labels["host"] == host {
				states[s.Labels["rule"]] = s.Labels["state"] + ": " + s.Labels["reason"]
			}
		}
		if want := "fail: kernel " + truth.KernelRelease + " is banned: CVE-TEST-1"; states["bad-kernel"] != want || states["other-kernel"] != "ok: " ||
			!strings.HasPrefix(states["support-end"], "ok: supported until 2099-12-31") {
			return fmt.Errorf("statuses of %s: %v, want bad-kernel %q, other-kernel ok and support-end ok", host, states, want)
		}
		return nil
	})
	testenv.Eventually(t, pollTimeout, "path_info's lifecycle label", func() error {
		got, err := queryAPI(a.base, `strata_topology_path_info{service="c1ps", lifecycle="fail"}`, time.Time{})
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0].Labels["server"] != "s0" || got[0].Labels["host"] != host || got[0].Labels["kernel_release"] != truth.KernelRelease {
			return fmt.Errorf("c1ps's paths on failing hosts: %v, want s0 on %s", got, host)
		}
		return nil
	})
	testenv.Eventually(t, pollTimeout, "the alert's expression", func() error {
		got, err := queryAPI(a.base, expr, time.Time{})
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0].Labels["server"] != "s0" || got[0].Labels["host"] != host || got[0].Value < 1 {
			return fmt.Errorf("the alert's expression answers %v, want instance s0 on %s", got, host)
		}
		return nil
	})
	testenv.Eventually(t, pollTimeout, "the alert firing", func() error {
		got, err := queryAPI(a.base, `ALERTS{alertname="StrataInstanceOnFailingHost", alertstate="firing"}`, time.Time{})
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0].Labels["server"] != "s0" || got[0].Labels["host"] != host {
			return fmt.Errorf("firing: %v, want the alert of instance s0 on %s", got, host)
		}
		return nil
	})

	checkPlanOfFailingHosts(t, a)

	// The UI's patch status: c1ps's instance on this host, which fails; the host with its kernel
	// and OS; the link to the instances opens the search that lists them.
	b := startBrowser(t, chromium, a.base)
	b.open("/patch", http.StatusOK)
	b.expectHeading("Patch status")
	services := b.table("#table-services")
	if len(services.Rows) != 1 {
		t.Fatalf("the patch page's services: %q, want c1ps alone", services.Rows)
	}
	if got, want := services.Rows[0], []string{"c1ps", "haproxy/edge", "1", "1", "0", host, "paths"}; !slices.Equal(got, want) {
		t.Errorf("the patch page's c1ps: %q, want %q", got, want)
	}
	hosts := b.table("#table-hosts")
	if len(hosts.Rows) != 1 || hosts.column("host")[0] != host || hosts.column("lifecycle")[0] != "fail" ||
		hosts.column("kernel_release")[0] != truth.KernelRelease || hosts.column("os_image")[0] != truth.PrettyName ||
		hosts.column("instances")[0] != "1" {
		t.Errorf("the patch page's hosts: %q, want %s failing, with kernel %s and OS %s (uname -r, os-release), carrying 1 instance",
			hosts.Rows, host, truth.KernelRelease, truth.PrettyName)
	}
	b.shot("patch-status")
	b.click(`#table-services td a[href^="/search"]`)
	if got := b.query().Get("q"); got != `service{id="edge/c1ps"} -> instance -> host{lifecycle="fail"}` {
		t.Errorf("the instances link opened %s", b.location())
	}
	if rows := b.rows("div.table"); len(rows) != 1 || !strings.Contains(strings.Join(rows[0], " "), "s0") || !strings.Contains(strings.Join(rows[0], " "), host) {
		t.Errorf("the search for c1ps's instances on failing hosts: %q, want s0 on %s", rows, host)
	}
	b.checkRequestsStayedLocal()
	b.checkNoPageErrors()
}
