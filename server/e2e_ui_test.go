package server_test

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/strata-obs/strata/exporter"
	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/query/querytest"
	"github.com/strata-obs/strata/server"
	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/haproxy"
)

// TestUIInBrowser drives strata's web UI in Debian's Chromium, headless, as an SRE in an
// incident would: strata runs on a real HAProxy whose backend c1ps has s0, a host process,
// and s1, a podman container. The landing page counts what the graph holds, lists the service
// and both sources up; the mission question typed into search shows this host's kernel
// (uname -r); a typo shows its position; clicks go from the results to an instance, down its
// paths to its container and its host; a URL with ?time=, or the time typed into the "as of"
// box, shows the graph before s0 moved (through HAProxy's runtime API) and, an hour before
// strata started, nothing; the LB pages lead to an instance, its container and its host. The
// tables sort by a click on a column, filter, page and download as CSV the rows they show;
// "1h ago" and the link pinned to now name absolute times. When s1 goes down, the landing page
// says so and the LB page lists it first, in red. No request leaves 127.0.0.1 and no page has
// a script error. Each page is saved as a screenshot under $STRATA_TEST_OUTPUT/ui (default
// test-output/ui) for a person to look at.
func TestUIInBrowser(t *testing.T) {
	testenv.Root(t)
	chromium := testenv.Command(t, "chromium")
	testenv.Command(t, "haproxy")
	busybox := testenv.Command(t, "busybox")
	truth := testenv.ReadThisHost(t)
	pm := startPodman(t)

	ports := []int{testenv.FreePort(t), testenv.FreePort(t)}
	hostHTTPD(t, busybox, ports[0])
	containerName, containerID := pm.httpdContainer(t, ports[1])
	movedPort := testenv.FreePort(t)
	moved := testenv.StartProcess(t, busybox, "httpd", "-f", "-p", "127.0.0.2:"+strconv.Itoa(movedPort), "-h", t.TempDir())
	testenv.WaitHTTP(t, fmt.Sprintf("http://127.0.0.2:%d/", movedPort), 0, moved)

	hap := startHAProxy(t, ports)
	expOpts := exporterOptions(pm.sock)
	host := exporter.HostName(*expOpts)
	src, err := haproxy.New(haproxy.Config{Name: "edge", RuntimeAPI: "unix://" + hap.Socket})
	if err != nil {
		t.Fatal(err)
	}
	beforeStart := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	a := startApp(t, server.Options{RefreshInterval: time.Second, ScrapeInterval: time.Second, Exporter: expOpts,
		LBSources: []source.LoadBalancers{src}, LocalHost: host})

	s0, s1 := "instance/edge/c1ps/s0", "instance/edge/c1ps/s1"
	testenv.Eventually(t, pollTimeout, "s0 on this host, s1 in its container", func() error {
		g, err := a.graph("")
		if err != nil {
			return err
		}
		if d := g.down(s0); !slices.Equal(d, []string{"host/" + host}) {
			return fmt.Errorf("%s resolves to %v (warnings %v)", s0, d, g.Warnings)
		}
		if d := g.down(s1); !slices.Equal(d, []string{"container/" + containerID}) {
			return fmt.Errorf("%s resolves to %v (warnings %v)", s1, d, g.Warnings)
		}
		return nil
	})
	// Two refreshes more, so that the storage holds this state; then s0 moves.
	time.Sleep(2500 * time.Millisecond)
	before := time.Now().UTC().Truncate(time.Second)
	time.Sleep(1500 * time.Millisecond)
	hap.Command(t, fmt.Sprintf("set server c1ps/s0 addr 127.0.0.2 port %d", movedPort))
	const s0Address = `service{name="c1ps"} -> instance[0] .address .port`
	testenv.Eventually(t, pollTimeout, "the graph to show s0 at its new address", func() error {
		return a.expect(s0Address, "", []string{querytest.FormatRow([]string{"instance", "edge/c1ps/s0", "127.0.0.2", strconv.Itoa(movedPort)})})
	})

	b := startBrowser(t, chromium, a.base)

	// The landing page: no instance failing, as many of each kind as the graph holds, the one
	// service behind the LB, both sources up.
	testenv.Eventually(t, pollTimeout, "the landing page to count what the graph holds", func() error {
		g, err := a.graph("")
		if err != nil {
			return err
		}
		b.open("/", http.StatusOK)
		if got, want := b.counts(), kindCounts(g); !maps.Equal(got, want) {
			return fmt.Errorf("the landing page counts %v, the graph holds %v", got, want)
		}
		return nil
	})
	b.expectText("p.verdict", "No instance failing behind the load balancers now.")
	services := b.table("#table-services")
	if want := []string{"haproxy/edge", "c1ps", "2", "0"}; len(services.Rows) != 1 || !slices.Equal(services.Rows[0][:4], want) {
		t.Errorf("the landing page's services: %q, want one row starting %q", services.Rows, want)
	}
	b.checkCSV(services, "the landing page's services")
	sources := b.rows(`#table-sources table`)
	for _, want := range [][]string{{"edge", "lb", "up"}, {"metrics", "facts", "up"}} {
		if !slices.ContainsFunc(sources, func(r []string) bool { return len(r) > 3 && slices.Equal(r[:3], want) }) {
			t.Errorf("the landing page's sources: %q, want a row %q", sources, want)
		}
	}
	b.shot("home")
	// A count leads to the search listing as many.
	b.click(`ul.counts a[href="/search?q=instance"]`)
	b.expectText("p.summary", "rows 1–2 of 2")

	// Search: "/" focuses the box from anywhere on the page; Enter asks.
	b.open("/", http.StatusOK)
	b.waitVisible("section.examples")
	const mission = `service{name="c1ps"} -> instance[0] -> host .kernel_release`
	b.press("/")
	if got := b.eval(`document.activeElement && document.activeElement.id`); got != "q" {
		t.Fatalf(`after "/", the focus is on %q, want the search box #q`, got)
	}
	b.press(mission)
	b.submit(http.StatusOK)
	if got := b.text("table.results tbody"); !strings.Contains(got, "host\t"+host+"\t"+truth.KernelRelease) {
		t.Errorf("the mission question answers %q, want host %s with kernel %s (uname -r)", got, host, truth.KernelRelease)
	}
	if loc := b.location(); !strings.Contains(loc, "/search?q="+url.QueryEscape(mission)) {
		t.Errorf("the results' URL %s does not hold the question: it cannot be shared", loc)
	}
	b.shot("search-mission")
	b.narrow(func() { b.shot("search-mission-narrow") })

	// A typo: the error names its position and a caret points at it under the query.
	const typo = `service{name="c1ps"} -> instanse[0] -> host .kernel_release`
	b.press("/") // selects the text in the box: what is typed replaces it
	b.press(typo)
	b.submit(http.StatusBadRequest)
	if got := b.text("section.error strong"); !strings.HasPrefix(got, "1:25: ") || !strings.Contains(got, `"instanse"`) {
		t.Errorf("the typo's error is %q, want it at 1:25 naming \"instanse\"", got)
	}
	if got := b.text("pre.caret"); got != typo+"\n"+strings.Repeat(" ", 24)+"^" {
		t.Errorf("the caret block is %q, want the query and a ^ under column 25", got)
	}
	b.shot("search-typo")

	// From the results to an instance, and down to its host through the paths table; the other
	// instance through its container.
	b.press("/")
	b.press(`service{name="c1ps"} -> instance .address .health`)
	b.submit(http.StatusOK)
	results := strings.TrimPrefix(b.location(), a.base)
	b.click(`table.results a[href="/entity/instance/edge/c1ps/s0"]`)
	b.expectHeading("instance s0 edge/c1ps/s0")
	b.expectAttr("address", "127.0.0.2")
	if got, want := b.table("#table-paths").Rows, [][]string{{"haproxy/edge", "c1ps", "s0", "UP", "", "", "", host, truth.KernelRelease}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("s0's paths: %q, want %q", got, want)
	}
	b.shot("entity-instance-s0")
	b.click(`#table-paths a[href="/entity/host/` + host + `"]`)
	b.expectHeading("host " + host)
	b.expectAttr("kernel_release", truth.KernelRelease)
	b.expectAttr("os_image", truth.PrettyName)
	b.shot("entity-host")
	b.open(results, http.StatusOK)
	b.click(`table.results a[href="/entity/instance/edge/c1ps/s1"]`)
	b.expectHeading("instance s1 edge/c1ps/s1")
	if rows := b.table("#table-paths").Rows; len(rows) != 1 || rows[0][5] != containerName || rows[0][7] != host {
		t.Errorf("s1's paths: %q, want one through container %s on host %s", rows, containerName, host)
	}
	b.click(`#table-paths a[href="/entity/container/` + containerID + `"]`)
	b.expectHeading("container " + containerName + " " + containerID)
	b.shot("entity-container")
	b.click(`#table-paths a[href="/entity/host/` + host + `"]`)
	b.expectHeading("host " + host)

	// A past time from the URL: s0 where it was before it moved, and every link keeps the time.
	at := before.Format(time.RFC3339)
	b.open("/entity/instance/edge/c1ps/s0?time="+url.QueryEscape(at), http.StatusOK)
	b.expectText("p.asof-note", "As of "+shownTime(before)+":")
	b.expectAttr("address", "127.0.0.1")
	b.expectAttr("port", strconv.Itoa(ports[0]))
	b.shot("entity-instance-s0-past")
	b.click(`a[href^="/entity/host/` + host + `?"]`)
	if loc := b.location(); !strings.Contains(loc, "time="+url.QueryEscape(at)) {
		t.Errorf("a link of the past page leads to %s, which lost the time %s", loc, at)
	}
	b.expectHeading("host " + host)
	// The same time typed into the "as of" box, as the page shows times: 24-hour UTC.
	b.open("/entity/instance/edge/c1ps/s0", http.StatusOK)
	b.typeInto(`form.asof input[name="time"]`, before.Format(time.DateTime))
	b.submit(http.StatusOK)
	b.expectText("p.asof-note", "As of "+shownTime(before)+":")
	b.expectAttr("address", "127.0.0.1")
	if got := b.value(`form.asof input[name="time"]`); got != before.Format(time.DateTime) {
		t.Errorf("the as-of box shows %q after asking for %s, want %q", got, at, before.Format(time.DateTime))
	}
	b.open("/search?"+url.Values{"q": {s0Address}, "time": {at}}.Encode(), http.StatusOK)
	if got := b.text("table.results tbody"); !strings.Contains(got, "127.0.0.1\t"+strconv.Itoa(ports[0])) {
		t.Errorf("s0 as of %s: %q, want 127.0.0.1 port %d", at, got, ports[0])
	}
	b.shot("search-past")
	// Before strata recorded anything: the note, and no rows.
	old := beforeStart.Format(time.RFC3339)
	b.open("/search?"+url.Values{"q": {mission}, "time": {old}}.Encode(), http.StatusOK)
	b.expectText("p.asof-note", "As of "+shownTime(beforeStart)+":")
	if tbl := b.table("div.table"); len(tbl.Rows) != 0 || !strings.HasPrefix(tbl.Summary, "no rows") {
		t.Errorf("the mission question before strata started: %q (%q), want no rows", tbl.Rows, tbl.Summary)
	}
	b.shot("search-before-start")

	// The load balancer pages: from the list to the LB, to the instance in the container, the
	// container, the host.
	b.open("/lbs", http.StatusOK)
	if got := b.table("div.table").Rows; len(got) != 1 || got[0][0] != "haproxy/edge" || got[0][4] != "2" {
		t.Errorf("the list of LBs: %q, want haproxy/edge with 2 instances", got)
	}
	b.shot("lbs")
	b.click(`main a[href^="/lb/"]`)
	lbPage := strings.TrimPrefix(b.location(), a.base)
	b.shot("lb")
	b.click(`main a[href="/entity/instance/edge/c1ps/s1"]`)
	b.expectHeading("instance s1 edge/c1ps/s1")
	b.click(`a[href="/entity/container/` + containerID + `"]`)
	b.expectHeading("container " + containerName + " " + containerID)
	b.click(`a[href="/entity/host/` + host + `"]`)
	b.expectAttr("kernel_release", truth.KernelRelease)

	// Sorting: the LB page lists its instances by position (s0, s1); a click on "address" sorts
	// them by it, s1 (127.0.0.1) first, and a second click the other way.
	b.open(lbPage, http.StatusOK)
	instances := b.table("div.table")
	if got := instances.column("server"); !slices.Equal(got, []string{"s0", "s1"}) {
		t.Fatalf("the LB page lists %q, want s0 then s1", got)
	}
	b.click(`table.results thead a[title="sort by address"]`)
	sorted := b.table("div.table")
	b.expectSorted(sorted, "address", "ascending")
	if got := sorted.column("server"); !slices.Equal(got, []string{"s1", "s0"}) {
		t.Errorf("sorted by address, the LB page lists %q, want s1 (127.0.0.1) before s0 (127.0.0.2)", got)
	}
	b.click(`table.results thead a[title="sort by address"]`)
	sorted = b.table("div.table")
	b.expectSorted(sorted, "address", "descending")
	if got := sorted.column("server"); !slices.Equal(got, []string{"s0", "s1"}) {
		t.Errorf("sorted by address descending, the LB page lists %q, want s0 then s1", got)
	}
	b.shot("lb-sorted")

	// Filtering: what is typed into the table's filter box keeps the rows holding it, and the
	// sort; CSV downloads exactly those rows.
	b.typeInto(`div.table form.tablefilter input[name="filter"]`, containerName)
	b.submit(http.StatusOK)
	if q := b.query(); q.Get("filter") != containerName || q.Get("sort") != "-address" {
		t.Errorf("the filtered page's URL %s, want filter=%s and sort=-address kept", b.location(), containerName)
	}
	filtered := b.table("div.table")
	if want := holding(sorted.Rows, containerName); len(want) != 1 || !slices.EqualFunc(filtered.Rows, want, slices.Equal) {
		t.Errorf("filtered by %q: %q, want the one row holding it of %q", containerName, filtered.Rows, sorted.Rows)
	}
	if got := filtered.column("server"); !slices.Equal(got, []string{"s1"}) {
		t.Errorf("filtered by the container's name, the LB page lists %q, want s1", got)
	}
	if want := "rows 1–1 of 1 (filtered from 2)"; !strings.HasPrefix(filtered.Summary, want) {
		t.Errorf("the filtered table says %q, want %q", filtered.Summary, want)
	}
	b.checkCSV(filtered, "the LB page filtered")
	b.shot("lb-filtered")
	b.click(`div.table form.tablefilter a`) // clear
	if got := b.table("div.table"); !slices.EqualFunc(got.Rows, sorted.Rows, slices.Equal) || b.query().Get("sort") != "-address" {
		t.Errorf("cleared, the LB page lists %q at %s, want %q, still sorted", got.Rows, b.location(), sorted.Rows)
	}

	// Pagination: a text search one row per page, through its pages and back; CSV downloads
	// every row, not the page.
	b.open("/search?q=c1ps", http.StatusOK)
	all := b.table("div.table")
	if len(all.Rows) < 3 {
		t.Fatalf("searching c1ps finds %q, want its service and both instances", all.Rows)
	}
	n := len(all.Rows)
	b.open("/search?q=c1ps&per_page=1", http.StatusOK)
	var paged [][]string
	for i := 1; ; i++ {
		page := b.table("div.table")
		want := fmt.Sprintf("rows %d–%d of %d", i, i, n)
		if !strings.HasPrefix(page.Summary, want) || !strings.Contains(page.Summary, fmt.Sprintf("page %d of %d", i, n)) {
			t.Errorf("page %d says %q, want %q and page %d of %d", i, page.Summary, want, i, n)
		}
		if (page.Prev != "") != (i > 1) || (page.Next != "") != (i < n) {
			t.Errorf("page %d of %d links to previous %q, next %q", i, n, page.Prev, page.Next)
		}
		paged = append(paged, page.Rows...)
		if i == 2 {
			b.shot("search-page-2")
			b.checkCSVRows(page.CSV, page.Columns, all.Rows, "page 2's CSV")
		}
		if page.Next == "" || i > n {
			break
		}
		b.click(`a[rel="next"]`)
		if got := b.query().Get("page"); got != strconv.Itoa(i+1) {
			t.Errorf("next from page %d leads to %s", i, b.location())
		}
	}
	if !slices.EqualFunc(paged, all.Rows, slices.Equal) {
		t.Errorf("page by page: %q, want the rows of one page %q", paged, all.Rows)
	}
	b.click(`a[rel="prev"]`)
	if got := b.table("div.table"); !strings.HasPrefix(got.Summary, fmt.Sprintf("rows %d–%d of %d", n-1, n-1, n)) || !slices.Equal(got.Rows[0], all.Rows[n-2]) {
		t.Errorf("previous from the last page: %q %q, want row %d", got.Summary, got.Rows, n-1)
	}
	// A named table pages with its own parameters: the host's paths, one per page.
	b.open("/entity/host/"+host+"?paths.per_page=1", http.StatusOK)
	paths := b.table("#table-paths")
	if !strings.HasPrefix(paths.Summary, "rows 1–1 of 2") || paths.Next == "" {
		t.Errorf("the host's paths one per page: %q, next %q; want rows 1–1 of 2 (s0 and s1) and a next link", paths.Summary, paths.Next)
	}
	b.click(`#table-paths a[rel="next"]`)
	if q := b.query(); q.Get("paths.page") != "2" || q.Get("page") != "" {
		t.Errorf("the paths' next page is %s, want paths.page=2", b.location())
	}
	b.expectText("#table-paths p.summary", "rows 2–2 of 2")

	// A while ago and pinned: the landing page's "1h ago" is an absolute time an hour before the
	// page's now, shown in 24-hour UTC; strata had recorded nothing then.
	b.open("/", http.StatusOK)
	now := b.pinnedTime()
	b.clickText("1h ago")
	hourAgo := now.Add(-time.Hour)
	if got := b.query().Get("time"); got != hourAgo.Format(time.RFC3339) {
		t.Errorf("1h ago leads to %s, want time=%s (an hour before the page's %s)", b.location(), hourAgo.Format(time.RFC3339), now)
	}
	b.expectText("p.asof-note", "As of "+shownTime(hourAgo)+":")
	if got := b.value(`form.asof input[name="time"]`); got != hourAgo.Format(time.DateTime) {
		t.Errorf("an hour ago, the as-of box shows %q, want %q", got, hourAgo.Format(time.DateTime))
	}
	for kind, n := range b.counts() {
		if n != 0 {
			t.Errorf("an hour before strata started, the landing page counts %d %s", n, kind)
		}
	}
	b.shot("home-hour-ago")
	// The link pinned to now: its time is the page's now, and it shows the same instances.
	b.open(lbPage, http.StatusOK)
	shown := b.table("div.table")
	pinnedAt := b.pinnedTime()
	b.click("a.pin")
	if got := b.query().Get("time"); got != pinnedAt.Format(time.RFC3339) {
		t.Errorf("the pinned link leads to %s, want time=%s", b.location(), pinnedAt.Format(time.RFC3339))
	}
	b.expectText("p.asof-note", "As of "+shownTime(pinnedAt)+":")
	if got := b.table("div.table"); !slices.Equal(got.column("address"), shown.column("address")) {
		t.Errorf("pinned to %s, the LB page lists %q, want %q as it did then", pinnedAt, got.column("address"), shown.column("address"))
	}
	if b.eval(`document.querySelector("a.pin") ? "pin" : ""`) != "" {
		t.Errorf("a page of a past time offers a link pinned to now")
	}
	b.shot("lb-pinned")

	// Auto-refresh: a choice of the header, kept in the URL, as a meta refresh.
	b.open("/", http.StatusOK)
	b.click(`span.refresh a[href="/?refresh=30s"]`)
	if got := b.eval(`(document.querySelector('meta[http-equiv="refresh"]') || {}).content || ""`); got != "30" {
		t.Errorf("auto-refresh 30s: the page's meta refresh is %q, want 30", got)
	}
	b.expectText(`span.refresh a[aria-current="true"]`, "30s")

	// The fleet: this host's kernel is a bar, and its row leads to the search for it.
	b.open("/fleet", http.StatusOK)
	b.shot("fleet")
	b.click(`main a[href="/search?q=` + url.QueryEscape(`host{kernel_release="`+truth.KernelRelease+`"}`) + `"]`)
	if got := b.text("table.results tbody"); !strings.Contains(got, host) {
		t.Errorf("the fleet's kernel link answers %q, want host %s", got, host)
	}

	// The changes between before s0 moved and now name its new address.
	b.open("/changes?"+url.Values{"q": {"lb -> instance"}, "from": {at}}.Encode(), http.StatusOK)
	// Exactly that change: both ends come from the stored history, so facts the series do not
	// carry (pids, how an instance was resolved) are no changes.
	if got := b.text("main"); !strings.Contains(got, "address") || !strings.Contains(got, "127.0.0.2") ||
		!strings.Contains(got, "2 changed") || strings.Contains(got, "resolved_via") {
		t.Errorf("the changes since %s: %q, want s0's address and port change, and nothing else", at, got)
	}
	b.shot("changes")

	// PromQL: the topology's own series, as a chart and a table.
	b.open("/promql?"+url.Values{"expr": {`strata_topology_instance_info{service="c1ps"}`}}.Encode(), http.StatusOK)
	if got := b.text("main"); !strings.Contains(got, "s1") {
		t.Errorf("the PromQL page: %q, want the instance_info of s1", got)
	}
	b.shot("promql")

	// s1 moves to a port nothing listens on: HAProxy's check fails, and the landing page and
	// the LB page put it first, in red.
	hap.Command(t, fmt.Sprintf("set server c1ps/s1 addr 127.0.0.1 port %d", testenv.FreePort(t)))
	testenv.Eventually(t, pollTimeout, "s1 DOWN in the graph", func() error {
		g, err := a.graph("instance")
		if err != nil {
			return err
		}
		if n, _ := g.node("instance", "edge/c1ps/s1"); n.Attrs["health"] != "DOWN" {
			return fmt.Errorf("s1: %v", n)
		}
		return nil
	})
	b.open("/", http.StatusOK)
	b.expectText("p.verdict", "1 instance failing")
	services = b.table("#table-services")
	if len(services.Rows) != 1 || services.Rows[0][3] != "1" || !services.Failing[0] || !strings.HasPrefix(services.Rows[0][6], "s1 DOWN") {
		t.Errorf("the landing page's services with s1 down: %q (failing %v), want c1ps with 1 failing, its worst instance s1 DOWN", services.Rows, services.Failing)
	}
	b.shot("home-failing")
	b.click(`#table-services a[href="/entity/instance/edge/c1ps/s1"]`)
	b.expectHeading("instance s1 edge/c1ps/s1")
	b.open(lbPage, http.StatusOK)
	instances = b.table("div.table")
	if got := instances.column("server"); !slices.Equal(got, []string{"s1", "s0"}) || !slices.Equal(instances.Failing, []bool{true, false}) {
		t.Errorf("the LB page with s1 down lists %q (failing %v), want s1 first, failing", got, instances.Failing)
	}
	b.shot("lb-failing")

	b.checkRequestsStayedLocal()
	b.checkNoPageErrors()
}

// kindCounts is how many entities of each kind a graph holds, as the landing page counts them.
func kindCounts(g apiGraph) map[string]int {
	out := map[string]int{}
	for _, k := range graph.Kinds() {
		out[string(k)] = 0
	}
	for _, n := range g.Nodes {
		out[n.Kind]++
	}
	return out
}

// shownTime is a time as the pages show it: 24-hour UTC.
func shownTime(t time.Time) string { return t.UTC().Format(time.DateTime) + " UTC" }

// holding is the rows with a cell that holds text, ignoring case: what a table's filter keeps.
func holding(rows [][]string, text string) [][]string {
	var out [][]string
	for _, r := range rows {
		if slices.ContainsFunc(r, func(c string) bool { return strings.Contains(strings.ToLower(c), strings.ToLower(text)) }) {
			out = append(out, r)
		}
	}
	return out
}

// compareNatural is the order the UI's tables promise: numbers by value, runs of digits inside
// text by value ("node-9" before "node-10"), the rest ignoring case, empty cells last.
func compareNatural(a, b string) int {
	if a == "" || b == "" {
		return cmp.Compare(len(b), len(a)) // the empty one last
	}
	if x, err := strconv.ParseFloat(a, 64); err == nil {
		if y, err := strconv.ParseFloat(b, 64); err == nil {
			return cmp.Compare(x, y)
		}
	}
	ca, cb := naturalChunks(a), naturalChunks(b)
	for i := 0; i < len(ca) && i < len(cb); i++ {
		x, y := ca[i], cb[i]
		if isDigits(x) && isDigits(y) {
			x, y = strings.TrimLeft(x, "0"), strings.TrimLeft(y, "0")
			if c := cmp.Or(cmp.Compare(len(x), len(y)), strings.Compare(x, y)); c != 0 {
				return c
			}
			continue
		}
		if c := strings.Compare(strings.ToLower(x), strings.ToLower(y)); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(ca), len(cb))
}

// naturalChunks cuts s into runs of digits and runs of anything else.
func naturalChunks(s string) []string {
	var out []string
	for s != "" {
		digits := s[0] >= '0' && s[0] <= '9'
		n := 1
		for n < len(s) && (s[n] >= '0' && s[n] <= '9') == digits {
			n++
		}
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

func isDigits(s string) bool { return s != "" && s[0] >= '0' && s[0] <= '9' }

// browser is one headless Chromium tab on strata's UI at base, failing the test on the first
// step that does not do what it should.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	out  string // where screenshots go
	w, h int64  // the window's size

	mu       sync.Mutex
	requests []string // every URL the pages asked for
	problems []string // script exceptions, console errors, blocked resources
}

// startBrowser starts Chromium with the flags the UI's proof names, and nothing that reaches
// out (no default flags of chromedp's), in a profile of the test's own.
func startBrowser(t *testing.T, chromium, base string) *browser {
	t.Helper()
	out := os.Getenv("STRATA_TEST_OUTPUT")
	if out == "" {
		out = filepath.Join("..", "test-output")
	}
	out = filepath.Join(out, "ui")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	profile := t.TempDir()
	var chromeOutput testenv.LockedBuffer
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(profile),
		chromedp.CombinedOutput(&chromeOutput),
	)
	b := &browser{t: t, base: base, out: out}
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithListener(b.listen))
	// Registered after the profile's TempDir: the browser is gone before its profile is removed.
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if t.Failed() {
			t.Logf("chromium's output:\n%s", chromeOutput.String())
		}
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser, bound to ctx, not to a step's timeout
		t.Fatalf("start chromium: %v\n%s", err, chromeOutput.String())
	}
	b.ctx = ctx
	b.viewport(1280, 900)
	return b
}

// listen runs in the loop that reads the tab's messages: it only records.
func (b *browser) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, ev.Request.URL)
	case *runtime.EventExceptionThrown:
		msg := ev.ExceptionDetails.Text
		if ex := ev.ExceptionDetails.Exception; ex != nil {
			msg += " " + ex.Description
		}
		b.problems = append(b.problems, fmt.Sprintf("exception at %s:%d: %s", ev.ExceptionDetails.URL, ev.ExceptionDetails.LineNumber, msg))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			b.problems = append(b.problems, "console.error: "+strings.Join(args, " "))
		}
	case *log.EventEntryAdded:
		// A page answered 400 on purpose (the typo) is no problem; anything else the
		// browser logs as an error (a blocked script, a missing asset) is.
		// The browser asks for /favicon.ico by itself when a page declares no icon.
		if ev.Entry.Level == log.EntryLevelError && !strings.Contains(ev.Entry.Text, "status of 400") &&
			!strings.HasSuffix(ev.Entry.URL, "/favicon.ico") {
			b.problems = append(b.problems, fmt.Sprintf("%s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	}
}

// step runs one browser step with a timeout of its own, so that a page that never shows what
// the step waits for fails the test saying which step.
func step[T any](b *browser, what string, action chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (b *browser) viewport(w, h int64) {
	b.t.Helper()
	step(b, "viewport", chromedp.EmulateViewport(w, h))
	b.w, b.h = w, h
}

// narrow runs f in a phone-sized window.
func (b *browser) narrow(f func()) {
	b.t.Helper()
	b.viewport(420, 900)
	defer b.viewport(1280, 900)
	f()
}

// open navigates to a path of the UI and wants the status code.
func (b *browser) open(path string, code int) {
	b.t.Helper()
	resp := step(b, "open "+path, chromedp.NavigateResponse(b.base+path))
	if resp == nil || int(resp.Status) != code {
		b.t.Fatalf("open %s: status %v, want %d", path, statusOf(resp), code)
	}
}

// press types keys into whatever has the focus.
func (b *browser) press(keys string) {
	b.t.Helper()
	step(b, "press "+keys, typeKeys(keys))
}

// typeKeys types each key as a keyboard does, and as Puppeteer types: one keydown that
// carries the key's text, then a keyup. A page that cancels the keydown (the "/" that
// focuses search) then gets no character, as with a real keyboard; chromedp.KeyEvent sends
// the character as an event of its own, which no handler can cancel.
func typeKeys(keys string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, r := range keys {
			events := kb.Encode(r)
			down, up := *events[0], *events[len(events)-1]
			if len(events) == 3 {
				down.Text, down.UnmodifiedText = events[1].Text, events[1].UnmodifiedText
			}
			for _, ev := range []input.DispatchKeyEventParams{down, up} {
				if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, ev); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// submit presses Enter in the focused box of a form (search, filter, as of) and waits for the
// page it leads to.
func (b *browser) submit(code int) {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.stepCtx(), typeKeys("\n"))
	if err != nil || resp == nil || int(resp.Status) != code {
		b.t.Fatalf("submit the form: status %v, %v; want %d; the page: %q", statusOf(resp), err, code,
			b.eval(`document.querySelector("main") ? document.querySelector("main").innerText : ""`))
	}
}

// click follows a link and wants the page it leads to to answer 200.
func (b *browser) click(sel string) {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.stepCtx(), chromedp.Click(chromedp.CSS(sel)))
	if err != nil || resp == nil || resp.Status != http.StatusOK {
		b.t.Fatalf("click %s (on %s): status %v, %v", sel, b.location(), statusOf(resp), err)
	}
}

// clickText follows the link whose text is text.
func (b *browser) clickText(text string) {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.stepCtx(), chromedp.Click(chromedp.Search(`//a[normalize-space()=`+strconv.Quote(text)+`]`)))
	if err != nil || resp == nil || resp.Status != http.StatusOK {
		b.t.Fatalf("click %q (on %s): status %v, %v", text, b.location(), statusOf(resp), err)
	}
}

func (b *browser) stepCtx() context.Context {
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	b.t.Cleanup(cancel)
	return ctx
}

func statusOf(resp *network.Response) string {
	if resp == nil {
		return "none"
	}
	return strconv.FormatInt(resp.Status, 10)
}

func (b *browser) waitVisible(sel string) {
	b.t.Helper()
	step(b, "wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// text is the visible text of the first element sel matches.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(step(b, "read "+sel, chromedp.Text(chromedp.CSS(sel))))
}

func (b *browser) eval(js string) string {
	b.t.Helper()
	return step(b, "evaluate "+js, chromedp.Evaluate[string](js))
}

func (b *browser) location() string {
	b.t.Helper()
	return step(b, "location", chromedp.Location())
}

func (b *browser) expectText(sel, want string) {
	b.t.Helper()
	if got := b.text(sel); !strings.Contains(got, want) {
		b.t.Errorf("%s on %s: %q, want it to hold %q", sel, b.location(), got, want)
	}
}

// expectHeading checks the page's h1 (an entity page's "kind id").
func (b *browser) expectHeading(want string) {
	b.t.Helper()
	if got := b.text("main h1"); got != want && !strings.HasPrefix(got, want+" ") {
		b.t.Errorf("the page %s is %q, want %q", b.location(), got, want)
	}
}

// expectAttr checks a row of an entity page's attribute table.
func (b *browser) expectAttr(name, want string) {
	b.t.Helper()
	got := b.eval(`(() => {
		for (const th of document.querySelectorAll("table.kv th")) {
			if (th.textContent.trim() === ` + strconv.Quote(name) + `) return th.nextElementSibling.textContent.trim();
		}
		return "(no such row)";
	})()`)
	if got != want {
		b.t.Errorf("%s on %s: %q, want %q", name, b.location(), got, want)
	}
}

// shownTable is a table of the UI as the browser shows it: the "table" template's column
// headings, rows, summary and links.
type shownTable struct {
	Columns []string   `json:"columns"`
	Sorted  []string   `json:"sorted"` // each column's aria-sort
	Rows    [][]string `json:"rows"`   // each cell's text, its white space collapsed
	Failing []bool     `json:"failing"`
	Summary string     `json:"summary"`
	CSV     string     `json:"csv"` // the links' targets, absolute; "" when the page has none
	Prev    string     `json:"prev"`
	Next    string     `json:"next"`
}

// column is the cells of the column named name.
func (t shownTable) column(name string) []string {
	i := slices.Index(t.Columns, name)
	if i < 0 {
		return nil
	}
	out := make([]string, len(t.Rows))
	for j, r := range t.Rows {
		if i < len(r) {
			out[j] = r[i]
		}
	}
	return out
}

// readText is the JavaScript that reads an element as the test compares it: the text a person
// reads, white space collapsed; in a cell, the › between a path's steps a space, as in the CSV.
const readText = `const text = e => e.innerText.replace(/\s+/g, " ").trim();
	const cellText = e => text(e).replace(/ ?› ?/g, " ");`

// table reads the table inside the element sel matches (div.table, #table-services…).
func (b *browser) table(sel string) shownTable {
	b.t.Helper()
	raw := b.eval(`(() => {
		` + readText + `
		const root = document.querySelector(` + strconv.Quote(sel) + `);
		if (!root || !root.querySelector("table.results")) return "";
		const t = root.querySelector("table.results"), th = [...t.querySelectorAll("thead th")], tr = [...t.querySelectorAll("tbody tr")];
		const href = s => { const a = root.querySelector(s); return a ? a.href : ""; };
		return JSON.stringify({
			columns: th.map(text), sorted: th.map(h => h.getAttribute("aria-sort") || ""),
			rows: tr.map(r => [...r.cells].map(cellText)), failing: tr.map(r => r.classList.contains("failing")),
			summary: root.querySelector("p.summary") ? text(root.querySelector("p.summary")) : "",
			csv: href("a.csv"), prev: href('a[rel="prev"]'), next: href('a[rel="next"]'),
		});
	})()`)
	if raw == "" {
		b.t.Fatalf("no table %s on %s", sel, b.location())
	}
	var t shownTable
	if err := json.Unmarshal([]byte(raw), &t); err != nil {
		b.t.Fatalf("read the table %s: %v", sel, err)
	}
	return t
}

// rows reads the body rows of any table, as table does.
func (b *browser) rows(sel string) [][]string {
	b.t.Helper()
	raw := b.eval(`(() => {
		` + readText + `
		return JSON.stringify([...document.querySelectorAll(` + strconv.Quote(sel+" tbody tr") + `)].map(r => [...r.cells].map(cellText)));
	})()`)
	var rows [][]string
	if err := json.Unmarshal([]byte(raw), &rows); err != nil {
		b.t.Fatalf("read the rows of %s: %v", sel, err)
	}
	return rows
}

// counts reads the landing page's count per kind.
func (b *browser) counts() map[string]int {
	b.t.Helper()
	raw := b.eval(`JSON.stringify(Object.fromEntries([...document.querySelectorAll("ul.counts li a")].map(
		a => [a.lastChild.textContent.trim(), Number(a.querySelector("b").textContent)])))`)
	var counts map[string]int
	if err := json.Unmarshal([]byte(raw), &counts); err != nil {
		b.t.Fatalf("read the counts: %v", err)
	}
	return counts
}

// expectSorted checks that a table is sorted by column, in the direction dir (aria-sort's
// "ascending" or "descending"): its heading says so, no other does, the URL asks for it, and the
// rows are in natural order.
func (b *browser) expectSorted(t shownTable, column, dir string) {
	b.t.Helper()
	for i, c := range t.Columns {
		want := ""
		if c == column {
			want = dir
		}
		if t.Sorted[i] != want {
			b.t.Errorf("column %s's aria-sort is %q on %s, want %q", c, t.Sorted[i], b.location(), want)
		}
	}
	param := column
	if dir == "descending" {
		param = "-" + column
	}
	if got := b.query().Get("sort"); got != param {
		b.t.Errorf("the sorted page %s asks for sort=%q, want %q", b.location(), got, param)
	}
	cells := t.column(column)
	if !slices.IsSortedFunc(cells, func(x, y string) int {
		if dir == "descending" {
			return compareNatural(y, x)
		}
		return compareNatural(x, y)
	}) {
		b.t.Errorf("sorted by %s (%s), the column reads %q", column, dir, cells)
	}
}

// fetchCSV downloads a CSV link from within the page, as its download attribute would.
func (b *browser) fetchCSV(href string) [][]string {
	b.t.Helper()
	if href == "" {
		b.t.Fatalf("no CSV link on %s", b.location())
	}
	raw := step(b, "fetch "+href, chromedp.Evaluate[string](`fetch(`+strconv.Quote(href)+`).then(async r => JSON.stringify(
		{status: r.status, type: r.headers.get("content-type"), disposition: r.headers.get("content-disposition"), body: await r.text()}))`,
		chromedp.EvalAwaitPromise))
	var resp struct {
		Status                  int
		Type, Disposition, Body string
	}
	if err := json.Unmarshal([]byte(raw), &resp); err != nil {
		b.t.Fatalf("fetch %s: %v", href, err)
	}
	if resp.Status != http.StatusOK || !strings.HasPrefix(resp.Type, "text/csv") || !strings.HasPrefix(resp.Disposition, "attachment;") {
		b.t.Fatalf("fetch %s: %d %s %s: %.300s", href, resp.Status, resp.Type, resp.Disposition, resp.Body)
	}
	records, err := csv.NewReader(strings.NewReader(resp.Body)).ReadAll()
	if err != nil || len(records) == 0 {
		b.t.Fatalf("the CSV of %s: %v: %.300s", href, err, resp.Body)
	}
	for _, r := range records {
		for i, c := range r {
			r[i] = strings.Join(strings.Fields(c), " ")
		}
	}
	return records
}

// checkCSV checks that a table of one page downloads as the CSV of its columns and rows.
func (b *browser) checkCSV(t shownTable, what string) {
	b.t.Helper()
	b.checkCSVRows(t.CSV, t.Columns, t.Rows, what)
}

// checkCSVRows checks that the CSV at href is columns, then rows.
func (b *browser) checkCSVRows(href string, columns []string, rows [][]string, what string) {
	b.t.Helper()
	records := b.fetchCSV(href)
	if !slices.Equal(records[0], columns) {
		b.t.Errorf("%s: the CSV's header %q, want the columns %q", what, records[0], columns)
	}
	if !slices.EqualFunc(records[1:], rows, slices.Equal) {
		b.t.Errorf("%s: the CSV's rows\n%q\nwant the table's\n%q", what, records[1:], rows)
	}
}

// pinnedTime is the time of the header's "link pinned to …": the page's now, which its link's
// time parameter must name, and which must be about now.
func (b *browser) pinnedTime() time.Time {
	b.t.Helper()
	text := b.text("a.pin")
	at, err := time.Parse("link pinned to "+time.DateTime+" UTC", text)
	if err != nil {
		b.t.Fatalf("the pinned link reads %q: %v", text, err)
	}
	href, err := url.Parse(b.eval(`document.querySelector("a.pin").href`))
	if err != nil || href.Query().Get("time") != at.Format(time.RFC3339) {
		b.t.Errorf("the link pinned to %s leads to %v, want time=%s", at, href, at.Format(time.RFC3339))
	}
	if since := time.Since(at); since < 0 || since > time.Minute {
		b.t.Errorf("the page's now, pinned, is %s: %s from the test's clock", at, since)
	}
	return at
}

// typeInto focuses the text box sel matches, selects what it holds, and types text over it.
func (b *browser) typeInto(sel, text string) {
	b.t.Helper()
	step(b, "focus "+sel, chromedp.Focus(chromedp.CSS(sel)))
	b.eval(`document.activeElement.select(); ""`)
	b.press(text)
}

// value is the value of the form field sel matches.
func (b *browser) value(sel string) string {
	b.t.Helper()
	return b.eval(`document.querySelector(` + strconv.Quote(sel) + `).value`)
}

// query is the current page's URL parameters.
func (b *browser) query() url.Values {
	b.t.Helper()
	u, err := url.Parse(b.location())
	if err != nil {
		b.t.Fatal(err)
	}
	return u.Query()
}

// settle gives a page's charts time to draw before a screenshot.
func (b *browser) settle() {
	b.t.Helper()
	step(b, "settle", chromedp.Sleep(time.Second))
}

// shot saves a full-page screenshot as <name>.png, once the page's charts have drawn.
func (b *browser) shot(name string) {
	b.t.Helper()
	if b.eval(`document.querySelector("canvas, svg") ? "chart" : ""`) != "" {
		b.settle() // ECharts animates its first draw
	}
	png := step(b, "screenshot "+name, chromedp.FullScreenshot(100))
	// Capturing beyond the window leaves the page laid out without its scroll bar, while
	// clicks land on the page as drawn with it: a click then misses a narrow link by the
	// bar's width. Another size and back lays it out again.
	step(b, "relayout", chromedp.EmulateViewport(b.w+1, b.h))
	b.viewport(b.w, b.h)
	path := filepath.Join(b.out, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s", path)
}

// checkRequestsStayedLocal fails the test for any request the pages sent beyond strata on
// 127.0.0.1 (a CDN, a font service, a tracker).
func (b *browser) checkRequestsStayedLocal() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.requests) == 0 {
		b.t.Fatal("the browser reported no request at all: the network listener heard nothing")
	}
	to := map[string]int{} // host, or scheme of what has no host
	for _, r := range b.requests {
		u, err := url.Parse(r)
		switch {
		case err != nil:
			b.t.Errorf("a request to an unreadable URL %q", r)
		case u.Scheme == "data" || u.Scheme == "about":
			to[u.Scheme+":"]++ // never leaves the page
		case (u.Scheme == "http" || u.Scheme == "ws") && u.Hostname() == "127.0.0.1":
			to[u.Host]++
		default:
			b.t.Errorf("a request left 127.0.0.1: %s", r)
		}
	}
	b.t.Logf("%d requests: %v", len(b.requests), to)
}

func (b *browser) checkNoPageErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("page error: %s", p)
	}
}
