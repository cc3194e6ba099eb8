package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/exporter"
	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/server"
	"github.com/strata-obs/strata/topology/auth"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/haproxy"
)

// TestScopeLeaksNothingOnRealScene: the c1ps scene on real parts, shared by two teams: a real
// HAProxy whose backend c1ps (payments) and backend vault (bank) each send to a podman
// container on this one host, whose facts and container series strata-exporter reports. With
// payments' token (scope: the service named c1ps), questions about bank's backend, server and
// container through every endpoint (path queries, entity and graph APIs, search and pages,
// PromQL, series and label values, now and at a past time) never name them, while the admin's
// answers do (the oracle is real) and payments sees its own container and the shared host.
func TestScopeLeaksNothingOnRealScene(t *testing.T) {
	testenv.Root(t)
	testenv.Command(t, "haproxy")
	pm := startPodman(t)
	payPort, bankPort := testenv.FreePort(t), testenv.FreePort(t)
	payName, payID := pm.httpdContainer(t, payPort)
	bankName, bankID := pm.httpdContainer(t, bankPort)
	hap := testenv.StartHAProxy(t, func() string {
		return fmt.Sprintf(`global
  maxconn 256

`+testenv.HAProxyDefaults+`
frontend fe
  bind 127.0.0.1:%d
  use_backend vault if { path_beg /vault }
  default_backend c1ps

backend c1ps
  server p0 127.0.0.1:%d check inter 300ms

backend vault
  server vaultsrv 127.0.0.1:%d check inter 300ms
`, testenv.FreePort(t), payPort, bankPort)
	})
	src, err := haproxy.New(haproxy.Config{Name: "edge", RuntimeAPI: "unix://" + hap.Socket})
	if err != nil {
		t.Fatal(err)
	}
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	tokens, err := auth.ParseTokens("tokens.yml", []byte("tokens:\n  - {name: root, sha256: "+sum("root-secret")+"}\n  - {name: pay-ci, sha256: "+sum("pay-secret")+"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	scope, err := auth.ParseScope([]string{`name="c1ps"`})
	if err != nil {
		t.Fatal(err)
	}
	authn, err := auth.NewAuthenticator(&auth.Config{Roles: []auth.Role{{Name: "admin", Tokens: []string{"root"}, Admin: true},
		{Name: "payments", Tokens: []string{"pay-ci"}, Scope: scope}}}, tokens, nil)
	if err != nil {
		t.Fatal(err)
	}
	expOpts := exporterOptions(pm.sock)
	host := exporter.HostName(*expOpts)
	a := startApp(t, server.Options{RefreshInterval: time.Second, ScrapeInterval: time.Second, Exporter: expOpts,
		LBSources: []source.LoadBalancers{src}, LocalHost: host, Auth: authn})

	get := func(token, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, a.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "text/html")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
		return resp.StatusCode, string(b)
	}
	q := func(path string, kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return path + "?" + v.Encode()
	}
	// Both containers behind their servers, and their series stored: the admin sees both.
	testenv.Eventually(t, pollTimeout, "both servers in their containers, their series stored", func() error {
		_, body := get("root-secret", q("/api/v1/topology/query", "q", "instance -> container"))
		_, series := get("root-secret", q("/api/v1/series", "match[]", `{container_id=~".+"}`))
		for _, want := range []string{payID, bankID} {
			if !strings.Contains(body, want) || !strings.Contains(series, want) {
				return fmt.Errorf("no %s yet in %.300s / %.300s", want, body, series)
			}
		}
		return nil
	})
	past := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	time.Sleep(2 * time.Second) // a refresh more: the past time holds both too

	// What only bank has: its backend, its server, its container's id (whole and short) and name.
	secrets := []string{"vault", "vaultsrv", bankID, bankID[:12], bankName}
	questions := []string{
		q("/api/v1/topology/query", "q", "service"),
		q("/api/v1/topology/query", "q", "instance"),
		q("/api/v1/topology/query", "q", "container"),
		q("/api/v1/topology/query", "q", "container .name .image"),
		q("/api/v1/topology/query", "q", "lb -> service -> instance -> container"),
		q("/api/v1/topology/query", "q", "host -> container"),
		q("/api/v1/topology/query", "q", `container{id="`+bankID+`"}`),
		q("/api/v1/topology/query", "q", `service{name="vault"} -> instance`),
		q("/api/v1/topology/query", "q", "container | count"),
		q("/api/v1/topology/query", "q", "container", "time", past),
		q("/api/v1/topology/query", "q", "service", "time", past),
		q("/api/v1/topology/diff", "q", "container", "from", past, "to", strconv.FormatInt(time.Now().Unix(), 10)),
		q("/api/v1/topology/graph"),
		q("/api/v1/topology/graph", "time", past),
		q("/api/v1/topology/graph", "kind", "container"),
		"/api/v1/topology/entity/container/" + bankID,
		"/api/v1/topology/entity/host/" + host,
		"/api/v1/topology/entity/image/" + url.PathEscape(e2eImage),
		"/api/v1/topology/entity/service/edge/vault",
		"/api/v1/topology/entity/lb/edge",
		"/api/v1/topology/sources",
		q("/api/v1/topology/plan"),
		q("/api/v1/topology/plan", "q", "host"),
		q("/api/v1/topology/plan", "q", "host", "min_healthy", "0.5"),
		q("/api/v1/topology/plan", "q", "host", "time", past),
		q("/api/v1/topology/plan", "q", `service{name="vault"} -> instance -> container -> host`),
		q("/api/v1/topology/plan", "q", `container{id="`+bankID+`"} -> host`),
		q("/api/v1/topology/plan", "check", host),
		q("/api/v1/topology/plan", "check", host, "time", past),
		q("/api/v1/topology/plan", "check", host+","+bankID),
		q("/api/v1/query", "query", `strata_container_info`),
		q("/api/v1/query", "query", `{container_id="`+bankID+`"}`),
		q("/api/v1/query", "query", `count by (container_id, name) ({__name__=~"strata_container_.+"})`),
		q("/api/v1/query", "query", `strata_topology_instance_info`),
		q("/api/v1/query", "query", `strata_container_info`, "time", past),
		q("/api/v1/query_range", "query", `strata_container_info`, "start", past, "end", strconv.FormatInt(time.Now().Unix(), 10), "step", "1"),
		q("/api/v1/series", "match[]", `{container_id=~".+"}`),
		q("/api/v1/series", "match[]", `{service="vault"}`),
		q("/api/v1/label/container_id/values"),
		q("/api/v1/label/service/values"),
		q("/api/v1/label/server/values"),
		q("/api/v1/labels"),
		"/",
		q("/search", "q", "vault"),
		q("/search", "q", bankName),
		q("/search", "q", bankID[:12]),
		q("/search", "q", "container"),
		"/lb/edge",
		"/entity/host/" + host,
		"/entity/container/" + bankID,
		"/fleet",
		"/patch",
		q("/promql", "expr", "strata_container_info"),
	}
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) }) // longest first: bankID before its short form
	filler := func(s string) string { return strings.Repeat("q", len(s)) }     // the same length, and nothing's name
	for _, path := range questions {
		var named []string // the secrets the question itself names: its answer may echo them
		for _, s := range secrets {
			if strings.Contains(path, s) {
				named = append(named, s)
			}
		}
		if len(named) == 0 {
			code, body := get("pay-secret", path)
			for _, s := range secrets {
				if strings.Contains(body, s) {
					t.Errorf("payments asked %s (%d) and was told %q:\n%.400s", path, code, s, body)
				}
			}
			continue
		}
		// A question that names bank's things answers as the same question about things that do
		// not exist: its answer, the names swapped, is that answer (tried again should a refresh
		// fall between the two).
		alt := path
		for _, s := range named {
			alt = strings.ReplaceAll(alt, s, filler(s))
		}
		var diff string
		for range 3 {
			code, body := get("pay-secret", path)
			altCode, altBody := get("pay-secret", alt)
			for _, s := range secrets {
				body = strings.ReplaceAll(body, s, filler(s))
			}
			if diff = ""; code != altCode || body != altBody {
				diff = fmt.Sprintf("%d vs %d\n%.600s\n---\n%.600s", code, altCode, body, altBody)
				continue
			}
			break
		}
		if diff != "" {
			t.Errorf("payments asked %s, which names bank's things, and was not answered as about things that do not exist: %s", path, diff)
		}
	}
	// An invisible entity answers as one that does not exist.
	codeBank, bodyBank := get("pay-secret", "/api/v1/topology/entity/container/"+bankID)
	codeNone, bodyNone := get("pay-secret", "/api/v1/topology/entity/container/"+strings.Repeat("0", 64))
	if codeBank != codeNone || strings.ReplaceAll(bodyBank, bankID, "X") != strings.ReplaceAll(bodyNone, strings.Repeat("0", 64), "X") {
		t.Errorf("bank's container: %d %s; a container that does not exist: %d %s", codeBank, bodyBank, codeNone, bodyNone)
	}
	// payments sees its own: its container, its server, the shared host.
	_, body := get("pay-secret", q("/api/v1/topology/query", "q", "service -> instance -> container -> host"))
	for _, want := range []string{payID, "p0", host} {
		if !strings.Contains(body, want) {
			t.Errorf("payments does not see its own %s: %.400s", want, body)
		}
	}
	_, series := get("pay-secret", q("/api/v1/query", "query", "strata_container_info"))
	if !strings.Contains(series, payID) {
		t.Errorf("payments does not see its container's series: %.400s", series)
	}
	if _, names := get("pay-secret", q("/api/v1/topology/query", "q", "container .name")); !strings.Contains(names, payName) {
		t.Errorf("payments does not see its container's name: %.400s", names)
	}
	// A plan of the shared host weighs c1ps alone for payments: the host's skip names c1ps' numbers
	// and no other service, and its check no violation but c1ps', where the admin's count vault
	// too (the oracle is real).
	skipped := func(reason string) string {
		return `"skipped":[{"host":"` + host + `","reason":"service edge/c1ps: 1 of 1 instances healthy, 1 required, 1 of them on this host` + reason + `"}]`
	}
	testenv.Eventually(t, pollTimeout, "both servers UP: the admin's plan of the shared host weighs c1ps and vault", func() error {
		_, planned := get("root-secret", q("/api/v1/topology/plan", "q", "host"))
		_, check := get("root-secret", q("/api/v1/topology/plan", "check", host))
		if !strings.Contains(planned, skipped(" (and 1 more)")) || !strings.Contains(check, `"service":"edge/c1ps"`) || !strings.Contains(check, `"service":"edge/vault"`) {
			return fmt.Errorf("plan %.400s, check %.400s", planned, check)
		}
		return nil
	})
	if _, planned := get("pay-secret", q("/api/v1/topology/plan", "q", "host")); !strings.Contains(planned, skipped("")) {
		t.Errorf("payments' plan of the shared host: %.400s", planned)
	}
	if _, check := get("pay-secret", q("/api/v1/topology/plan", "check", host)); !strings.Contains(check, `"violations":[{"service":"edge/c1ps","instances":1,"healthy":1,"left":0,"required":1,`) {
		t.Errorf("payments' check of the shared host: %.400s", check)
	}
}
