package ui

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/topology/graph"
)

// homeUI is the UI over the fixture with a refresh loop's status and journal.
func homeUI(t *testing.T, st Status, changes []graph.Change, since time.Time) *UI {
	t.Helper()
	u, err := New(Options{Graphs: fixtureGraphs{}, Limits: query.DefaultLimits, Now: func() time.Time { return fixtureNow },
		Status: func() Status { return st }, Changes: journalOf(changes, since)}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// journalOf is Options.Changes over a fixed journal that holds changes since since.
func journalOf(changes []graph.Change, since time.Time) func(from, to time.Time) ([]graph.Change, time.Time) {
	return func(from, to time.Time) ([]graph.Change, time.Time) {
		var out []graph.Change
		for _, c := range changes {
			if c.At.After(from) && !c.At.After(to) {
				out = append(out, c)
			}
		}
		return out, since
	}
}

func TestHomeGolden(t *testing.T) {
	st := Status{Refreshed: true, LastRefresh: fixtureNow.Add(-12 * time.Second), LastDuration: 340 * time.Millisecond,
		Sources: []SourceState{{Name: "haproxy/edge", Kind: "lb", Up: true, LastSeen: fixtureNow.Add(-12 * time.Second)},
			{Name: "metrics", Kind: "facts", Error: "dial tcp 127.0.0.1:9100: connection refused", LastSeen: fixtureNow.Add(-5 * time.Minute)}}}
	moved := []graph.Change{
		{At: fixtureMoved, Change: "changed", Kind: "instance", ID: "edge/c1ps/s0", Attribute: "address", From: "10.0.3.16", To: "10.0.3.17", LBs: []string{"haproxy/edge"}},
		{At: fixtureMoved, Change: "added", Kind: "host", ID: "node-17", LBs: []string{"haproxy/edge"}},
	}
	runPageCases(t, homeUI(t, st, moved, fixtureBefore), []pageCase{
		// s1 is DOWN: its service comes first, red, with its worst instance; the sources say
		// which is down and why; the hour's changes name the LB they touch.
		{name: "home", path: "/", code: http.StatusOK,
			holds: []string{`1 instance failing</span>`, `<tr class="failing"><td><a href="/lb/haproxy/edge">haproxy/edge</a></td><td><a href="/entity/service/edge/c1ps">c1ps</a></td><td>2</td><td class="failing">1</td>`,
				`<a href="/entity/instance/edge/c1ps/s1">s1 DOWN</a>`, `<td class="down">down: dial tcp 127.0.0.1:9100: connection refused</td>`,
				"12s ago", `<b>1</b>lb`, `<b>2</b>instance`, "1 changed", "1 added", `address: 10.0.3.16 → 10.0.3.17`, "Ask the graph"}},
		// A past time: no sources (they say how they are now), the graph of then.
		{name: "home-time", path: "/?time=2026-11-20T10:01:00Z", code: http.StatusOK,
			holds: []string{"As of 2026-11-20 10:01:00 UTC", `<b>2</b>host`}, lacks: []string{"Sources"}},
	})
	// The first refresh not finished: the page says so rather than showing an empty fleet.
	runPageCases(t, homeUI(t, Status{}, nil, time.Time{}), []pageCase{
		{name: "home-first-refresh", path: "/", code: http.StatusOK, holds: []string{"First refresh in progress", "No refresh finished yet."}},
	})
	// The search's old address answers with the search.
	code, _ := getPage(fixtureUI(t), "/?q=node-17&time=2026-11-20T10%3A01%3A00Z")
	if code != http.StatusFound {
		t.Errorf("/?q=: %d, want a redirect to /search", code)
	}
}
