package server_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/topology"
	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/sourcetest"
	"github.com/strata-obs/strata/ui"
)

// TestUIFleetInBrowser drives the UI in Chromium on the synthetic fleet of docs/design.md's
// targets (10,000 hosts, 300,000 containers, 1,000 LBs), made uneven so that its tables have an
// order to show: lb-N keeps the first 1+N%10 of its 10 services (10 to 100 instances), two
// instances of lb-0042's svc-1 are DOWN, and lb-0041's svc-0 answers in times from 400 µs to
// 90 s. The landing page counts what the graph holds and puts the failing service first; the
// list of LBs sorts by instances (100 before 90: natural order), pages through all 1,000 and
// filters; an LB page sorts by response time, whatever its unit; a text search of a host's IP
// lists the host first, then the instances at that address, and ip:port the one instance there.
func TestUIFleetInBrowser(t *testing.T) {
	chromium := testenv.Command(t, "chromium")

	facts, lbs := sourcetest.Synthetic(time.Now())
	for i := range lbs {
		lbs[i].Services = lbs[i].Services[:1+i%sourcetest.ServicesPerLB]
	}
	down := lbs[42].Services[1].Instances[:2]
	for i := range down {
		down[i].Health = "DOWN"
	}
	responseTimes := []float64{1.2, 0.005, 0.25, 90, 0.08, 3, 0.0004, 0.5, 12, 0.03} // seconds
	for i, secs := range responseTimes {
		lbs[41].Services[0].Instances[i].Traffic = source.Traffic{source.TrafficResponseTime: secs}
	}
	services, instances := 0, 0
	for _, lb := range lbs {
		services += len(lb.Services)
		for _, svc := range lb.Services {
			instances += len(svc.Instances)
		}
	}
	r := topology.NewRefresher(topology.RefresherOptions{
		LBSources:   []source.LoadBalancers{sourcetest.Static{SourceName: "fleet-lbs", LBs: lbs}},
		FactSources: []source.Facts{sourcetest.StaticFacts{SourceName: "fleet-facts", Set: facts}},
	}, testLogger(t))
	start := time.Now()
	g := r.Refresh(context.Background())
	t.Logf("the fleet's graph: %d entities in %s", g.Len(), time.Since(start).Round(time.Millisecond))
	for kind, want := range map[graph.Kind]int{graph.LB: len(lbs), graph.Service: services, graph.Instance: instances,
		graph.Host: len(facts.Hosts), graph.Container: len(facts.Containers)} {
		if got := g.Count(kind); got != want {
			t.Fatalf("the fleet's graph holds %d %s, want %d", got, kind, want)
		}
	}
	u, err := ui.New(ui.Options{Graphs: fleetGraphs{r}, Limits: query.DefaultLimits}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(u)
	t.Cleanup(srv.Close)
	b := startBrowser(t, chromium, srv.URL)

	// The landing page: the two DOWN instances, the counts of the graph, their service first.
	b.open("/", http.StatusOK)
	b.expectText("p.verdict", "2 instances failing")
	counted := b.counts()
	for _, k := range graph.Kinds() {
		if got := counted[string(k)]; got != g.Count(k) {
			t.Errorf("the landing page counts %d %s, the graph holds %d", got, k, g.Count(k))
		}
	}
	table := b.table("#table-services")
	if want := fmt.Sprintf("rows 1–20 of %d", services); !strings.HasPrefix(table.Summary, want) { // a glance: 20 a page
		t.Errorf("the landing page's services: %q, want %q", table.Summary, want)
	}
	if len(table.Rows) < 2 {
		t.Fatalf("the landing page's services: %q", table.Rows)
	}
	if r := table.Rows[0]; !slices.Equal(r[:4], []string{"haproxy/lb-0042", "svc-1", "10", "2"}) || !strings.HasPrefix(r[6], "s0 DOWN") ||
		!table.Failing[0] || table.Failing[1] {
		t.Errorf("the landing page's first services: %q (failing %v), want lb-0042's svc-1 with 2 failing, s0 DOWN the worst, alone in red",
			table.Rows[:2], table.Failing[:2])
	}
	b.shot("fleet-home")
	// The services' second page, by the table's own parameter: the others in LB and service
	// order.
	var others [][]string
	for i, lb := range lbs {
		for j, svc := range lb.Services {
			if i != 42 || j != 1 {
				others = append(others, []string{"haproxy/" + lb.Name, svc.Name})
			}
		}
	}
	b.click(`#table-services a[rel="next"]`)
	if got := b.query().Get("services.page"); got != "2" {
		t.Errorf("the services' next page is %s, want services.page=2", b.location())
	}
	table = b.table("#table-services")
	if want := fmt.Sprintf("rows 21–40 of %d", services); !strings.HasPrefix(table.Summary, want) {
		t.Errorf("the services' page 2: %q, want %q", table.Summary, want)
	}
	if got, want := firstCells(table.Rows, 2), others[19:39]; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("the services' page 2:\n%q\nwant\n%q", got, want)
	}

	// The LBs: the failing one first, then by name; by instances, ascending, then descending.
	b.open("/lbs", http.StatusOK)
	table = b.table("div.table")
	if got := table.column("lb")[:3]; !slices.Equal(got, []string{"haproxy/lb-0042", "haproxy/lb-0000", "haproxy/lb-0001"}) {
		t.Errorf("the list of LBs starts %q, want the failing lb-0042, then lb-0000, lb-0001", got)
	}
	if want := "rows 1–100 of 1000 · CSV · page 1 of 10 · next ›"; table.Summary != want {
		t.Errorf("the list of LBs says %q, want %q", table.Summary, want)
	}
	// byInstances is the LBs of n×10 instances, in name order, for n from first to last.
	byInstances := func(first, last int) []string {
		var out []string
		for n := first; ; n += cmpSign(last - first) {
			for i, lb := range lbs {
				if len(lb.Services) == n {
					out = append(out, "haproxy/"+lbs[i].Name)
				}
			}
			if n == last {
				return out
			}
		}
	}
	b.click(`table.results thead a[title="sort by instances"]`)
	table = b.table("div.table")
	b.expectSorted(table, "instances", "ascending")
	if got, want := table.column("lb"), byInstances(1, 10)[:100]; !slices.Equal(got, want) {
		t.Errorf("the LBs by instances, page 1: %q, want those of 10 instances %q", got, want)
	}
	b.click(`table.results thead a[title="sort by instances"]`)
	table = b.table("div.table")
	b.expectSorted(table, "instances", "descending")
	b.shot("fleet-lbs-by-instances")

	// Every page, through "next": the 1,000 LBs once each, 100 instances down to 10.
	var seen, counts []string
	for page := 1; ; page++ {
		table = b.table("div.table")
		want := fmt.Sprintf("rows %d–%d of 1000", page*100-99, page*100)
		if !strings.HasPrefix(table.Summary, want) || !strings.Contains(table.Summary, fmt.Sprintf("page %d of 10", page)) ||
			(table.Prev != "") != (page > 1) || (table.Next != "") != (page < 10) {
			t.Errorf("page %d of the LBs says %q (previous %q, next %q), want %q", page, table.Summary, table.Prev, table.Next, want)
		}
		seen = append(seen, table.column("lb")...)
		counts = append(counts, table.column("instances")...)
		if table.Next == "" || page == 10 {
			break
		}
		b.click(`a[rel="next"]`)
		if q := b.query(); q.Get("page") != strconv.Itoa(page+1) || q.Get("sort") != "-instances" {
			t.Errorf("next from page %d leads to %s, want page %d still sorted", page, b.location(), page+1)
		}
	}
	if want := byInstances(10, 1); !slices.Equal(seen, want) {
		t.Errorf("the LBs page by page by instances, descending: %d rows, want %d, the 100-instance ones first: %q…", len(seen), len(want), seen[:min(12, len(seen))])
	}
	if !slices.IsSortedFunc(counts, func(x, y string) int { return atoi(t, y) - atoi(t, x) }) {
		t.Errorf("the LBs' instances page by page are not in descending order by value: %q", counts)
	}
	b.click(`a[rel="prev"]`)
	b.expectText("div.table p.summary", "rows 801–900 of 1000")

	// A filter: the ten LBs whose name holds lb-004, still by instances; CSV downloads them.
	b.typeInto(`div.table form.tablefilter input[name="filter"]`, "lb-004")
	b.submit(http.StatusOK)
	table = b.table("div.table")
	if q := b.query(); q.Get("page") != "" || q.Get("sort") != "-instances" {
		t.Errorf("the filtered list's URL %s, want page 1, still sorted", b.location())
	}
	if want := []string{"haproxy/lb-0049", "haproxy/lb-0048", "haproxy/lb-0047", "haproxy/lb-0046", "haproxy/lb-0045",
		"haproxy/lb-0044", "haproxy/lb-0043", "haproxy/lb-0042", "haproxy/lb-0041", "haproxy/lb-0040"}; !slices.Equal(table.column("lb"), want) {
		t.Errorf("the LBs holding lb-004 by instances: %q, want %q", table.column("lb"), want)
	}
	if want := "rows 1–10 of 10 (filtered from 1000)"; !strings.HasPrefix(table.Summary, want) {
		t.Errorf("the filtered list says %q, want %q", table.Summary, want)
	}
	b.checkCSV(table, "the LBs holding lb-004")
	b.shot("fleet-lbs-filtered")

	// An LB page sorted by response time: by the time, not by the digits it is written with
	// ("5 ms" before "1.2 s").
	b.open("/lb/haproxy/lb-0041", http.StatusOK)
	b.click(`table.results thead a[title="sort by response_time"]`)
	table = b.table("div.table")
	byTime := slices.Clone(lbs[41].Services[0].Instances[:len(responseTimes)])
	slices.SortFunc(byTime, func(x, y source.Instance) int {
		return cmp.Compare(x.Traffic[source.TrafficResponseTime], y.Traffic[source.TrafficResponseTime])
	})
	var fastest []string
	for _, inst := range byTime {
		fastest = append(fastest, inst.Name)
	}
	if got := table.column("server")[:len(fastest)]; !slices.Equal(got, fastest) {
		t.Errorf("lb-0041's instances by response time: %q (%q), want %q, fastest first", got, table.column("response_time"), fastest)
	}
	b.shot("fleet-lb-by-response-time")

	// A host's IP, typed into the search box: the host and every instance at that address,
	// exact matches all; ip:port, the one instance there.
	target := lbs[9].Services[9].Instances[3]
	ipPort := target.Address + ":" + strconv.Itoa(target.Port)
	host := hostAt(facts, target.Address)
	atIP := [][]string{{"host", host, host, "addresses=" + target.Address}}
	var atIPPort [][]string
	for _, lb := range lbs {
		for _, svc := range lb.Services {
			for _, inst := range svc.Instances {
				id := lb.Name + "/" + svc.Name + "/" + inst.Name
				if inst.Address == target.Address {
					atIP = append(atIP, []string{"instance", id, inst.Name, "address=" + target.Address})
				}
				if inst.Address == target.Address && inst.Port == target.Port {
					atIPPort = append(atIPPort, []string{"instance", id, inst.Name, "address:port=" + ipPort})
				}
			}
		}
	}
	if len(atIP) < 3 || len(atIPPort) != 1 {
		t.Fatalf("the fleet has %q at %s, want a host and several instances, one of them at %s", atIP, target.Address, ipPort)
	}
	b.press("/")
	b.press(target.Address)
	b.submit(http.StatusOK)
	if got := b.query().Get("q"); got != target.Address {
		t.Errorf("searching %s leads to %s", target.Address, b.location())
	}
	table = b.table("div.table")
	if !sameRows(table.Rows, atIP) {
		t.Errorf("searching %s: %q, want the host and the instances at that address %q", target.Address, table.Rows, atIP)
	}
	if len(table.Rows) > 0 && table.Rows[0][1] != host {
		t.Errorf("searching %s lists %q first, want the host that has the address, %s, before the instances that point at it", target.Address, table.Rows[0], host)
	}
	b.shot("fleet-search-ip")
	b.open("/search?"+url.Values{"q": {ipPort}}.Encode(), http.StatusOK)
	if got := b.table("div.table").Rows; !slices.EqualFunc(got, atIPPort, slices.Equal) {
		t.Errorf("searching %s: %q, want %q", ipPort, got, atIPPort)
	}
	b.click(`table.results a[href="/entity/instance/` + atIPPort[0][1] + `"]`)
	b.expectHeading("instance " + target.Name + " " + atIPPort[0][1])

	b.checkRequestsStayedLocal()
	b.checkNoPageErrors()
}

// fleetGraphs serves the refresher's latest graph; the synthetic fleet keeps no history.
type fleetGraphs struct{ r *topology.Refresher }

func (f fleetGraphs) GraphAt(_ context.Context, at time.Time) (*graph.Graph, []string, error) {
	if !at.IsZero() {
		return nil, nil, errors.New("the synthetic fleet keeps no history")
	}
	g, warnings := f.r.Graph()
	return g, warnings, nil
}

// hostAt is the name of the fleet's host with the address.
func hostAt(facts *source.FactSet, address string) string {
	for _, h := range facts.Hosts {
		if slices.Contains(h.Addresses, address) {
			return h.Name
		}
	}
	return ""
}

// firstCells is each row's first n cells.
func firstCells(rows [][]string, n int) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = r[:min(n, len(r))]
	}
	return out
}

// sameRows tells whether two tables hold the same rows, in any order.
func sameRows(a, b [][]string) bool {
	key := func(rows [][]string) []string {
		out := make([]string, len(rows))
		for i, r := range rows {
			out[i] = strings.Join(r, "\x00")
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q is no count: %v", s, err)
	}
	return n
}

func cmpSign(n int) int {
	if n < 0 {
		return -1
	}
	return 1
}
