package server_test

import (
	"context"
	"fmt"
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
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/haproxy"
)

// TestUIInBrowser drives strata's web UI in Debian's Chromium, headless, as an SRE in an
// incident would: strata runs on a real HAProxy whose backend c1ps has s0, a host process,
// and s1, a podman container. The mission question typed into search shows this host's
// kernel (uname -r); a typo shows its position; clicks go from the results to an instance,
// its container and its host; a URL with ?time= shows the graph before s0 moved (through
// HAProxy's runtime API) and, an hour before strata started, nothing; the LB pages, where
// they exist, lead to an instance, its container and its host. No request leaves 127.0.0.1 and no page has a script
// error. Each page is saved as a screenshot under $STRATA_TEST_OUTPUT/ui (default
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
	_, containerID := pm.httpdContainer(t, ports[1])
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

	// Search: "/" focuses the box from anywhere on the page; Enter asks.
	b.open("/", http.StatusOK)
	b.waitVisible("section.examples")
	b.shot("search-home")
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
	if loc := b.location(); !strings.Contains(loc, "q="+url.QueryEscape(mission)) {
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

	// From the results to an instance, and down to its host; the other instance through its
	// container.
	b.press("/")
	b.press(`service{name="c1ps"} -> instance .address .health`)
	b.submit(http.StatusOK)
	results := strings.TrimPrefix(b.location(), a.base)
	b.click(`table.results a[href="/entity/instance/edge/c1ps/s0"]`)
	b.expectHeading("instance edge/c1ps/s0")
	b.expectAttr("address", "127.0.0.2")
	b.shot("entity-instance-s0")
	b.click(`a[href="/entity/host/` + host + `"]`)
	b.expectHeading("host " + host)
	b.expectAttr("kernel_release", truth.KernelRelease)
	b.expectAttr("os_image", truth.PrettyName)
	b.shot("entity-host")
	b.open(results, http.StatusOK)
	b.click(`table.results a[href="/entity/instance/edge/c1ps/s1"]`)
	b.expectHeading("instance edge/c1ps/s1")
	b.click(`a[href="/entity/container/` + containerID + `"]`)
	b.expectHeading("container " + containerID)
	b.shot("entity-container")
	b.click(`a[href="/entity/host/` + host + `"]`)
	b.expectHeading("host " + host)

	// A past time from the URL: s0 where it was before it moved, and every link keeps the time.
	at := before.Format(time.RFC3339)
	b.open("/entity/instance/edge/c1ps/s0?time="+url.QueryEscape(at), http.StatusOK)
	b.expectText("p.asof-note", "As of "+at)
	b.expectAttr("address", "127.0.0.1")
	b.expectAttr("port", strconv.Itoa(ports[0]))
	b.shot("entity-instance-s0-past")
	b.click(`a[href^="/entity/host/` + host + `?"]`)
	if loc := b.location(); !strings.Contains(loc, "time="+url.QueryEscape(at)) {
		t.Errorf("a link of the past page leads to %s, which lost the time %s", loc, at)
	}
	b.expectHeading("host " + host)
	b.open("/search?"+url.Values{"q": {s0Address}, "time": {at}}.Encode(), http.StatusOK)
	if got := b.text("table.results tbody"); !strings.Contains(got, "127.0.0.1\t"+strconv.Itoa(ports[0])) {
		t.Errorf("s0 as of %s: %q, want 127.0.0.1 port %d", at, got, ports[0])
	}
	b.shot("search-past")
	// Before strata recorded anything: the note, and no rows.
	old := beforeStart.Format(time.RFC3339)
	b.open("/search?"+url.Values{"q": {mission}, "time": {old}}.Encode(), http.StatusOK)
	b.expectText("p.asof-note", "As of "+old)
	b.expectText("p.summary", "0 rows")
	b.shot("search-before-start")

	// The load balancer pages: from the list to the LB, to the instance in the container, the
	// container, the host.
	b.open("/lbs", http.StatusOK)
	b.shot("lbs")
	b.click(`main a[href^="/lb/"]`)
	b.shot("lb")
	b.click(`main a[href="/entity/instance/edge/c1ps/s1"]`)
	b.expectHeading("instance edge/c1ps/s1")
	b.click(`a[href="/entity/container/` + containerID + `"]`)
	b.expectHeading("container " + containerID)
	b.click(`a[href="/entity/host/` + host + `"]`)
	b.expectAttr("kernel_release", truth.KernelRelease)

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

	b.checkRequestsStayedLocal()
	b.checkNoPageErrors()
}

// browser is one headless Chromium tab on strata's UI at base, failing the test on the first
// step that does not do what it should.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	out  string // where screenshots go

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

// submit presses Enter in the focused search box and waits for the page it leads to.
func (b *browser) submit(code int) {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.stepCtx(), typeKeys("\n"))
	if err != nil || resp == nil || int(resp.Status) != code {
		b.t.Fatalf("submit the search: status %v, %v; want %d; the page: %q", statusOf(resp), err, code,
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
