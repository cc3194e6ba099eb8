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

// changesPath is what the Changes page diffs when the box is empty: every instance behind
// the load balancers and everything they run on.
const changesPath = "lb -> instance"

// changesWindow is how far back "from" is when the URL does not say.
const changesWindow = time.Hour

// changeKinds are the kinds of change diff answers, in the order the summary names them.
var changeKinds = []string{"changed", "added", "removed"}

type changesData struct {
	Path string
	// From and To are the pickers' times; To is zero for the latest graph (now).
	From, To    time.Time
	Time        string // the page's ?time=, kept by the form
	Error       string
	Caret       string
	Warnings    []string
	Ran         bool
	Rows        []changeRow
	Counts      []changeCount
	Permalink   string // the same diff with both times explicit: the same answer tomorrow
	DefaultPath string
}

type changeRow struct {
	Change, Kind string
	ID           cell
	Attribute    string
	From, To     string
}

type changeCount struct {
	Change string
	N      int
}

// changes is the diff of a path between two times: ?q=path&from=…&to=… (RFC 3339, unix
// seconds, or a datetime-local field's value read as UTC). Without from and to it is the
// last hour up to ?time= (or now).
func (u *UI) changes(c *echo.Context) error {
	d := changesData{Path: strings.TrimSpace(c.QueryParam("q")), Time: c.QueryParam("time"), DefaultPath: changesPath}
	if d.Path == "" {
		d.Path = changesPath
	}
	fail := func(code int, msg string) error {
		d.Error = msg
		return u.render(c, code, "changes", "Changes", d)
	}
	at, err := asOf(c)
	if err != nil {
		return fail(http.StatusBadRequest, "time: "+err.Error())
	}
	if d.To, err = formTime(c.QueryParam("to")); err != nil {
		return fail(http.StatusBadRequest, "to: "+err.Error())
	}
	if d.To.IsZero() {
		d.To = at // zero still: the latest graph
	}
	if d.From, err = formTime(c.QueryParam("from")); err != nil {
		return fail(http.StatusBadRequest, "from: "+err.Error())
	}
	end := d.To
	if end.IsZero() {
		end = u.opts.Now().UTC()
	}
	if d.From.IsZero() {
		d.From = end.Add(-changesWindow)
	}
	q, err := query.Parse(d.Path, u.opts.Limits)
	if err != nil {
		d.Caret = caret(d.Path, err)
		return fail(http.StatusBadRequest, err.Error())
	}
	if err := diffOnly(q); err != nil {
		d.Caret = caret(d.Path, err)
		return fail(http.StatusBadRequest, err.Error())
	}
	if q.Diff != nil { // diff(path, from, to) typed in the box: its times win
		d.From, d.To, end = q.Diff.From, q.Diff.To, q.Diff.To
	}
	if !end.After(d.From) {
		return fail(http.StatusBadRequest, "from must be before to ("+fmtRFC3339(d.From)+" is not before "+fmtRFC3339(end)+")")
	}
	// Both ends from the stored history, "now" included: the latest graph holds facts that the
	// series do not (pids, how an instance was resolved), which would all read as changes.
	q.Diff = &query.Diff{From: d.From, To: end}
	eng := &query.Engine{Graphs: u.opts.Graphs, Limits: u.opts.Limits, Now: u.opts.Now}
	res, err := eng.Run(c.Request().Context(), q)
	if err != nil {
		d.Caret = caret(d.Path, err)
		return fail(failedStatus(c, err))
	}
	d.Ran, d.Warnings = true, res.Warnings
	d.Permalink = "/changes?" + url.Values{"q": {d.Path}, "from": {fmtRFC3339(d.From)}, "to": {fmtRFC3339(end)}}.Encode()
	d.Rows, d.Counts = changeRows(res, fmtRFC3339(d.From), linkTime(d.To, d.Time))
	return u.render(c, http.StatusOK, "changes", "Changes", d)
}

// changeRows turns diff's table (change, kind, id, attribute, from, to) into the page's rows.
// An entity links to the page of the time it exists at: a removed one to "from", the others
// to "to".
func changeRows(res *query.Result, fromAt, toAt string) ([]changeRow, []changeCount) {
	counts := map[string]int{}
	rows := make([]changeRow, 0, len(res.Rows))
	for _, r := range res.Rows {
		if len(r) < 6 {
			continue
		}
		row := changeRow{Change: r[0], Kind: r[1], ID: cell{Text: r[2]}, Attribute: r[3], From: r[4], To: r[5]}
		if kind := graph.Kind(r[1]); kind.Depth() >= 0 {
			at := toAt
			if r[0] == "removed" {
				at = fromAt
			}
			row.ID.Href = entityHref(kind, r[2], at)
		}
		counts[r[0]]++
		rows = append(rows, row)
	}
	var out []changeCount
	for _, k := range changeKinds {
		if counts[k] > 0 {
			out = append(out, changeCount{k, counts[k]})
		}
	}
	return rows, out
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

// linkTime is the time parameter of links into a graph at t: the page's own for the latest.
func linkTime(t time.Time, pageTime string) string {
	if t.IsZero() {
		return pageTime
	}
	return fmtRFC3339(t)
}

func fmtRFC3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
