// Package querytest runs script-driven tests of the path language, as promqltest does for
// PromQL. A script loads graphs and evaluates queries against them:
//
//	# a comment
//	load [@ 2026-11-20T10:00:00Z]       a graph (at that time; without @, at the script's start)
//	  host node-1 kernel_release="6.1.0" os_image="Debian GNU/Linux 12 (bookworm)"
//	  instance edge/c1ps/s0 name="s0" position="0" label:team="web" stale="true"
//	  edge instance/edge/c1ps/s0 -> host/node-1
//
//	eval [@ <time>] <query>              the rows expected, one per line, fields split by
//	  host node-1 6.1.0 "Debian GNU/Linux 12 (bookworm)"   spaces ("" for an empty field)
//
//	eval_columns <query>                 the columns expected, on one line
//	  kind id kernel_release
//
//	eval_error <query>                   the error expected, exactly
//	  1:1: expected kind at the start of the query, got "hots"; did you mean host?
//
//	eval_explain <query>                 the PromQL expected, exactly (or the reason it has none)
//	  count by (host, kernel_release) (strata_topology_path_info{service="c1ps", position="0"})
//
//	limits steps=3 visited=10 results=5  the limits of the queries after it (0: the default)
//
// Queries without @ run on the last graph loaded; a query with @ or offset, and diff, on the
// last graph loaded at or before its time, as the storage would answer.
package querytest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/topology/graph"
)

// Start is the time of a load without @.
var Start = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// graphs is the loaded graphs by time.
type graphs []*graph.Graph

func (gs graphs) GraphAt(_ context.Context, at time.Time) (*graph.Graph, []string, error) {
	if len(gs) == 0 {
		return graph.New(at), nil, nil
	}
	if at.IsZero() {
		return gs[len(gs)-1], nil, nil
	}
	var found *graph.Graph
	for _, g := range gs {
		if !g.At.After(at) {
			found = g
		}
	}
	if found == nil {
		return graph.New(at), nil, nil
	}
	return found, nil, nil
}

// RunFile runs one script; each failed expectation is a test error naming its line.
func RunFile(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	Run(t, path, string(b))
}

// Run runs a script's text; name is used in messages.
func Run(t *testing.T, name, script string) {
	t.Helper()
	lines := strings.Split(script, "\n")
	var gs graphs
	lim := query.DefaultLimits
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		where := fmt.Sprintf("%s:%d", name, i+1)
		verb, rest, _ := strings.Cut(line, " ")
		var body []string
		for i+1 < len(lines) && strings.HasPrefix(lines[i+1], " ") && strings.TrimSpace(lines[i+1]) != "" {
			i++
			body = append(body, strings.TrimSpace(lines[i]))
		}
		switch verb {
		case "load":
			at := Start
			if r, ok := strings.CutPrefix(strings.TrimSpace(rest), "@ "); ok {
				at, err := time.Parse(time.RFC3339, strings.TrimSpace(r))
				if err != nil {
					t.Fatalf("%s: load @: %v", where, err)
				}
				gs = append(gs, load(t, where, at, body))
				continue
			}
			if len(gs) > 0 {
				at = gs[len(gs)-1].At.Add(time.Minute)
			}
			gs = append(gs, load(t, where, at, body))
		case "limits":
			lim = limits(t, where, rest)
		case "eval", "eval_columns", "eval_error", "eval_explain":
			check(t, where, verb, rest, body, gs, lim)
		default:
			t.Fatalf("%s: unknown command %q", where, verb)
		}
	}
}

func load(t *testing.T, where string, at time.Time, body []string) *graph.Graph {
	t.Helper()
	g := graph.New(at)
	for _, l := range body {
		f, err := Fields(l)
		if err != nil || len(f) < 2 {
			t.Fatalf("%s: bad load line %q: %v", where, l, err)
		}
		if f[0] == "edge" {
			if len(f) != 4 || f[2] != "->" {
				t.Fatalf("%s: an edge is: edge kind/id -> kind/id, got %q", where, l)
			}
			from, to := ref(f[1]), ref(f[3])
			if _, ok := g.Get(from); !ok {
				t.Fatalf("%s: edge from unknown %s", where, f[1])
			}
			if _, ok := g.Get(to); !ok {
				t.Fatalf("%s: edge to unknown %s", where, f[3])
			}
			g.Link(from, to, "test", at)
			continue
		}
		e := &graph.Entity{Ref: graph.Ref{Kind: graph.Kind(f[0]), ID: f[1]}, Name: lastPart(f[1]), Attrs: graph.Attrs{},
			Sources: []string{"test"}, LastSeen: at}
		if e.Kind.Depth() < 0 {
			t.Fatalf("%s: unknown kind %q", where, f[0])
		}
		for _, kv := range f[2:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("%s: expected name=\"value\", got %q", where, kv)
			}
			v, err := strconv.Unquote(v)
			if err != nil {
				t.Fatalf("%s: %s: value must be quoted: %v", where, kv, err)
			}
			switch {
			case k == "name":
				e.Name = v
			case k == "stale":
				e.Stale = v == "true"
			case strings.HasPrefix(k, "label:"):
				if e.Labels == nil {
					e.Labels = map[string]string{}
				}
				e.Labels[strings.TrimPrefix(k, "label:")] = v
			default:
				e.Attrs.Set(k, v)
			}
		}
		g.Put(e)
	}
	return g
}

func ref(s string) graph.Ref {
	k, id, _ := strings.Cut(s, "/")
	return graph.Ref{Kind: graph.Kind(k), ID: id}
}

func lastPart(id string) string { return id[strings.LastIndex(id, "/")+1:] }

// limits reads "steps=3 visited=10 results=5" (and length, matchers, columns, stages); a
// limit not named is the default.
func limits(t *testing.T, where, spec string) query.Limits {
	t.Helper()
	lim := query.DefaultLimits
	for _, kv := range strings.Fields(spec) {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("%s: limits: %q: %v", where, kv, err)
		}
		field := map[string]*int{"length": &lim.MaxLength, "steps": &lim.MaxSteps, "matchers": &lim.MaxMatchers,
			"columns": &lim.MaxColumns, "stages": &lim.MaxStages, "visited": &lim.MaxVisited, "results": &lim.MaxResults}[k]
		if field == nil {
			t.Fatalf("%s: limits: unknown %q (length, steps, matchers, columns, stages, visited, results)", where, k)
		}
		*field = n
	}
	return lim
}

func check(t *testing.T, where, verb, q string, body []string, gs graphs, lim query.Limits) {
	t.Helper()
	eng := &query.Engine{Graphs: gs, Limits: lim, Now: func() time.Time {
		if len(gs) == 0 {
			return Start
		}
		return gs[len(gs)-1].At
	}}
	switch verb {
	case "eval_error":
		_, err := eng.Exec(context.Background(), q)
		want := strings.Join(body, "\n")
		if err == nil {
			t.Errorf("%s: %s: no error, want %q", where, q, want)
		} else if err.Error() != want {
			t.Errorf("%s: %s:\n got error %q\nwant error %q", where, q, err.Error(), want)
		}
		return
	case "eval_explain":
		parsed, err := query.Parse(q, lim)
		if err != nil {
			t.Errorf("%s: %s: %v", where, q, err)
			return
		}
		got, err := query.Explain(parsed)
		if err != nil {
			got = "cannot: " + err.Error()
		}
		if want := strings.Join(body, "\n"); got != want {
			t.Errorf("%s: explain %s:\n got %s\nwant %s", where, q, got, want)
		}
		return
	}
	res, err := eng.Exec(context.Background(), q)
	if err != nil {
		t.Errorf("%s: %s: %v", where, q, err)
		return
	}
	if verb == "eval_columns" {
		if got, want := FormatRow(res.Columns), strings.Join(body, " "); got != want {
			t.Errorf("%s: %s: columns\n got %s\nwant %s", where, q, got, want)
		}
		return
	}
	var got []string
	for _, r := range res.Rows {
		got = append(got, FormatRow(r))
	}
	var want []string
	for _, l := range body {
		f, err := Fields(l)
		if err != nil {
			t.Fatalf("%s: bad expected row %q: %v", where, l, err)
		}
		want = append(want, FormatRow(f))
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: %s:\n got rows:\n  %s\nwant rows:\n  %s", where, q, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// FormatRow writes fields split by spaces, quoting those that are empty or hold a space or
// quote.
func FormatRow(fields []string) string {
	out := make([]string, len(fields))
	for i, f := range fields {
		if f == "" || strings.ContainsAny(f, " \t\"") {
			f = strconv.Quote(f)
		}
		out[i] = f
	}
	return strings.Join(out, " ")
}

// Fields splits a line at spaces, keeping quoted strings (and name="quoted value") whole.
func Fields(line string) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(line))
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		i := 0
		for i < len(data) && data[i] == ' ' {
			i++
		}
		if i == len(data) {
			return len(data), nil, nil
		}
		j, quoted := i, false
		for j < len(data) && (quoted || data[j] != ' ') {
			if data[j] == '\\' && quoted {
				j += 2
				continue
			}
			if data[j] == '"' {
				quoted = !quoted
			}
			j++
		}
		if quoted {
			return 0, nil, fmt.Errorf("unterminated quote")
		}
		return min(j, len(data)), data[i:min(j, len(data))], nil
	})
	for sc.Scan() {
		f := sc.Text()
		if strings.HasPrefix(f, `"`) {
			u, err := strconv.Unquote(f)
			if err != nil {
				return nil, err
			}
			f = u
		}
		out = append(out, f)
	}
	return out, sc.Err()
}
