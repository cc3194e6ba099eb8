package ui

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/strata-obs/strata/topology/graph"
)

// homeChanges is the landing page's window of changes, and how many of them it lists;
// homeServiceRows the services a page of its table holds: the failing first, then a glance.
const (
	homeChanges     = time.Hour
	homeChangeRows  = 10
	homeServiceRows = 20
)

type homeData struct {
	Error string
	// Refreshing: the first refresh has not finished, so the graph is empty for now, not for good.
	Refreshing bool
	Status     *Status // nil for a past time: sources say how they are now, not then
	Sources    *table  // Status's sources
	Counts     []kindCount
	Services   *table // every LB's services, those with failing instances first
	Failing    int    // instances failing
	Changes    *homeChangesView
	Examples   []example
}

type kindCount struct {
	Kind string
	N    int
	Href string
}

type homeChangesView struct {
	Since     time.Time // the window's start, or when the journal starts if later
	Counts    []changeCount
	Rows      []homeChange
	More      int
	Href      string // the Changes page for this window
	Available bool   // the journal covers some of the window
}

type homeChange struct {
	At                 time.Time
	Change, Kind, Attr string
	Entity             cell
	From, To           string
	LBs                []cell
}

type example struct{ Query, What, Href string }

// home is the landing page: is anything wrong, and where. The refresh loop and its sources,
// how many of each kind the graph holds, the services behind each LB with their failing
// instances first, what changed in the last hour; then the search.
func (u *UI) home(c *echo.Context) error {
	if c.QueryParam("q") != "" { // the search's old address: bookmarks and scripts keep working
		return c.Redirect(http.StatusFound, "/search?"+c.Request().URL.RawQuery)
	}
	at := c.QueryParam("time")
	d := homeData{Examples: examples(at)}
	when, err := asOf(c)
	if err != nil {
		d.Error = "time: " + err.Error()
		return u.render(c, http.StatusBadRequest, "home", "Overview", d)
	}
	if when.IsZero() && u.opts.Status != nil {
		st := u.opts.Status()
		d.Status, d.Refreshing = &st, !st.Refreshed
		now := u.opts.Now()
		var rows []row
		for _, src := range st.Sources {
			state := cell{Text: "up", Class: "up"}
			if !src.Up {
				state = cell{Text: strings.TrimSuffix("down: "+src.Error, ": "), Class: "down"}
			}
			seen := cell{Text: "never", Sort: "0"}
			if !src.LastSeen.IsZero() {
				seen = cell{Text: humanAgo(now.Sub(src.LastSeen)), Sort: strconv.FormatInt(now.Sub(src.LastSeen).Milliseconds(), 10)}
			}
			rows = append(rows, row{Cells: []cell{{Text: src.Name}, {Text: src.Kind}, state, seen}, Failing: !src.Up})
		}
		d.Sources = newTable(c, "sources", []string{"source", "kind", "state", "last answer"}, rows, 0)
		if d.Sources.wantsCSV(c) {
			return d.Sources.writeCSV(c, "strata-sources")
		}
	}
	g, _, err := u.opts.Graphs.GraphAt(c.Request().Context(), when)
	if err != nil {
		code, msg := failedStatus(c, err)
		d.Error = msg
		return u.render(c, code, "home", "Overview", d)
	}
	for _, k := range graph.Kinds() {
		d.Counts = append(d.Counts, kindCount{Kind: string(k), N: g.Count(k), Href: pathQueryHref(string(k), at)})
	}
	svcs := u.servicesOf(g, at)
	rows := svcs.rows
	d.Failing = svcs.failing
	d.Services = newTable(c, "services", serviceColumns, rows, homeServiceRows)
	if d.Services.wantsCSV(c) {
		return d.Services.writeCSV(c, "strata-services")
	}
	d.Changes = u.recentChanges(when, at)
	return u.render(c, http.StatusOK, "home", "Overview", d)
}

type services struct {
	rows    []row
	failing int
}

// servicesOf is every service's row and the instances failing, once per graph (memo.go).
func (u *UI) servicesOf(g *graph.Graph, at string) services {
	return cached(&u.memo, g, "services?time="+at, func() services {
		rows, failing := serviceRows(g, at)
		return services{rows, failing}
	})
}

var serviceColumns = []string{"load balancer", "service", "instances", "failing", "error ratio", "requests", "worst instance"}

// serviceRows is one row per service behind an LB: its instances, how many fail, its own error
// ratio and request rate as the LB counts them, and its worst instance. Services with failing
// instances come first, the most failing first.
func serviceRows(g *graph.Graph, at string) ([]row, int) {
	type svcRow struct {
		row     row
		failing int
		ratio   float64
	}
	var out []svcRow
	total := 0
	for lb := range g.All(graph.LB) {
		for _, svc := range g.Below(lb.Ref, graph.Service) {
			var worst *graph.Entity
			n, failing := 0, 0
			for _, inst := range g.Below(svc.Ref, graph.Instance) {
				n++
				if isFailing(inst) {
					failing++
				}
				if worst == nil || worseInstance(inst, worst) {
					worst = inst
				}
			}
			total += failing
			r := svcRow{failing: failing}
			r.ratio, _ = strconv.ParseFloat(svc.Attrs.Get("error_ratio"), 64)
			cells := []cell{
				{Text: lb.ID, Href: lbHref(lb.ID, at)},
				{Text: svc.Name, Href: entityHref(graph.Service, svc.ID, at)},
				{Text: strconv.Itoa(n)},
				{Text: strconv.Itoa(failing)},
				{Text: humanRatio(svc.Attrs.Get("error_ratio")), Sort: svc.Attrs.Get("error_ratio")},
				{Text: humanRate(svc.Attrs.Get("req_rate")), Sort: svc.Attrs.Get("req_rate")},
				{},
			}
			if failing > 0 {
				cells[3].Class = "failing"
			}
			if worst != nil && isFailing(worst) {
				cells[6] = cell{Text: strings.TrimSpace(worst.Name + " " + shownHealth(worst) + " " + errorsText(worst)), Href: entityHref(graph.Instance, worst.ID, at), Class: "failing",
					Sort: worst.Attrs.Get("error_ratio")}
			}
			r.row = row{Cells: cells, Failing: failing > 0}
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b svcRow) int {
		return cmp.Or(cmp.Compare(b.failing, a.failing), cmp.Compare(b.ratio, a.ratio),
			compareNatural(a.row.Cells[0].Text, b.row.Cells[0].Text), compareNatural(a.row.Cells[1].Text, b.row.Cells[1].Text))
	})
	rows := make([]row, len(out))
	for i, r := range out {
		rows[i] = r.row
	}
	return rows, total
}

// isFailing tells an instance the page draws red: not UP, or failing by its error ratio.
func isFailing(e *graph.Entity) bool {
	return e.Attrs.Get("failing") == "true" || healthClass(e.Attrs.Get("health")) == "down"
}

// worseInstance tells whether a is worse than b: failing before not, then by error ratio.
func worseInstance(a, b *graph.Entity) bool {
	if fa, fb := isFailing(a), isFailing(b); fa != fb {
		return fa
	}
	ra, _ := strconv.ParseFloat(a.Attrs.Get("error_ratio"), 64)
	rb, _ := strconv.ParseFloat(b.Attrs.Get("error_ratio"), 64)
	return ra > rb
}

// recentChanges is the last hour of the refresh loop's journal up to the page's time; nil
// when the UI has no journal.
func (u *UI) recentChanges(when time.Time, at string) *homeChangesView {
	if u.opts.Changes == nil {
		return nil
	}
	end := when
	if end.IsZero() {
		end = u.opts.Now().UTC()
	}
	start := end.Add(-homeChanges)
	changes, since := u.opts.Changes(start, end)
	v := &homeChangesView{Since: start, Available: !since.IsZero() && since.Before(end)}
	if since.After(start) {
		v.Since = since
	}
	v.Href = withTime("/changes?range=1h", at)
	counts := map[string]int{}
	for _, ch := range changes {
		counts[ch.Change]++
	}
	for _, k := range changeKinds {
		if counts[k] > 0 {
			v.Counts = append(v.Counts, changeCount{k, counts[k]})
		}
	}
	// Newest first.
	for i := len(changes) - 1; i >= 0 && len(v.Rows) < homeChangeRows; i-- {
		ch := changes[i]
		hc := homeChange{At: ch.At, Change: ch.Change, Kind: ch.Kind, Attr: ch.Attribute, From: ch.From, To: ch.To,
			Entity: cell{Text: ch.ID}}
		if k := graph.Kind(ch.Kind); k.Depth() >= 0 { // the entity as that refresh saw it (as the Changes page links it)
			hc.Entity.Href = entityHref(k, ch.ID, changeLinkTime(changeSeen(ch.Change, ch.At)))
		}
		for _, lb := range ch.LBs {
			hc.LBs = append(hc.LBs, cell{Text: lb, Href: lbHref(lb, at)})
		}
		v.Rows = append(v.Rows, hc)
	}
	v.More = len(changes) - len(v.Rows)
	return v
}

// examples are the README's query language, one click away.
func examples(at string) []example {
	out := make([]example, len(queryExamples))
	for i, e := range queryExamples {
		out[i] = example{e.Query, e.What, pathQueryHref(e.Query, at)}
	}
	return out
}
