package ui

import (
	"context"
	"encoding/csv"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/strata-obs/strata/query"
)

// TestSearchCSV: a search's table as CSV is the query's answer, header first, with the
// values a spreadsheet would run as formulas quoted.
func TestSearchCSV(t *testing.T) {
	u := fixtureUI(t)
	q := `lb -> instance .address .health`
	code, body := getPage(u, "/search?"+url.Values{"q": {q}, "format": {"csv"}}.Encode())
	if code != 200 {
		t.Fatalf("%d: %s", code, body)
	}
	got, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, body)
	}
	eng := &query.Engine{Graphs: fixtureGraphs{}, Limits: query.DefaultLimits}
	res, err := eng.Exec(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	// The query's table, failing rows first as the page shows it, with the path of each row.
	want := [][]string{append(slices.Clone(res.Columns), "path")}
	for _, failing := range []bool{true, false} {
		for i, r := range res.Rows {
			if (r[3] != "UP") == failing {
				want = append(want, append(slices.Clone(r), strings.Join(res.Path(i), " ")))
			}
		}
	}
	if len(res.Rows) == 0 || !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("CSV %q, want the query's table %q", got, want)
	}
	for in, want := range map[string]string{"=HYPERLINK(1)": "'=HYPERLINK(1)", "+1+1": "'+1+1", "@SUM(A1)": "'@SUM(A1)",
		"-2+3": "'-2+3", "-1.5": "-1.5", "10.0.0.1": "10.0.0.1", "": ""} {
		if got := spreadsheetSafe(in); got != want {
			t.Errorf("spreadsheetSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLBPagesCSV: the LB page's instance table, the list of LBs, the fleet's tables and the
// landing page's services download as CSV, one row per line of the table, as the pages show them.
func TestLBPagesCSV(t *testing.T) {
	u := newTestUI(t, lbFixtureGraphs{})
	for _, c := range []struct {
		path, header, row string
	}{
		{"/lb/haproxy/edge?format=csv", "service,position,server,address,health,errors,", "web,0,web-0,10.0.3.4:8080,UP,"},
		{"/lbs?format=csv", "lb,provider,addresses,services,instances,health,hosts,failing", "haproxy/edge,haproxy,203.0.113.10:443,3,6,"},
		{"/fleet?format=csv&table=kernel_release", "kernel_release,hosts", "6.1.0-13-amd64,3"},
		{"/fleet?format=csv&table=drift", "service,lb,mixed,values (instances)", "c1ps,haproxy/edge,kernel,6.1.0-13-amd64 (2) 5.10.0-28-amd64 (1)"},
		{"/?format=csv&table=services", "load balancer,service,instances,failing,error ratio,requests,worst instance", "haproxy/edge,c1ps,3,1,"},
	} {
		code, body := getPage(u, c.path)
		if code != 200 || !strings.HasPrefix(body, c.header) || !strings.Contains(body, "\n"+c.row) {
			t.Errorf("%s: %d\n%s", c.path, code, body)
		}
	}
}
