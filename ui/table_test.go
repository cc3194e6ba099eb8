package ui

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v5"
)

// tableOf builds a table of n hosts node-1 … node-n (node-3k failing) for a request's URL.
func tableOf(t *testing.T, name, rawQuery string, n int) *table {
	t.Helper()
	var rows []row
	for i := 1; i <= n; i++ {
		rows = append(rows, row{Cells: []cell{{Text: "node-" + strconv.Itoa(i)}, {Text: strconv.FormatFloat(float64(i)/10, 'f', -1, 64)}},
			Failing: i%3 == 0})
	}
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/x?"+rawQuery, nil), httptest.NewRecorder())
	return newTable(c, name, []string{"host", "load"}, rows, 0)
}

func firstColumn(t *table) []string {
	var out []string
	for _, r := range t.Rows {
		out = append(out, r.Cells[0].Text)
	}
	return out
}

func TestTable(t *testing.T) {
	// Without a sort: failing rows first, each group in the page's order.
	if got := firstColumn(tableOf(t, "", "", 7)); !slices.Equal(got, []string{"node-3", "node-6", "node-1", "node-2", "node-4", "node-5", "node-7"}) {
		t.Errorf("default order %v", got)
	}
	// Natural order, descending: node-12 after node-9, numbers by value.
	tb := tableOf(t, "", "sort=-host", 12)
	if got := firstColumn(tb); !slices.Equal(got[:4], []string{"node-12", "node-11", "node-10", "node-9"}) {
		t.Errorf("sort=-host: %v", got)
	}
	if tb.Columns[0].Sorted != "descending" || tb.Columns[0].Href != "?sort=host" {
		t.Errorf("the sorted column says %q and links %q", tb.Columns[0].Sorted, tb.Columns[0].Href)
	}
	if got := firstColumn(tableOf(t, "", "sort=load", 12)); got[0] != "node-1" || got[11] != "node-12" {
		t.Errorf("sort=load (0.1 … 1.2 by value): %v", got)
	}
	// A cell written for a person sorts by its value: "250 µs" before "1.5 ms".
	rows := []row{{Cells: []cell{{Text: "1.5 ms", Sort: "0.0015"}}}, {Cells: []cell{{Text: "250 µs", Sort: "0.00025"}}}, {Cells: []cell{{Text: "2 s", Sort: "2"}}}}
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/x?sort=time", nil), httptest.NewRecorder())
	if got := firstColumn(newTable(c, "", []string{"time"}, rows, 0)); !slices.Equal(got, []string{"250 µs", "1.5 ms", "2 s"}) {
		t.Errorf("sorted by value: %v", got)
	}
	// A filter, case-insensitive, in any column; the total stays the table's.
	tb = tableOf(t, "", "filter=NODE-1", 12)
	if tb.Matched != 4 || tb.Total != 12 { // node-1, node-10, node-11, node-12
		t.Errorf("filter: %d of %d", tb.Matched, tb.Total)
	}
	// Pages: 250 rows, page 3 of 100 each holds 201–250; links keep the other parameters.
	tb = tableOf(t, "hosts", "hosts.page=3&hosts.sort=host&q=x", 250)
	if tb.First != 201 || tb.Last != 250 || tb.Pages != 3 || tb.NextHref != "" || len(tb.Rows) != 50 {
		t.Errorf("page 3: rows %d–%d of %d pages, next %q", tb.First, tb.Last, tb.Pages, tb.NextHref)
	}
	if !strings.Contains(tb.PrevHref, "hosts.page=2") || !strings.Contains(tb.PrevHref, "q=x") || !strings.Contains(tb.PrevHref, "hosts.sort=host") {
		t.Errorf("previous page %q", tb.PrevHref)
	}
	if tb.CSVHref != "?format=csv&hosts.sort=host&q=x&table=hosts" {
		t.Errorf("CSV link %q", tb.CSVHref)
	}
	// A page past the last is the last; per_page is bounded.
	if tb = tableOf(t, "", "page=99&per_page=100000", 2500); tb.Page != 3 || tb.Last != 2500 || tb.First != 2001 {
		t.Errorf("page=99 per_page=100000: page %d rows %d–%d", tb.Page, tb.First, tb.Last)
	}
	// CSV is every row that passes the filter, in the order shown, not one page.
	tb = tableOf(t, "", "filter=node-1&sort=-host&per_page=1", 12)
	rec := httptest.NewRecorder()
	c = echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/x?format=csv", nil), rec)
	if err := tb.writeCSV(c, "t"); err != nil {
		t.Fatal(err)
	}
	if want := "host,load\nnode-12,1.2\nnode-11,1.1\nnode-10,1\nnode-1,0.1\n"; rec.Body.String() != want {
		t.Errorf("CSV %q, want %q", rec.Body.String(), want)
	}
}

func TestCompareNatural(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"node-9", "node-10", -1}, {"node-10", "node-9", 1}, {"0.25", "0.5", -1}, {"10", "9", 1},
		{"Node-1", "node-1", 0}, {"a", "", -1}, {"", "a", 1}, {"node-007", "node-7", 0}, {"1.5/s", "12/s", -1},
	} {
		if got := compareNatural(c.a, c.b); got != c.want {
			t.Errorf("compareNatural(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// TestLazyTable: a table whose cells are made on demand answers as one given every cell, and
// makes the cells of the rows it shows only, unless a filter, a sort or CSV reads them all.
func TestLazyTable(t *testing.T) {
	const n = 250
	for _, c := range []struct {
		query string
		made  int // the rows whose cells are made
	}{
		{"", perPage}, {"page=3", 50}, {"per_page=7&page=2", 7},
		{"filter=node-1", n}, {"sort=-load", n}, {"format=csv", n}, {"format=csv&table=other", perPage},
	} {
		eager := tableOf(t, "", c.query, n)
		rows := make([]row, n)
		for i := range rows {
			rows[i] = row{Failing: (i+1)%3 == 0, src: i}
		}
		made := 0
		cells := func(i int) []cell {
			made++
			return []cell{{Text: "node-" + strconv.Itoa(i+1)}, {Text: strconv.FormatFloat(float64(i+1)/10, 'f', -1, 64)}}
		}
		ctx := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/x?"+c.query, nil), httptest.NewRecorder())
		lazy := lazyTable(ctx, "", []string{"host", "load"}, rows, cells, 0)
		if got, want := firstColumn(lazy), firstColumn(eager); !slices.Equal(got, want) || lazy.Matched != eager.Matched {
			t.Errorf("%s: rows %v (%d matched), want %v (%d)", c.query, got, lazy.Matched, want, eager.Matched)
		}
		if made != c.made {
			t.Errorf("%s: made the cells of %d rows, want %d", c.query, made, c.made)
		}
		if rows[0].Cells != nil {
			t.Errorf("%s: the caller's rows were written to", c.query)
		}
	}
}
