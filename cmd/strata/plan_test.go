package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/testenv"
)

// TestPlan: strata plan against strata serve reading a real HAProxy (backends web on n1 to n4,
// api on n2, n5 and n6, the last disabled: MAINT) and an inventory of six hosts in three zones,
// n1 to n3 on a kernel the lifecycle block bans. By default it plans the failing hosts: n1 and
// n3 one at a time (web may lose one of four), n2 skipped (api has two of three healthy and
// needs two); --max-unavailable and a host path plan others; -o json is the API's data;
// --check says whether a wave may go now and exits 1 when it may not.
func TestPlan(t *testing.T) {
	dir := t.TempDir()
	hap := testenv.StartHAProxy(t, func() string {
		return `global
  maxconn 64

` + testenv.HAProxyDefaults + `
backend web
  server s0 10.1.0.1:80
  server s1 10.1.0.2:80
  server s2 10.1.0.3:80
  server s3 10.1.0.4:80
backend api
  server s0 10.1.0.2:80
  server s1 10.1.0.5:80
  server s2 10.1.0.6:80 disabled
`
	})
	var inv strings.Builder
	inv.WriteString("hosts:\n")
	for i, zone := range []string{"a", "b", "c", "a", "b", "c"} {
		kernel := "6.1.0-28-amd64"
		if i < 3 {
			kernel = "6.1.0-13-amd64"
		}
		fmt.Fprintf(&inv, "  - {name: n%d, addresses: [10.1.0.%d], labels: {zone: %s}, facts: {kernel_release: %s}}\n", i+1, i+1, zone, kernel)
	}
	file := writeFile(t, dir, "inventory.yml", inv.String())
	p := serveStrata(t, inventoryConfig(file)+`  - type: haproxy
    name: edge
    runtime_api: unix://`+hap.Socket+`
lifecycle:
  rules:
    - {name: bad-kernel, kernel_release: "=~6\\.1\\.0-13-.*", reason: CVE-TEST-1}
rule_files: []
`, nil)
	strata := func(args ...string) (stdout, stderr string, code int) {
		cmd := strataCommand(t, append([]string{"plan", "--server", p.base}, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), testenv.ExitCode(err)
	}

	want := `{"waves":[{"wave":1,"hosts":["n1"]},{"wave":2,"hosts":["n3"]}],` +
		`"skipped":[{"host":"n2","reason":"service edge/api: 2 of 3 instances healthy, 2 required, 1 of them on this host"}]}`
	testenv.Eventually(t, 60*time.Second, "the failing hosts' plan", func() error {
		out, errOut, code := strata("-o", "json")
		if code != 0 || strings.TrimSpace(out) != want {
			return fmt.Errorf("strata plan -o json: exit %d\n%s%s\nwant\n%s", code, out, errOut, want)
		}
		return nil
	})
	// -o json prints the API's data as it came.
	var api struct{ Data json.RawMessage }
	if code, body := get(t, p.base+"/api/v1/topology/plan"); code != 200 || json.Unmarshal([]byte(body), &api) != nil || string(api.Data) != want {
		t.Errorf("GET /api/v1/topology/plan: %d %s", code, body)
	}

	out, errOut, code := strata()
	wantTable := `WAVE  HOSTS
1     n1
2     n3

SKIPPED  REASON
n2       service edge/api: 2 of 3 instances healthy, 2 required, 1 of them on this host
`
	if code != 0 || out != wantTable {
		t.Errorf("strata plan: exit %d\n%s%s\nwant\n%s", code, out, errOut, wantTable)
	}

	// Zones a and b, two of web's four down at once: n2 holds the most to patch, so it goes
	// first, with n1; n4 and n5 after.
	out, errOut, code = strata("--max-unavailable", "2", `host{zone=~"a|b"}`)
	if want := "WAVE  HOSTS\n1     n1,n2\n2     n4,n5\n"; code != 0 || out != want {
		t.Errorf("strata plan --max-unavailable 2: exit %d\n%s%s\nwant\n%s", code, out, errOut, want)
	}

	out, errOut, code = strata("--check", "n1,n3")
	if want := "not safe to take down now: n1,n3\n  service edge/web: 4 of 4 instances healthy, 3 required, 2 of them on these hosts\n"; code != 1 || out != want {
		t.Errorf("strata plan --check n1,n3: exit %d\n%s%s\nwant exit 1 and\n%s", code, out, errOut, want)
	}
	out, errOut, code = strata("--check", "n1")
	if code != 0 || out != "safe to take down now: n1\n" {
		t.Errorf("strata plan --check n1: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = strata("--check", "n3,n9", "-o", "json")
	if want := `{"safe":false,"hosts":["n3"],"violations":[],"unknown":["n9"]}`; code != 1 || strings.TrimSpace(out) != want {
		t.Errorf("strata plan --check n3,n9 -o json: exit %d %s, want exit 1 and %s", code, out, want)
	}

	for _, c := range []struct {
		args  []string
		holds string
	}{
		{[]string{"--max-unavailable", "1", "--min-healthy", "0.5"}, "error: give max_unavailable or min_healthy, not both"},
		{[]string{"--min-healthy", "66%"}, `error: min_healthy "66%": want a share of instances above 0 and at most 1`},
		{[]string{"host{"}, "error: 1:6:"},
		{[]string{"--check", "n1", "host"}, "give q (the hosts to plan) or check (the hosts of a wave), not both"},
	} {
		if _, errOut, code := strata(c.args...); code != 1 || !strings.Contains(errOut, c.holds) {
			t.Errorf("strata plan %s: exit %d, stderr %q, want 1 holding %q", strings.Join(c.args, " "), code, errOut, c.holds)
		}
	}

	// On the same scene, strata query's | compare: what api's instance in MAINT (s2, on n6, zone
	// c) holds that the others of api (on n2 and n5, zone b) do not: its host, then its zone,
	// each held by it alone; its kernel, shared with n5, half as much. The CLI prints the
	// compare API's rows.
	cmd := strataCommand(t, "query", "--server", p.base, `lb{name="edge"} -> instance{health="MAINT"} | compare`)
	var out2, err2 bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out2, &err2
	if err := cmd.Run(); err != nil {
		t.Fatalf("strata query | compare: %v\n%s", err, err2.String())
	}
	lines := strings.Split(strings.TrimSpace(out2.String()), "\n")
	if len(lines) < 4 || strings.Join(strings.Fields(lines[0]), " ") != "LAYER ATTRIBUTE VALUE IN_SET IN_BASELINE DIFFERENCE P_VALUE QUERY" {
		t.Fatalf("strata query | compare printed\n%s", out2.String())
	}
	var cmp struct{ Data struct{ Rows [][]string } }
	q := url.Values{"q": {`lb{name="edge"} -> instance{health="MAINT"}`}}
	if code, body := get(t, p.base+"/api/v1/topology/compare?"+q.Encode()); code != 200 || json.Unmarshal([]byte(body), &cmp) != nil || len(cmp.Data.Rows) != len(lines)-1 {
		t.Fatalf("GET /api/v1/topology/compare: %d %s, against the CLI's\n%s", code, body, out2.String())
	}
	for i, want := range []string{"host id n6 1.000 0.000 1.000", "host zone c 1.000 0.000 1.000", "host kernel_release 6.1.0-28-amd64 1.000 0.500 0.500"} {
		if got := strings.Join(strings.Fields(lines[i+1])[:6], " "); got != want || strings.Join(cmp.Data.Rows[i][:6], " ") != want {
			t.Errorf("row %d: the CLI prints %q, the API answers %q, want %q", i+1, got, cmp.Data.Rows[i][:6], want)
		}
	}
}
