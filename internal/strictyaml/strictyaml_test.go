package strictyaml

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// TestReadSyntaxErrors: the lines are the editor's, whatever the YAML library prints.
func TestReadSyntaxErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a: [1, 2\n", "f.yml:2: did not find expected ',' or ']'"},
		{"a:\n  b: [1,\n\n  c: 2\n", "f.yml:2: did not find expected ',' or ']'"},
		{"a:\n  b: 1\n c: 2\n", "f.yml:3: did not find expected key"},
		{"a: 1\n- b\n", "f.yml:2: did not find expected key"},
		{"- a\nb: 1\n", "f.yml:2: did not find expected '-' indicator"},
		{"a: !foo!x 1\n", "f.yml:1: found undefined tag handle"},
		{"key: value: other\n", "f.yml:1: mapping values are not allowed in this context"},
		{"a: b\n  c: d\n", "f.yml:2: mapping values are not allowed in this context"},
		{"a: 1\nb\nc: 2\n", "f.yml:2: could not find expected ':'"},
		{"a:\n  b: x\n\n\tc: 1\n", "f.yml:4: found a tab character that violates indentation"},
		{"a: 1\nb: *nope\n", "f.yml:2: unknown anchor 'nope' referenced"},
		{"a: 1\nb: [*nope]\n", "f.yml:2: unknown anchor 'nope' referenced"},
		{"a: 1\nb: \"\x01\"\n", "f.yml:2: control characters are not allowed"},
		{"a: 1\n\nb: \xc3\x28\n", "f.yml:3: invalid trailing UTF-8 octet"},
		{"a: 1\n---\nb: 2\n", "f.yml:2: more than one YAML document (remove the ---)"},
	} {
		_, err := Read("f.yml", []byte(tc.in))
		if err == nil || err.Error() != tc.want {
			t.Errorf("Read(%q) = %v, want %s", tc.in, err, tc.want)
		}
	}
	for _, in := range []string{"", "\n", "# only a comment\n", "---\n", "~\n", "null\n", "---\n...\n"} {
		if n, err := Read("f.yml", []byte(in)); n != nil || err != nil {
			t.Errorf("Read(%q) = %v, %v; want an empty document", in, n, err)
		}
	}
}

func read(t *testing.T, in string) (*Decoder, *yaml.Node) {
	t.Helper()
	n, err := Read("f.yml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	return NewDecoder("f.yml", n), n
}

// TestMerge: a mapping's own keys win over merged ones, and an earlier merged mapping over a
// later one, as YAML's merge key specifies.
func TestMerge(t *testing.T) {
	d, n := read(t, `base: &base {a: base, b: base}
other: &other {b: other, c: other}
m:
  <<: [*base, *other]
  a: own
`)
	got := d.StringMap(Lookup(n, "m"), "m", nil)
	want := map[string]string{"a": "own", "b": "base", "c": "other"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merged (-want +got):\n%s", diff)
	}
	if err := d.Err(); err != nil {
		t.Error(err)
	}
	if v := Lookup(n, "m"); Lookup(v, "c") == nil || Lookup(v, "c").Value != "other" || Lookup(v, "nope") != nil {
		t.Errorf("Lookup through merges")
	}
}

func TestMapping(t *testing.T) {
	d, n := read(t, `name: x
count: [1]
extra: 1
name: y
`)
	var name string
	d.Mapping(n, "top", []Field{
		{Name: "name", Read: func(n *yaml.Node, path string) { name, _ = d.String(n, path) }},
		{Name: "count", Read: func(n *yaml.Node, path string) { d.String(n, path) }},
		{Name: "missing", Required: true, Read: func(*yaml.Node, string) {}},
	})
	want := `f.yml:1: top.missing: required
f.yml:2: top.count: want a string, got a list
f.yml:3: top: unknown field "extra" (want one of name, count, missing)
f.yml:4: top.name: repeated key (first at line 1)`
	if err := d.Err(); err == nil || err.Error() != want {
		t.Errorf("Err() =\n%v\nwant\n%s", err, want)
	}
	if name != "x" {
		t.Errorf("name = %q, want the first", name)
	}
}

func TestErrCapsTheList(t *testing.T) {
	var b strings.Builder
	for i := range 25 {
		fmt.Fprintf(&b, "k%d: 1\n", i)
	}
	d, n := read(t, b.String())
	d.Mapping(n, "", nil)
	lines := strings.Split(d.Err().Error(), "\n")
	if len(lines) != maxErrors+1 || lines[maxErrors] != "f.yml: and 5 more problems" {
		t.Errorf("Err() has %d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

func TestCopy(t *testing.T) {
	d, n := read(t, `a: &x {k: [1, 2]}
b: [*x, *x]
`)
	c := d.Copy(Lookup(n, "b"), "b")
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	want := "[{k: [1, 2]}, {k: [1, 2]}]\n"
	if string(out) != want {
		t.Errorf("Copy marshals as\n%s\nwant\n%s", out, want)
	}
	if err := d.Err(); err != nil {
		t.Error(err)
	}
}

func TestErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{File: "f.yml", Line: 3, Path: "a.b[0]", Msg: "bad"}, "f.yml:3: a.b[0]: bad"},
		{Error{File: "f.yml", Line: 3, Msg: "bad"}, "f.yml:3: bad"},
		{Error{File: "f.yml", Msg: "bad"}, "f.yml: bad"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%+v.Error() = %q, want %q", tc.e, got, tc.want)
		}
	}
}

// TestErrorsShowNoValues: whatever the file holds, a message names keys and shapes, never a
// value (see redact.Key).
func TestErrorsShowNoValues(t *testing.T) {
	d := NewDecoder("f.yml", nil)
	for _, doc := range []string{"root:$y$j9T$F5Jx/secret:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n",
		"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", "- hunter2\n", "12345\n", "{x: hunter2}"} {
		n, err := Read("f.yml", []byte(doc))
		if err != nil {
			t.Fatalf("Read(%q): %v", doc, err)
		}
		d.String(n, "field")
		d.Mapping(n, "", []Field{{Name: "hosts"}})
	}
	err := d.Err()
	if err == nil {
		t.Fatal("no error")
	}
	for _, secret := range []string{"$y$", "secret", "daemon", "wJalr", "hunter2", "12345"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the errors show %q: %v", secret, err)
		}
	}
}
