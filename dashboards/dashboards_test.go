package dashboards

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

func TestJSONUpToDate(t *testing.T) {
	files, err := Render()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("json", name))
		if err != nil {
			t.Errorf("%v: run make dashboards", err)
			continue
		}
		if string(got) != string(want) {
			t.Errorf("json/%s differs from what the code generates: run make dashboards", name)
		}
	}
	checkedIn, err := filepath.Glob(filepath.Join("json", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range checkedIn {
		if _, ok := files[filepath.Base(path)]; !ok {
			t.Errorf("%s is no dashboard the code generates: remove it and run make dashboards", path)
		}
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	first, err := Render()
	if err != nil {
		t.Fatal(err)
	}
	second, err := Render()
	if err != nil {
		t.Fatal(err)
	}
	for name := range first {
		if string(first[name]) != string(second[name]) {
			t.Errorf("%s: two renders differ", name)
		}
	}
}

// queriesOf reads the expressions out of a dashboard's JSON (Queries), failing the test on
// a variable that is no label_values(selector, label) query.
func queriesOf(t *testing.T, name string, data []byte) []Query {
	t.Helper()
	qs, err := Queries(name, data)
	if err != nil {
		t.Fatal(err)
	}
	return qs
}

func TestQueriesUseKnownMetrics(t *testing.T) {
	files, err := Render()
	if err != nil {
		t.Fatal(err)
	}
	known := knownMetrics(t)
	families := documentedLabels(t)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		qs := queriesOf(t, name, files[name])
		if len(qs) == 0 {
			t.Errorf("%s: no queries found", name)
		}
		for _, q := range qs {
			if q.Expr == "" {
				t.Errorf("%s: empty expression", q.Where)
				continue
			}
			checkMetrics(t, q.Where, q.Expr, known, families)
		}
	}
}

func TestDashboardsUseDatasourceVariable(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range all {
		if d.Uid == nil || *d.Uid == "" {
			t.Errorf("%s: no uid", name)
		}
		vars := d.Templating.List
		if len(vars) == 0 || vars[0].Name != "datasource" || vars[0].Type != "datasource" {
			t.Errorf("%s: first variable is not the datasource variable", name)
		}
		for _, p := range d.Panels {
			if p.Panel == nil {
				continue
			}
			if p.Panel.Datasource == nil || p.Panel.Datasource.Uid == nil || *p.Panel.Datasource.Uid != "${datasource}" {
				t.Errorf("%s: panel %v does not use ${datasource}", name, p.Panel.Title)
			}
		}
	}
}

func TestUnescapeHTML(t *testing.T) {
	for _, in := range []string{
		`{"expr":"a \u003e 1 \u0026 b \u003c 2"}`,
		`{"expr":"\\u003e stays a backslash and u003e"}`,
		`{"expr":"\\\u003e is a backslash and \u003e","x":"\"\u003e"}`,
	} {
		var want, got any
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatal(err)
		}
		out := unescapeHTML([]byte(in))
		if err := json.Unmarshal(out, &got); err != nil {
			t.Errorf("unescapeHTML(%s) = %s: %v", in, out, err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("unescapeHTML(%s) = %s, means %v, want %v", in, out, got, want)
		}
	}
}
