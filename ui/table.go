package ui

import (
	"cmp"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v5"
)

// A table is one table of a page, sorted, filtered and cut into pages on the server, so that a
// 10,000-row answer is still a page a browser draws at once, and its URL says what the SRE saw.
// The URL's parameters, prefixed by the table's name on a page with several (hosts.sort=…):
//
//	sort=<column>     ascending; sort=-<column> descending. Without it: failing rows first, then
//	                  the page's own order.
//	filter=<text>     the rows holding the text in any column, case-insensitive.
//	page=<n>          from 1, per_page rows each (perPage, at most maxPerPage).
//	format=csv        every row that passes the filter, in the order shown (&table=<name> on a
//	                  page with several tables).
//
// Sorting is natural: "node-9" before "node-10", numbers by value, empty cells last.
type table struct {
	Name    string // the prefix of its parameters; "" for a page's main table
	Columns []column
	Rows    []row // the page shown

	Total, Matched int // rows before and after the filter
	Filter         string
	FilterParam    string
	Keep           []kv // the URL's other parameters, which the filter form keeps
	ClearHref      string
	First, Last    int // the rows shown, from 1; First is 0 when none is
	Page, Pages    int
	PrevHref       string
	NextHref       string
	CSVHref        string

	all []row // every row that passes the filter, sorted: what CSV writes
}

// column is one column's heading: its name, and the link that sorts by it.
type column struct {
	Name   string
	Href   string
	Sorted string // "ascending", "descending", or "" (aria-sort)
}

// row is one row; a failing one is drawn red and comes first by default. The row of a long
// answer may come without its cells, only its place in the answer (src): the table makes its
// cells (lazyTable) for the rows it shows, and for every row only when a filter, a sort or CSV
// reads them all.
type row struct {
	Cells   []cell
	Failing bool
	src     int
}

// Page sizes.
const (
	perPage    = 100
	maxPerPage = 1000
)

// newTable sorts, filters and pages rows by the request's parameters, size rows a page unless
// the URL says (0: perPage).
func newTable(c *echo.Context, name string, columns []string, rows []row, size int) *table {
	return lazyTable(c, name, columns, rows, nil, size)
}

// lazyTable is newTable for rows whose cells are made by cells(src) when they are needed: a
// search answers 100,000 rows and shows a hundred.
func lazyTable(c *echo.Context, name string, columns []string, rows []row, cells func(src int) []cell, size int) *table {
	q := c.Request().URL.Query()
	param := func(p string) string {
		if name == "" {
			return p
		}
		return name + "." + p
	}
	t := &table{Name: name, Total: len(rows), Filter: strings.TrimSpace(q.Get(param("filter"))), FilterParam: param("filter")}
	link := func(set map[string]string) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = slices.Clone(vs)
		}
		for k, s := range set {
			if s == "" {
				v.Del(k)
			} else {
				v.Set(k, s)
			}
		}
		if len(v) == 0 {
			return "?"
		}
		return "?" + v.Encode()
	}

	sortBy := q.Get(param("sort"))
	desc := strings.HasPrefix(sortBy, "-")
	col := slices.Index(columns, strings.TrimPrefix(sortBy, "-"))
	fill := func(rows []row) {
		for i := range rows {
			if rows[i].Cells == nil && cells != nil {
				rows[i].Cells = cells(rows[i].src)
			}
		}
	}
	if t.Filter != "" || col >= 0 || wantsCSV(c) && c.QueryParam("table") == name {
		rows = slices.Clone(rows)
		fill(rows)
	}

	if t.Filter != "" {
		needle := strings.ToLower(t.Filter)
		kept := rows[:0:0]
		for _, r := range rows {
			if r.holds(needle) {
				kept = append(kept, r)
			}
		}
		rows = kept
	}
	t.Matched = len(rows)

	if col >= 0 {
		rows = slices.Clone(rows)
		slices.SortStableFunc(rows, func(a, b row) int {
			x := compareNatural(a.sortKey(col), b.sortKey(col))
			if desc {
				return -x
			}
			return x
		})
	} else {
		rows = failingFirst(rows)
	}
	t.all = rows
	for i, name := range columns {
		h := column{Name: name, Href: link(map[string]string{param("sort"): name, param("page"): ""})}
		if i == col {
			h.Sorted = "ascending"
			if desc {
				h.Sorted = "descending"
			} else {
				h.Href = link(map[string]string{param("sort"): "-" + name, param("page"): ""})
			}
		}
		t.Columns = append(t.Columns, h)
	}

	if size <= 0 {
		size = perPage
	}
	if n, err := strconv.Atoi(q.Get(param("per_page"))); err == nil && n > 0 {
		size = min(n, maxPerPage)
	}
	t.Pages = max(1, (len(rows)+size-1)/size)
	t.Page = 1
	if n, err := strconv.Atoi(q.Get(param("page"))); err == nil && n > 1 {
		t.Page = min(n, t.Pages)
	}
	start := (t.Page - 1) * size
	end := min(start+size, len(rows))
	t.Rows = rows[start:end]
	fill(t.Rows)
	if end > start {
		t.First, t.Last = start+1, end
	}
	if t.Page > 1 {
		t.PrevHref = link(map[string]string{param("page"): strconv.Itoa(t.Page - 1)})
	}
	if t.Page < t.Pages {
		t.NextHref = link(map[string]string{param("page"): strconv.Itoa(t.Page + 1)})
	}
	csv := map[string]string{"format": "csv", param("page"): ""}
	if name != "" {
		csv["table"] = name
	}
	t.CSVHref = link(csv)
	t.ClearHref = link(map[string]string{param("filter"): "", param("page"): ""})
	for k, vs := range q {
		if k == param("filter") || k == param("page") {
			continue
		}
		for _, v := range vs {
			t.Keep = append(t.Keep, kv{Key: k, Value: v})
		}
	}
	slices.SortFunc(t.Keep, func(a, b kv) int { return cmp.Compare(a.Key, b.Key) })
	return t
}

// failingFirst is the rows, failing ones first, each in its order otherwise: a new slice.
func failingFirst(rows []row) []row {
	out := make([]row, 0, len(rows))
	for _, r := range rows {
		if r.Failing {
			out = append(out, r)
		}
	}
	for _, r := range rows {
		if !r.Failing {
			out = append(out, r)
		}
	}
	return out
}

// wantsCSV tells whether the request asks for this table as CSV.
func (t *table) wantsCSV(c *echo.Context) bool {
	return wantsCSV(c) && c.QueryParam("table") == t.Name
}

// writeCSV answers every row that passes the filter, in the order shown.
func (t *table) writeCSV(c *echo.Context, file string) error {
	columns := make([]string, len(t.Columns))
	for i, col := range t.Columns {
		columns[i] = col.Name
	}
	rows := make([][]string, len(t.all))
	for i, r := range t.all {
		rows[i] = make([]string, len(r.Cells))
		for j := range r.Cells {
			rows[i][j] = r.text(j)
		}
	}
	return writeCSV(c, file, columns, rows)
}

// text is a cell's text; a cell of several items is their texts, space-separated.
func (r row) text(i int) string {
	if i >= len(r.Cells) {
		return ""
	}
	c := r.Cells[i]
	if len(c.Items) == 0 {
		return c.Text
	}
	texts := make([]string, len(c.Items))
	for j, it := range c.Items {
		texts[j] = it.Text
	}
	return strings.Join(texts, " ")
}

// sortKey is what a cell sorts by: its Sort, else its text.
func (r row) sortKey(i int) string {
	if i < len(r.Cells) && r.Cells[i].Sort != "" {
		return r.Cells[i].Sort
	}
	return r.text(i)
}

// holds tells whether any cell holds the (lower-case) needle.
func (r row) holds(needle string) bool {
	for i := range r.Cells {
		if strings.Contains(strings.ToLower(r.text(i)), needle) {
			return true
		}
	}
	return false
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// compareNatural orders two cells as a person reads them: numbers by value ("9" before "10",
// "0.25" before "0.5"), runs of digits inside text by value ("node-9" before "node-10"), the
// rest by letter ignoring case, and an empty cell last.
func compareNatural(a, b string) int {
	if a == "" || b == "" {
		return compareBool(a == "", b == "")
	}
	if x, err := strconv.ParseFloat(a, 64); err == nil {
		if y, err := strconv.ParseFloat(b, 64); err == nil {
			return cmp.Compare(x, y)
		}
	}
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if x := cmp.Compare(len(na), len(nb)); x != 0 {
				return x
			}
			if x := strings.Compare(na, nb); x != 0 {
				return x
			}
			a, b = a[da:], b[db:]
			continue
		}
		if x := cmp.Compare(lowerASCII(a[0]), lowerASCII(b[0])); x != 0 {
			return x
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

// digitRun is the length of the ASCII digits that start s.
func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
