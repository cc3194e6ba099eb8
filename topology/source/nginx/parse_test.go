package nginx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// dir is a directive without its place, for comparing shapes.
type dir struct {
	name  string
	args  []string
	block []dir
}

func shape(dirs []Directive) []dir {
	out := []dir{}
	for _, d := range dirs {
		s := dir{name: d.Name, args: d.Args}
		if d.Block != nil {
			s.block = shape(d.Block)
		}
		out = append(out, s)
	}
	return out
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []dir
	}{
		{"empty", "", []dir{}},
		{"only comments", "# a\n  # b ; { }\n", []dir{}},
		{"simple", "worker_processes 1;", []dir{{name: "worker_processes", args: []string{"1"}}}},
		{"block", "events { worker_connections 64; }\nhttp {}", []dir{
			{name: "events", args: []string{}, block: []dir{{name: "worker_connections", args: []string{"64"}}}},
			{name: "http", args: []string{}, block: []dir{}},
		}},
		{"no spaces", "a{b c;d;}", []dir{{name: "a", args: []string{}, block: []dir{
			{name: "b", args: []string{"c"}}, {name: "d", args: []string{}},
		}}}},
		{"comment after a word start is part of it", "a b#c;", []dir{{name: "a", args: []string{"b#c"}}}},
		{"comment ends at the line", "a b # c; d\n;", []dir{{name: "a", args: []string{"b"}}}},
		{"quotes", `a "b c" 'd;e' "f\"g" 'h\'i' "j\\k" "l\tm";`, []dir{
			{name: "a", args: []string{"b c", "d;e", `f"g`, "h'i", `j\k`, "l\tm"}},
		}},
		{"empty quotes", `a "" '';`, []dir{{name: "a", args: []string{"", ""}}}},
		{"escapes outside quotes", `a b\;c d\ e f\x g\"h\\;`, []dir{{name: "a", args: []string{`b\;c`, `d\ e`, `f\x`, `g"h\`}}}},
		{"variables with braces", `set $a "${b}c"; return 200 ${host}x;`, []dir{
			{name: "set", args: []string{"$a", "${b}c"}},
			{name: "return", args: []string{"200", "${host}x"}},
		}},
		{"brace inside a word", "a b}c;", []dir{{name: "a", args: []string{"b}c"}}}},
		{"if with parentheses", `if ($a = "b") { return 403; }`, []dir{
			{name: "if", args: []string{"($a", "=", "b", ")"}, block: []dir{{name: "return", args: []string{"403"}}}},
		}},
		{"quoted then semicolon and brace", `a "b";c "d"{}`, []dir{
			{name: "a", args: []string{"b"}}, {name: "c", args: []string{"d"}, block: []dir{}},
		}},
		{"crlf and tabs", "a\tb;\r\nc {\r\n}\r\n", []dir{
			{name: "a", args: []string{"b"}}, {name: "c", args: []string{}, block: []dir{}},
		}},
		{"lua-style block content is words", "a { b '{' \"}\"; }", []dir{
			{name: "a", args: []string{}, block: []dir{{name: "b", args: []string{"{", "}"}}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("nginx.conf", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(shape(got), tt.want) {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.src, shape(got), tt.want)
			}
		})
	}
}

func TestParseLines(t *testing.T) {
	src := "# head\nevents {\n}\n\nhttp {\n  upstream app {\n    server\n      10.0.0.1;\n  }\n}\n"
	dirs, err := Parse("/etc/nginx/nginx.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	up := dirs[1].Block[0]
	if dirs[0].Line != 2 || dirs[1].Line != 5 || up.Line != 6 || up.Block[0].Line != 7 || up.File != "/etc/nginx/nginx.conf" {
		t.Errorf("lines: events %d, http %d, upstream %d, server %d (file %s)", dirs[0].Line, dirs[1].Line, up.Line, up.Block[0].Line, up.File)
	}
}

// TestParseErrors checks the messages and lines; the real nginx test checks that nginx -t
// reports the same lines for such files.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		src  string
		want string
	}{
		{"events {}\n}\n", `nginx.conf:2: unexpected "}"`},
		{"a b }", `nginx.conf:1: unexpected "}"`},
		{"http {\n  a;\n", `nginx.conf:3: unexpected end of file, expecting "}"`},
		{"a b", `nginx.conf:1: unexpected end of file, expecting ";" or "}"`},
		{"a \"b;\n\n", `nginx.conf:3: unexpected end of file, expecting ";" or "}"`},
		{"a 'b'c;", `nginx.conf:1: unexpected "c"`},
		{"\n;", `nginx.conf:2: unexpected ";"`},
		{"{}", `nginx.conf:1: unexpected "{"`},
		{"a\\", `nginx.conf:1: unexpected end of file, expecting ";" or "}"`},
		{"a \"\xff\"\xfe", `nginx.conf:1: unexpected "\xfe"`},
		{strings.Repeat("a{", 100), "blocks nested deeper than 64"},
	}
	for _, tt := range tests {
		_, err := Parse("nginx.conf", []byte(tt.src))
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want a ConfigError %s", tt.src, err, tt.want)
		}
	}
}

func TestLoadIncludes(t *testing.T) {
	fsys := dumpFiles{
		"/etc/nginx/nginx.conf": []byte("http {\n include conf.d/*.conf;\n include /etc/nginx/extra;\n}\ninclude empty.d/*;\n"),
		// glob order, not map order: a before b
		"/etc/nginx/conf.d/b.conf": []byte("upstream b {}\n"),
		"/etc/nginx/conf.d/a.conf": []byte("upstream a {}\ninclude snippets/x;\n"),
		"/etc/nginx/snippets/x":    []byte("# nested, relative to nginx.conf's directory\nupstream x {}\n"),
		"/etc/nginx/extra":         []byte("\n\nupstream extra {}\n"),
		"/etc/nginx/conf.d/c.txt":  []byte("not matched"),
	}
	dirs, err := load(fsys, "/etc/nginx/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range dirs[0].Block {
		got = append(got, fmt.Sprintf("%s@%s:%d", d.Args[0], d.File, d.Line))
	}
	want := []string{
		"a@/etc/nginx/conf.d/a.conf:1", "x@/etc/nginx/snippets/x:2", "b@/etc/nginx/conf.d/b.conf:1", "extra@/etc/nginx/extra:3",
	}
	if !reflect.DeepEqual(got, want) || len(dirs) != 1 {
		t.Errorf("got %q (and %d top-level directives), want %q", got, len(dirs), want)
	}

	errs := []struct {
		name string
		fsys dumpFiles
		want string
	}{
		{"missing plain include", dumpFiles{"/n.conf": []byte("\ninclude /nope.conf;")}, "/n.conf:2: include: open /nope.conf"},
		{"include without argument", dumpFiles{"/n.conf": []byte("include;")}, `/n.conf:1: invalid number of arguments in "include" directive`},
		{"syntax error in included file", dumpFiles{"/n.conf": []byte("include /a/*.conf;"), "/a/x.conf": []byte("a {\n}}")}, `/a/x.conf:2: unexpected "}"`},
		{"cycle", dumpFiles{"/n.conf": []byte("include /n.conf;")}, "includes nested deeper than 64"},
		{"bad pattern", dumpFiles{"/n.conf": []byte("include [;")}, "/n.conf:1: include /[: syntax error in pattern"},
	}
	for _, tt := range errs {
		if _, err := load(tt.fsys, "/n.conf"); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want …%s…", tt.name, err, tt.want)
		}
	}
}

func TestLoadFromDisk(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("nginx.conf", "http { include sites/*.conf; include none/*.conf; }")
	write("sites/2.conf", "upstream two {}")
	write("sites/1.conf", "upstream one {}")
	dirs, err := load(diskFiles{}, filepath.Join(dir, "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if got := shape(dirs); len(got) != 1 || len(got[0].block) != 2 || got[0].block[0].args[0] != "one" || got[0].block[1].args[0] != "two" {
		t.Errorf("got %+v, want http with upstreams one and two", got)
	}
	if _, err := load(diskFiles{}, filepath.Join(dir, "missing.conf")); err == nil {
		t.Error("a missing main file gave no error")
	}
}

func TestParseDump(t *testing.T) {
	out := "# configuration file /etc/nginx/nginx.conf:\nhttp {\n  include conf.d/*.conf;\n}\n\n" +
		"# configuration file /etc/nginx/conf.d/a.conf:\n# a comment\nupstream a { server 10.0.0.1; }\n\n"
	main, fsys, err := parseDump([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if main != "/etc/nginx/nginx.conf" || len(fsys) != 2 || string(fsys["/etc/nginx/conf.d/a.conf"]) != "# a comment\nupstream a { server 10.0.0.1; }\n\n" {
		t.Errorf("main %q, files %q", main, fsys)
	}
	dirs, err := load(fsys, main)
	if err != nil {
		t.Fatal(err)
	}
	if a := dirs[0].Block[0]; a.Name != "upstream" || a.File != "/etc/nginx/conf.d/a.conf" || a.Line != 2 {
		t.Errorf("included upstream %+v", a)
	}
	for _, bad := range []string{"", "nginx: [emerg] something\n", "# configuration file :\n"} {
		if _, _, err := parseDump([]byte(bad)); err == nil {
			t.Errorf("parseDump(%q) gave no error", bad)
		}
	}
}

// format writes directives back as nginx config, every word double-quoted.
func format(dirs []Directive) string {
	var b strings.Builder
	quote := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	var write func([]Directive)
	write = func(dirs []Directive) {
		for _, d := range dirs {
			for i, w := range append([]string{d.Name}, d.Args...) {
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(`"` + quote.Replace(w) + `"`)
			}
			if d.Block == nil {
				b.WriteString(";\n")
				continue
			}
			b.WriteString(" {\n")
			write(d.Block)
			b.WriteString("}\n")
		}
	}
	write(dirs)
	return b.String()
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"events {}\nhttp { upstream app { server 127.0.0.1:8080 weight=3; server unix:/run/a.sock down; } }",
		`a "b c" 'd' e\;f ${g}h # c` + "\n;",
		`if ($a = "b") { return 403; }`,
		"stream { upstream db { server [::1]:5432 backup; } server { listen 5432; proxy_pass db; } }",
		"a {", "}", "a 'b", `a "\`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		dirs, err := Parse("f.conf", src)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.File != "f.conf" || ce.Line < 1 || ce.Line > strings.Count(string(src), "\n")+1 {
				t.Fatalf("error %v is not a ConfigError within the file", err)
			}
			return
		}
		// What was parsed, written back with every word quoted, parses to the same.
		again, err := Parse("f.conf", []byte(format(dirs)))
		if err != nil {
			t.Fatalf("re-parse of %q: %v", format(dirs), err)
		}
		if !reflect.DeepEqual(shape(again), shape(dirs)) {
			t.Fatalf("re-parse differs:\n got %+v\nwant %+v", shape(again), shape(dirs))
		}
		// Extraction never panics, and keeps instance positions in order.
		services, _, err := extract(dirs)
		if err != nil {
			return
		}
		for _, s := range services {
			for i, in := range s.Instances {
				if in.Position != i || in.Weight < 1 {
					t.Fatalf("service %s: bad instance %+v at %d", s.Name, in, i)
				}
			}
		}
	})
}
