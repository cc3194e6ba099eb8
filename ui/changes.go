package ui

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/topology/graph"
)

// changesPath is what the Changes page diffs from the stored history when the box is empty
// and the refresh loop's journal cannot answer: every instance behind the load balancers and
// everything they run on.
const changesPath = "lb -> instance"

// changesRanges are the windows the page offers, up to its end (?range=); the first hour when
// the URL names neither a range nor from.
var changesRanges = []struct {
	Param string
	D     time.Duration
}{{"15m", 15 * time.Minute}, {"1h", time.Hour}, {"6h", 6 * time.Hour}, {"24h", 24 * time.Hour}}

const defaultChangesRange = "1h"

// changeKinds are the kinds of change diff answers, in the order the summary names them.
var changeKinds = []string{"changed", "added", "removed"}

// The columns of the two answers: the journal's changes have a time and the LBs above them; a
// diff of two past graphs has neither.
var (
	journalColumns = []string{"when", "change", "kind", "id", "attribute", "from", "to", "load balancers"}
	historyColumns = []string{"change", "kind", "id", "attribute", "from", "to"}
)

type changesData struct {
	Path        string // the box as typed; empty for the default
	DefaultPath string
	// From and To are the window's times as the URL gave them; To is zero for now, and End
	// is the window's end then resolved.
	From, To, End time.Time
	Time          string // the page's ?time=, kept by the form
	Ranges        []navItem
	Error         string
	Caret         string
	Warnings      []string
	Ran           bool
	// Journal: the refresh loop's journal answered, with when and the LBs; otherwise the
	// stored history did. Since is when the journal starts (zero: no journal yet), and
	// SinceHref its window of changes when this one starts before it.
	Journal    bool
	HasJournal bool // the UI reads a journal (Options.Changes)
	Since      time.Time
	SinceHref  string
	// Clamped: the window asked for (a range, not from/to) starts before the journal, which
	// answered from its start; HistoryHref is the whole window diffed from the history.
	Clamped     bool
	HistoryHref string
	Typed       bool // a path was typed: the history answers it
	Table       *table
	Counts      []changeCount
	Permalink   string // the same window with both times explicit: the same answer tomorrow
}

type changeCount struct {
	Change string
	N      int
}

// changes is what changed in a window: ?range=15m|1h|6h|24h up to ?to= (or ?time=, or now),
// or ?from=…&to=… (RFC 3339, unix seconds, or "2006-01-02 15:04:05" as the page shows it, UTC).
// With the box empty (or holding the default path), the refresh loop's journal answers when it
// covers the window: each change with the refresh that saw it and the LBs above it, in a
// moment on any fleet. A typed path, or a window older than the journal, is diffed from the
// stored history (seconds on a large fleet): the graphs at both ends compared.
func (u *UI) changes(c *echo.Context) error {
	d := changesData{Path: strings.TrimSpace(c.QueryParam("q")), Time: c.QueryParam("time"), DefaultPath: changesPath}
	fail := func(code int, msg string) error {
		d.Error = msg
		return u.render(c, code, "changes", "Changes", d)
	}
	at, err := asOf(c)
	if err != nil {
		return fail(http.StatusBadRequest, "time: "+err.Error())
	}
	if d.To, err = formTime(spacedTime(c.QueryParam("to"))); err != nil {
		return fail(http.StatusBadRequest, "to: "+err.Error())
	}
	if d.To.IsZero() {
		d.To = at // zero still: the latest graph
	}
	if d.From, err = formTime(spacedTime(c.QueryParam("from"))); err != nil {
		return fail(http.StatusBadRequest, "from: "+err.Error())
	}
	d.End = d.To
	if d.End.IsZero() {
		d.End = u.opts.Now().UTC()
	}
	window, rangeParam, err := changesRange(c.QueryParam("range"))
	if err != nil {
		return fail(http.StatusBadRequest, err.Error())
	}
	explicit := !d.From.IsZero()
	if d.From.IsZero() {
		d.From = d.End.Add(-window)
	}

	path := d.Path
	if path == "" {
		path = changesPath
	}
	q, err := query.Parse(path, u.opts.Limits)
	if err != nil {
		d.Caret = caret(d.Path, err)
		return fail(http.StatusBadRequest, err.Error())
	}
	if err := diffOnly(q); err != nil {
		d.Caret = caret(d.Path, err)
		return fail(http.StatusBadRequest, err.Error())
	}
	if q.Diff != nil { // diff(path, from, to) typed in the box: its times win
		d.From, d.To, d.End, explicit = q.Diff.From, q.Diff.To, q.Diff.To, true
	}
	d.Ranges = rangeLinks(c, rangeParam, explicit)
	if !d.End.After(d.From) {
		return fail(http.StatusBadRequest, "from must be before to ("+fmtTime(d.From)+" is not before "+fmtTime(d.End)+")")
	}
	d.Typed, d.HasJournal = path != changesPath, u.opts.Changes != nil

	var rows []row
	var counts map[string]int
	if u.opts.Changes != nil && !d.Typed {
		var journal []graph.Change
		journal, d.Since = u.opts.Changes(d.From, d.End)
		if !explicit && !d.Since.IsZero() && d.From.Before(d.Since) && d.Since.Before(d.End) {
			// The last hour just after a restart: the journal's part of it at once, and the rest
			// a click away, rather than seconds of history diff for the default page.
			d.HistoryHref = "/changes?" + url.Values{"from": {fmtRFC3339(d.From)}, "to": {fmtRFC3339(d.End)}}.Encode()
			d.From, d.Clamped = d.Since, true
		}
		if d.Journal = !d.Since.IsZero() && !d.From.Before(d.Since); d.Journal {
			rows, counts = journalRows(journal, d.Time)
		} else if !d.Since.IsZero() && d.Since.Before(d.End) {
			d.SinceHref = "/changes?" + url.Values{"from": {fmtRFC3339(d.Since)}, "to": {fmtRFC3339(d.End)}}.Encode()
		}
	}
	if !d.Journal {
		// Both ends from the stored history, "now" included: the latest graph holds facts
		// that the series do not (pids, how an instance was resolved), which would all read
		// as changes.
		q.Diff = &query.Diff{From: d.From, To: d.End}
		eng := &query.Engine{Graphs: u.opts.Graphs, Limits: u.opts.Limits, Now: u.opts.Now}
		res, err := eng.Run(c.Request().Context(), q)
		if err != nil {
			d.Caret = caret(d.Path, err)
			return fail(failedStatus(c, err))
		}
		d.Warnings = res.Warnings
		rows, counts = historyRows(res, changeLinkTime(d.From), changeLinkTime(d.To))
	}
	columns := historyColumns
	if d.Journal {
		columns = journalColumns
	}
	d.Table = newTable(c, "", columns, rows, 0)
	if d.Table.wantsCSV(c) {
		return d.Table.writeCSV(c, "strata-changes")
	}
	d.Ran = true
	for _, k := range changeKinds {
		if counts[k] > 0 {
			d.Counts = append(d.Counts, changeCount{k, counts[k]})
		}
	}
	pinned := url.Values{"from": {fmtRFC3339(d.From)}, "to": {fmtRFC3339(d.End)}}
	if d.Path != "" {
		pinned.Set("q", d.Path)
	}
	d.Permalink = "/changes?" + pinned.Encode()
	return u.render(c, http.StatusOK, "changes", "Changes", d)
}

// changesRange reads ?range=: one of the page's choices, or any other duration Go reads
// (90m); the default when empty.
func changesRange(s string) (time.Duration, string, error) {
	if s == "" {
		s = defaultChangesRange
	}
	for _, r := range changesRanges {
		if r.Param == s {
			return r.D, s, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, "", errors.New(`range: "` + s + `" is no duration: want 15m, 1h, 6h or 24h`)
	}
	return d, s, nil
}

// rangeLinks are the page's windows as links that keep the path and the end; the current one
// is marked, unless from names the start.
func rangeLinks(c *echo.Context, current string, explicitFrom bool) []navItem {
	q := c.Request().URL.Query()
	var out []navItem
	for _, r := range changesRanges {
		v := url.Values{"range": {r.Param}}
		for _, k := range []string{"q", "to", "time"} {
			if s := q.Get(k); s != "" {
				v.Set(k, s)
			}
		}
		out = append(out, navItem{Title: "last " + r.Param, Href: "/changes?" + v.Encode(), Current: !explicitFrom && r.Param == current})
	}
	return out
}

// journalRows are the journal's changes as the page's rows, newest refresh first and each
// refresh's in the diff's order, with counts of each kind of change. An entity links to its
// page at the refresh that saw the change (a removed one just before), an LB to its page.
func journalRows(changes []graph.Change, pageTime string) ([]row, map[string]int) {
	rows := make([]row, 0, len(changes))
	counts := map[string]int{}
	// A fleet's kernel upgrade is thousands of changes under the same few hundred LBs: each
	// LB's link is made once, and the cells of every row come from two allocations, not two
	// per row.
	lbLinks := map[string]string{}
	nLBs := 0
	for _, ch := range changes {
		nLBs += len(ch.LBs) + 1
	}
	cellsOf, lbsOf := make([]cell, 0, len(changes)*len(journalColumns)), make([]cell, 0, nLBs)
	for end := len(changes); end > 0; {
		start := end - 1
		for start > 0 && changes[start-1].At.Equal(changes[end-1].At) {
			start--
		}
		// One refresh's changes share its time: its text and links are made once.
		at := changes[start].At
		when, seen, gone := fmtTime(at), changeLinkTime(changeSeen("changed", at)), changeLinkTime(changeSeen("removed", at))
		for _, ch := range changes[start:end] {
			counts[ch.Change]++
			first := len(lbsOf)
			for _, lb := range ch.LBs {
				href, ok := lbLinks[lb]
				if !ok {
					href = lbHref(lb, pageTime)
					lbLinks[lb] = href
				}
				lbsOf = append(lbsOf, cell{Text: lb, Href: href})
			}
			if ch.MoreLBs {
				lbsOf = append(lbsOf, cell{Text: "and more"})
			}
			lbs := lbsOf[first:len(lbsOf):len(lbsOf)]
			linkAt := seen
			if ch.Change == "removed" {
				linkAt = gone
			}
			first = len(cellsOf)
			cellsOf = append(cellsOf, cell{Text: when})
			cellsOf = changeCells(cellsOf, ch.Change, ch.Kind, ch.ID, ch.Attribute, ch.From, ch.To, linkAt)
			cellsOf = append(cellsOf, cell{Items: lbs})
			rows = append(rows, row{Cells: cellsOf[first:len(cellsOf):len(cellsOf)]})
		}
		end = start
	}
	return rows, counts
}

// historyRows turns diff's table (change, kind, id, attribute, from, to) into the page's rows.
// An entity links to the page of the time it exists at: a removed one to "from", the others
// to "to".
func historyRows(res *query.Result, fromAt, toAt string) ([]row, map[string]int) {
	counts := map[string]int{}
	rows := make([]row, 0, len(res.Rows))
	for _, r := range res.Rows {
		if len(r) < 6 {
			continue
		}
		at := toAt
		if r[0] == "removed" {
			at = fromAt
		}
		counts[r[0]]++
		rows = append(rows, row{Cells: changeCells(make([]cell, 0, len(historyColumns)), r[0], r[1], r[2], r[3], r[4], r[5], at)})
	}
	return rows, counts
}

// changeCells appends the cells both answers share: change, kind, id (a link to the entity's
// page at at), attribute, from (struck through when it changed), to.
func changeCells(dst []cell, change, kind, id, attr, from, to, at string) []cell {
	idCell := cell{Text: id}
	if k := graph.Kind(kind); k.Depth() >= 0 {
		idCell.Href = entityHref(k, id, at)
	}
	was := ""
	if change == "changed" {
		was = "was"
	}
	return append(dst, cell{Text: change, Class: changeClass[change]}, cell{Text: kind}, idCell, cell{Text: attr}, cell{Text: from, Class: was}, cell{Text: to})
}

// changeClass colours a change's cell by its kind; a constant each, not a string per row.
var changeClass = map[string]string{"added": "change change-added", "removed": "change change-removed", "changed": "change change-changed"}

// changeSeen is when the graph holds what a change is about: the refresh that saw it, or for
// a removal the moment before, whose graph still held it (the refresh wrote its series at
// that millisecond, and marked the removed one's gone).
func changeSeen(change string, at time.Time) time.Time {
	if change == "removed" {
		return at.Truncate(time.Millisecond).Add(-time.Millisecond)
	}
	return at
}

// changeLinkTime is the time parameter of a link into the graph at t ("" for the latest): to
// the millisecond the series are written at, so that a link to a refresh's change does not
// land a moment before that refresh; whole seconds print as RFC 3339 without a fraction.
func changeLinkTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.999Z07:00")
}

// diffOnly refuses what a diff does not apply: stages, @ and offset.
func diffOnly(q *query.Query) error {
	if len(q.Stages) > 0 {
		return &query.Error{Pos: q.Stages[0].Pos, Msg: "the Changes page diffs a path: a | stage does not apply here (search takes it)"}
	}
	if q.At != nil || q.Offset != 0 {
		return errors.New("the Changes page diffs a path between the two times below: @ and offset do not apply here")
	}
	return nil
}

// formTime reads a time of the URL: RFC 3339, unix seconds, or the value of a datetime-local
// field (no zone), read as UTC as the page shows it. Empty is the zero time.
func formTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			s = t.UTC().Format(time.RFC3339) // and checked as any other time
			break
		}
	}
	return query.ParseTime(s)
}

func fmtRFC3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
