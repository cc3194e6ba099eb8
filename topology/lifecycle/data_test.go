package lifecycle

import (
	"encoding/csv"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/testenv"
)

// TestShippedData: the shipped data parses, and its Debian and Ubuntu rows say what this
// machine's distro-info-data says (Debian: eol and eol-lts; Ubuntu: eol-server, else eol, and
// eol-esm), row for row.
func TestShippedData(t *testing.T) {
	d := Shipped()
	if d.Len() < 40 {
		t.Fatalf("%d releases", d.Len())
	}
	for _, c := range []struct {
		file, osID string
		support    []string // the columns of the support end, the first one set
		extended   string
	}{
		{"/usr/share/distro-info/debian.csv", "debian", []string{"eol"}, "eol-lts"},
		{"/usr/share/distro-info/ubuntu.csv", "ubuntu", []string{"eol-server", "eol"}, "eol-esm"},
	} {
		f, err := os.Open(c.file)
		if err != nil {
			testenv.Missing(t, "Debian's distro-info-data (%v)", err)
		}
		cr := csv.NewReader(f)
		cr.FieldsPerRecord = -1 // a release without LTS has fewer
		rows, err := cr.ReadAll()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		col := map[string]int{}
		for i, name := range rows[0] {
			col[name] = i
		}
		get := func(row []string, name string) string {
			if i, ok := col[name]; ok && i < len(row) {
				return row[i]
			}
			return ""
		}
		checked := 0
		for _, row := range rows[1:] {
			version := strings.TrimSuffix(get(row, "version"), " LTS")
			rel, ok := d.Lookup(c.osID, version)
			if !ok {
				continue
			}
			checked++
			support := ""
			for _, name := range c.support {
				if support = get(row, name); support != "" {
					break
				}
			}
			if got := rel.SupportEnd.Format(time.DateOnly); got != support {
				t.Errorf("%s %s: support_end %s, %s says %s", c.osID, version, got, c.file, support)
			}
			if got, want := dateOrEmpty(rel.ExtendedEnd), get(row, c.extended); got != want {
				t.Errorf("%s %s: extended_end %q, %s says %q", c.osID, version, got, c.file, want)
			}
		}
		if checked < 7 {
			t.Errorf("%d %s rows checked against %s", checked, c.osID, c.file)
		}
	}
	// Minor releases find their major's row; Ubuntu's versions are whole.
	for _, c := range []struct {
		id, version, want string
	}{{"rhel", "9.4", "2032-05-31"}, {"debian", "12", "2026-07-11"}, {"ubuntu", "24.04", "2029-05-31"}, {"ubuntu", "24", ""}, {"flatcar", "3975.2.2", ""}} {
		rel, ok := d.Lookup(c.id, c.version)
		if got := dateOrEmpty(rel.SupportEnd); got != c.want || ok != (c.want != "") {
			t.Errorf("Lookup(%s, %s) = %s, %v; want %q", c.id, c.version, got, ok, c.want)
		}
	}
}

func dateOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}

// TestParseDataErrors: each fault is refused with the file, the line and the column, and
// without the line's content.
func TestParseDataErrors(t *testing.T) {
	const header = "os_id,version_id,name,support_end,extended_end,source,recorded\n"
	const good = "debian,12,Debian 12,2026-07-11,2028-06-30,here,2026-12-07\n"
	for _, c := range []struct{ data, want string }{
		{"# only a comment\n", "data.csv: no header"},
		{"os,version\n", "data.csv:1: the header must be os_id,"},
		{header + good + "debian,12,again,2026-07-11,,here,2026-12-07\n", "data.csv:3: debian 12 again (line 2 has it)"},
		{header + "debian,12,x,2026-13-01,,here,2026-12-07\n", "data.csv:2: support_end is not a date"},
		{header + "debian,12,x,2026-07-11,secret-value,here,2026-12-07\n", "data.csv:2: extended_end is not a date"},
		{header + "debian,12,x,2026-07-11,2020-01-01,here,2026-12-07\n", "data.csv:2: extended_end is before support_end"},
		{header + "debian,12,x,2026-07-11,,here,yesterday\n", "data.csv:2: recorded is not a date"},
		{header + ",12,x,2026-07-11,,here,2026-12-07\n", "data.csv:2: os_id is empty"},
		{header + "debian, 12,x,2026-07-11,,here,2026-12-07\n", "data.csv:2: version_id is empty or has blanks"},
		{header + "debian,12,x,2026-07-11,,,2026-12-07\n", "data.csv:2: source is empty"},
		{header + good + "debian,12,secret-value\n", "data.csv:3: want 7 columns"},
		{header + `debian,12,"x"y,2026-07-11,,here,2026-12-07` + "\n", "data.csv:2: byte 13: a quote out of place"},
		{header + strings.Repeat("# padding padding padding\n", 200000), "data.csv: more than 4 MiB"},
	} {
		_, err := ParseData(strings.NewReader(c.data), "data.csv")
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%.60q: error %v, want %q…", c.data, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), "secret-value") {
			t.Errorf("the error quotes the file: %v", err)
		}
	}
}

func FuzzParseData(f *testing.F) {
	f.Add(shipped)
	f.Add("os_id,version_id,name,support_end,extended_end,source,recorded\na,1,,2026-01-01,,s,2026-01-01\n")
	f.Fuzz(func(t *testing.T, data string) {
		d, err := ParseData(strings.NewReader(data), "fuzz.csv")
		if err == nil && d.Len() > strings.Count(data, "\n")+1 {
			t.Errorf("%d releases from %d lines", d.Len(), strings.Count(data, "\n")+1)
		}
	})
}
