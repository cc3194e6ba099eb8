package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/exporter"
	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/server"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/haproxy"
)

// TestCompareNamesTheBadTag: on real HAProxy and podman, c1ps has three backends in containers:
// s0 runs the good image tag and serves; s1 and s2 run a tag whose server never starts (the
// container sleeps), so HAProxy marks them DOWN. What the DOWN instances share that the healthy
// one does not is that tag: | compare names it first through the API the CLI asks, with its
// shares as HAProxy's states and podman's inspect make them, and the LB page shows it first in
// a browser, its value a link to the DOWN instances that run it.
func TestCompareNamesTheBadTag(t *testing.T) {
	testenv.Command(t, "haproxy")
	chromium := testenv.Command(t, "chromium")
	pm := startPodman(t)
	badImage := "localhost/strata-e2e:bad-" + testenv.RandomHex(t, 3)
	pm.must(t, "tag", e2eImage, badImage)
	t.Cleanup(func() { _, _ = pm.run("untag", badImage) })

	ports := []int{testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)}
	_, good := pm.httpdContainer(t, ports[0])
	var bad []string
	for _, port := range ports[1:] {
		name := "strata-e2e-" + testenv.RandomHex(t, 6)
		t.Cleanup(func() { _, _ = pm.run("rm", "-f", "-t", "0", name) })
		pm.must(t, "run", "-d", "--name", name, "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
			"-p", fmt.Sprintf("127.0.0.1:%d:8080", port), badImage, "/bin/busybox", "sleep", "600")
		bad = append(bad, pm.must(t, "inspect", "-f", "{{.Id}}", name))
	}
	// podman's own name of the bad image, as its API reports it.
	badRef := pm.must(t, "inspect", "-f", "{{.ImageName}}", bad[0])

	hap := startHAProxy(t, ports)
	src, err := haproxy.New(haproxy.Config{Name: "edge", RuntimeAPI: "unix://" + hap.Socket})
	if err != nil {
		t.Fatal(err)
	}
	expOpts := exporterOptions(pm.sock)
	a := startApp(t, server.Options{RefreshInterval: 2 * time.Second, ScrapeInterval: time.Second, Exporter: expOpts,
		LBSources: []source.LoadBalancers{src}, LocalHost: exporter.HostName(*expOpts)})

	set := `lb{name="edge"} -> instance{health="DOWN"}`
	var first []string
	testenv.Eventually(t, pollTimeout, "the DOWN instances' compare", func() error {
		// HAProxy's own word first: s1 and s2 DOWN, s0 UP.
		for i, want := range []string{"UP", "DOWN", "DOWN"} {
			if got := hap.status(t, "c1ps", fmt.Sprintf("s%d", i)); !strings.HasPrefix(got, want) {
				return fmt.Errorf("HAProxy says s%d is %s, want %s", i, got, want)
			}
		}
		if err := a.expect(`service{name="c1ps"} -> instance -> container .image`, "", []string{
			"container " + good + " " + e2eImage, "container " + bad[0] + " " + badRef, "container " + bad[1] + " " + badRef,
		}); err != nil {
			return err
		}
		var d server.QueryData
		if _, err := getAPI(a.base, "/api/v1/topology/compare?q="+url.QueryEscape(set), &d); err != nil {
			return err
		}
		if len(d.Rows) == 0 {
			return fmt.Errorf("compare answers no rows")
		}
		first = d.Rows[0]
		return nil
	})
	// Both DOWN instances run it, the one UP does not.
	want := []string{"container", "image", badRef, "1.000", "0.000", "1.000"}
	if strings.Join(first[:6], " ") != strings.Join(want, " ") {
		t.Errorf("compare's first row %q, want %q", first, want)
	}
	// The same through | compare in the query API, as strata query sends it.
	var d server.QueryData
	if _, err := getAPI(a.base, "/api/v1/topology/query?q="+url.QueryEscape(set+" | compare | limit 1"), &d); err != nil || len(d.Rows) != 1 ||
		strings.Join(d.Rows[0], " ") != strings.Join(first, " ") {
		t.Errorf("the query API's | compare: %v %v, want %q", d.Rows, err, first)
	}
	// Its query lists the two DOWN instances' containers.
	var holders server.QueryData
	if _, err := getAPI(a.base, "/api/v1/topology/query?q="+url.QueryEscape(first[7]), &holders); err != nil || len(holders.Rows) != 2 {
		t.Errorf("the row's query %s: %v %v, want the two bad containers", first[7], holders.Rows, err)
	}

	b := startBrowser(t, chromium, a.base)
	b.open("/lb/haproxy/edge", http.StatusOK)
	b.waitVisible(`section.shared`)
	shared := b.table("#table-shared")
	if len(shared.Rows) == 0 || strings.Join(shared.Rows[0][:6], " ") != strings.Join(want, " ") {
		t.Errorf("the LB page's panel: %q, want first %q", shared.Rows, want)
	}
	b.shot("lb-compare")
	b.click(`#table-shared tbody tr:first-child a`)
	// The page names the LB by its id.
	if got, want := b.query().Get("q"), strings.Replace(first[7], `lb{name="edge"}`, `lb{id="haproxy/edge"}`, 1); got != want {
		t.Errorf("the first value's link opened %s, want the search %s", b.location(), want)
	}
	if rows := b.rows("div.table"); len(rows) != 2 {
		t.Errorf("the search lists %q, want the two DOWN instances' containers", rows)
	}
	b.checkRequestsStayedLocal()
	b.checkNoPageErrors()

	// What changed since: the two bad backends are redeployed (new containers on the same
	// ports), the healthy one is not. Ranked from the stored history, the new containers come
	// first: added beneath both DOWN instances, beneath none of the others.
	before := time.Now()
	time.Sleep(3 * time.Second) // a refresh (2s) writes the graph of before into the store
	var redeployed []string
	for i, port := range ports[1:] {
		name := pm.must(t, "inspect", "-f", "{{.Name}}", bad[i])
		pm.must(t, "rm", "-f", "-t", "0", name)
		pm.must(t, "run", "-d", "--name", name, "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
			"-p", fmt.Sprintf("127.0.0.1:%d:8080", port), badImage, "/bin/busybox", "sleep", "600")
		redeployed = append(redeployed, pm.must(t, "inspect", "-f", "{{.Id}}", name))
	}
	testenv.Eventually(t, pollTimeout, "what changed beneath the DOWN instances", func() error {
		if err := a.expect(`service{name="c1ps"} -> instance{health="DOWN"} -> container`, "", []string{
			"container " + redeployed[0] + " " + strings.TrimPrefix(pm.must(t, "inspect", "-f", "{{.Name}}", redeployed[0]), "/"),
			"container " + redeployed[1] + " " + strings.TrimPrefix(pm.must(t, "inspect", "-f", "{{.Name}}", redeployed[1]), "/"),
		}); err != nil {
			return err
		}
		var d server.QueryData
		params := url.Values{"q": {set}, "since": {before.UTC().Format(time.RFC3339Nano)}}
		if _, err := getAPI(a.base, "/api/v1/topology/compare?"+params.Encode(), &d); err != nil {
			return err
		}
		if len(d.Rows) == 0 || strings.Join(d.Rows[0][:6], " ") != "container added yes 1.000 0.000 1.000" {
			return fmt.Errorf("compare since %s: %q, want the containers added first", before.Format(time.RFC3339), d.Rows)
		}
		return nil
	})
}
