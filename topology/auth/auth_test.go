package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/strata-obs/strata/internal/store/storetest"
	"github.com/strata-obs/strata/internal/strictyaml"
	"github.com/strata-obs/strata/topology/graph"
)

// twoTeams is a fleet two teams share: LB edge serves payments' service pay and bank's service
// bank, whose containers run on one host h1; LB vault serves bank alone.
func twoTeams() *graph.Graph {
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	g := graph.New(at)
	put := func(kind graph.Kind, id string, labels map[string]string) *graph.Entity {
		return g.Put(&graph.Entity{Ref: graph.Ref{Kind: kind, ID: id}, Name: id, Labels: labels, LastSeen: at})
	}
	link := func(a, b *graph.Entity) { g.Connect(a, b, "test", at) }
	edge, vault := put(graph.LB, "edge", nil), put(graph.LB, "vault", nil)
	pay, bank, bank2 := put(graph.Service, "edge/pay", map[string]string{"team": "payments"}), put(graph.Service, "edge/bank", map[string]string{"team": "bank"}),
		put(graph.Service, "vault/bank", map[string]string{"team": "bank"})
	payI, bankI, bank2I := put(graph.Instance, "edge/pay/s0", nil), put(graph.Instance, "edge/bank/s0", nil), put(graph.Instance, "vault/bank/s0", nil)
	cp, cb := put(graph.Container, "cp", nil), put(graph.Container, "cb", nil)
	img, h1, h2 := put(graph.Image, "nginx:1", nil), put(graph.Host, "h1", nil), put(graph.Host, "h2", nil)
	link(edge, pay)
	link(edge, bank)
	link(vault, bank2)
	link(pay, payI)
	link(bank, bankI)
	link(bank2, bank2I)
	link(payI, cp)
	link(bankI, cb)
	link(bank2I, h2)
	link(cp, img)
	link(cb, img)
	link(cp, h1)
	link(cb, h1)
	return g
}

func ids(g *graph.Graph) []string {
	var out []string
	for _, e := range g.Entities("") {
		out = append(out, e.Ref.String())
	}
	return out
}

// TestScopeVisible: payments sees its service, everything under it down to the shared host,
// and the LB above its instance; not bank's service, instance or container on the same host,
// nor an LB that serves bank alone.
func TestScopeVisible(t *testing.T) {
	g := twoTeams()
	s, err := ParseScope([]string{`team="payments"`})
	if err != nil {
		t.Fatal(err)
	}
	view := s.Visible(g)
	want := []string{"lb/edge", "service/edge/pay", "instance/edge/pay/s0", "container/cp", "image/nginx:1", "host/h1"}
	if got := ids(view); !slices.Equal(got, want) {
		t.Errorf("payments sees %q, want %q", got, want)
	}
	h1, _ := view.Get(graph.Ref{Kind: graph.Host, ID: "h1"})
	if up := view.UpOf(h1); len(up) != 1 || up[0].From().ID != "cp" {
		t.Errorf("the shared host's edges up in payments' view: %v", up)
	}
	edge, _ := view.Get(graph.Ref{Kind: graph.LB, ID: "edge"})
	if down := view.DownOf(edge); len(down) != 1 || down[0].To().ID != "edge/pay" {
		t.Errorf("the shared LB's services in payments' view: %v", down)
	}
	// Two sets: either selects; a set's matchers must all hold.
	s, _ = ParseScope([]string{`team="payments"`, `team="bank", name="vault/bank"`})
	if got := ids(s.Visible(g)); !slices.Contains(got, "lb/vault") || slices.Contains(got, "service/edge/bank") {
		t.Errorf("payments or bank at vault sees %q", got)
	}
	// A scope that selects nothing sees nothing.
	s, _ = ParseScope([]string{`team="nobody"`})
	if got := ids(s.Visible(g)); len(got) != 0 {
		t.Errorf("nobody sees %q", got)
	}
}

func decode(t *testing.T, in string) (*Config, error) {
	t.Helper()
	root, err := strictyaml.Read("strata.yml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	d := strictyaml.NewDecoder("strata.yml", root)
	c := Decode(d, strictyaml.Lookup(root, "auth"), "auth", "/etc/strata")
	return c, d.Err()
}

func TestDecode(t *testing.T) {
	c, err := decode(t, `auth:
  tokens_file: tokens.yml
  oidc: {issuer_url: 'https://idp.example/', client_id: strata, redirect_url: 'https://strata.example/auth/callback'}
  roles:
    - {name: admin, groups: [sre], admin: true}
    - name: payments
      tokens: [payments-ci]
      scope: ['team="payments"', 'namespace=~"shop|cart", env="prod"']
`)
	if err != nil {
		t.Fatal(err)
	}
	if c.TokensFile != "/etc/strata/tokens.yml" || len(c.Roles) != 2 || !c.Roles[0].Admin || c.Roles[1].Scope.String() != `team="payments"; namespace=~"shop|cart", env="prod"` {
		t.Errorf("decoded %+v", c)
	}
	for _, bad := range []struct{ in, want string }{
		{"auth:\n  roles:\n    - {name: a, admin: true, scope: ['x=\"1\"']}\n", `strata.yml:3: auth.roles[0].scope: an admin sees everything`},
		{"auth:\n  roles:\n    - {name: a}\n", `strata.yml:3: auth.roles[0]: role "a" sees nothing`},
		{"auth:\n  roles:\n    - {name: a, scope: ['team=payments']}\n", `strata.yml:3: auth.roles[0].scope[0]: not PromQL matchers`},
		{"auth:\n  roles:\n    - {name: a, scope: ['{team=\"x\"}']}\n", `without braces`},
		{"auth:\n  roles:\n    - {name: a, scope: ['__name__=\"up\"']}\n", `not series by name`},
		{"auth:\n  roles:\n    - {name: a, admin: true}\n    - {name: a, admin: true}\n", `auth.roles[1].name`},
		{"auth:\n  tokens_file: t.yml\n", `no roles`},
		{"auth:\n  tokens_file: t.yml\n  roles:\n    - {name: a, tokens: [x], admin: true}\n    - {name: b, groups: [sre], admin: true}\n", `strata.yml:5: auth.roles[1].groups: role "b" holds groups, and groups come from an OpenID Connect provider`},
		{"auth:\n  oidc: {client_id: strata}\n  roles: [{name: a, admin: true}]\n", `auth.oidc.issuer_url: required`},
		{"auth:\n  oidc: {issuer_url: 'ftp://x', client_id: s, redirect_url: 'https://s/cb'}\n  roles: [{name: a, admin: true}]\n", `auth.oidc.issuer_url: want an http(s) URL`},
		{"auth:\n  roles: [{name: a, admin: true, colour: red}]\n", `colour`},
	} {
		_, err := decode(t, bad.in)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want %q", bad.in, err, bad.want)
		}
		if err != nil && (strings.Contains(err.Error(), "payments") || strings.Contains(err.Error(), `"up"`)) {
			t.Errorf("%q: the error echoes the file's values: %v", bad.in, err)
		}
	}
}

// The SHA-256 of "secret-token".
const secretSHA = "930bbdc51b6aed5c2a5678fd6e28dee7a05e8a4b643cfc0b4427c3efb86c0d94"

func TestTokensAndAuthenticate(t *testing.T) {
	tokens, err := ParseTokens("tokens.yml", []byte("tokens:\n  - {name: payments-ci, sha256: "+secretSHA+"}\n  - {name: spare, sha256: "+strings.Repeat("0", 64)+"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ in, want string }{
		{"tokens:\n  - {name: x, sha256: secret-token}\n", "tokens.yml:2: tokens[0].sha256: want the 64 hex digits"},
		{"tokens:\n  - {sha256: " + secretSHA + "}\n", "tokens[0].name: required"},
		{"tokens:\n  - {name: x, sha256: " + secretSHA + "}\n  - {name: x, sha256: " + secretSHA + "}\n", "tokens[1].name"},
	} {
		_, err := ParseTokens("tokens.yml", []byte(bad.in))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want %q", bad.in, err, bad.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret-token") {
			t.Errorf("the error echoes the file's value: %v", err)
		}
	}
	scope, _ := ParseScope([]string{`team="payments"`})
	cfg := &Config{Roles: []Role{{Name: "payments", Tokens: []string{"payments-ci"}, Scope: scope}}}
	if _, err := NewAuthenticator(&Config{Roles: []Role{{Name: "x", Tokens: []string{"gone"}, Admin: true}}}, tokens, nil); err == nil || !strings.Contains(err.Error(), `token "gone"`) {
		t.Errorf("a role holding a token the file lacks: %v", err)
	}
	a, err := NewAuthenticator(cfg, tokens, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := func(h string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if h != "" {
			r.Header.Set("Authorization", h)
		}
		return r
	}
	if id, err := a.Authenticate(req("Bearer secret-token")); err != nil || id.User != "payments-ci" || id.Role != "payments" || id.Admin {
		t.Errorf("the payments token: %+v %v", id, err)
	}
	if _, err := a.Authenticate(req("")); !NoCredentials(err) {
		t.Errorf("no header: %v, want no credentials", err)
	}
	for _, h := range []string{"Bearer wrong", "Basic c2VjcmV0LXRva2Vu", "Bearer " + strings.Repeat("x", 20000), "Bearer 0000000000000000000000000000000000000000000000000000000000000000"} {
		if _, err := a.Authenticate(req(h)); err == nil || NoCredentials(err) {
			t.Errorf("%.30s: %v, want refused", h, err)
		}
	}
	// The spare token is in the file but in no role: refused.
	if _, err := a.Authenticate(req("Bearer spare")); err == nil {
		t.Error("a token in no role is accepted")
	}

	// The view: the identity's part of the graph, the same one for the same graph and role.
	g := twoTeams()
	id, _ := a.Authenticate(req("Bearer secret-token"))
	ctx := WithIdentity(context.Background(), id)
	a.Prepare(g) // as the server does after a refresh: the latest graph's views are kept
	v1, v2 := a.View(ctx, g), a.View(ctx, g)
	if v1 != v2 || v1.Count(graph.Service) != 1 {
		t.Errorf("views %p %p with %d services", v1, v2, v1.Count(graph.Service))
	}
	if a.View(context.Background(), g) != g || a.View(WithIdentity(context.Background(), Identity{Admin: true}), g) != g {
		t.Error("with auth off or as an admin, the view is not the graph itself")
	}
}

// TestSeriesIndex: a series is shown to a scoped role when every entity its labels name is in
// the view, and it names one.
func TestSeriesIndex(t *testing.T) {
	s, _ := ParseScope([]string{`team="payments"`})
	ix := newSeriesIndex(s.Visible(twoTeams()))
	for _, c := range []struct {
		series string
		want   bool
	}{
		{`{host="h1"}`, true},
		{`{host="h2"}`, false}, // bank's host at vault
		{`{container_id="cp", host="h1"}`, true},
		{`{container_id="cb", host="h1"}`, false}, // bank's container on the shared host
		{`{lb="edge"}`, true},
		{`{lb="vault"}`, false},
		{`{lb="edge", service="pay"}`, true},
		{`{lb="edge", service="bank"}`, false},
		{`{lb="edge", service="pay", server="s0"}`, true},
		{`{lb="edge", service="pay", server="s9"}`, false}, // no such instance in the view
		{`{image="nginx:1"}`, true},
		{`{job="node", instance="10.0.0.1:9100"}`, false}, // names no entity
	} {
		ls, err := parseTestSeries(c.series)
		if err != nil {
			t.Fatal(err)
		}
		if got := ix.allows(ls); got != c.want {
			t.Errorf("%s: %v, want %v", c.series, got, c.want)
		}
	}
}

// parseTestSeries reads {name="value", …} as a series' labels.
func parseTestSeries(s string) (labels.Labels, error) {
	ms, err := matcherParser.ParseMetricSelector(s)
	if err != nil {
		return labels.EmptyLabels(), err
	}
	b := labels.NewScratchBuilder(len(ms))
	for _, m := range ms {
		b.Add(m.Name, m.Value)
	}
	b.Sort()
	return b.Labels(), nil
}

// TestSessions: a session cookie names its token (never holds it), holds until it expires, and
// a changed byte or another key's signature is refused; next never leaves the server.
func TestSessions(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	s := newSessions()
	s.now = func() time.Time { return now }
	c := s.cookie("payments-ci", true)
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || strings.Contains(c.Value, "secret") {
		t.Errorf("cookie %+v", c)
	}
	req := func(v string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: SessionCookie, Value: v})
		return r
	}
	if name, err := s.read(req(c.Value)); err != nil || name != "payments-ci" {
		t.Errorf("read back: %q %v", name, err)
	}
	other := newSessions()
	for what, v := range map[string]string{
		"a changed byte":     c.Value[:3] + "x" + c.Value[4:],
		"another key's":      other.cookie("payments-ci", true).Value,
		"no signature":       strings.Join(strings.Split(c.Value, ".")[:2], "."),
		"too long":           strings.Repeat("a", 5000),
		"not even the shape": "x",
	} {
		if _, err := s.read(req(v)); err == nil {
			t.Errorf("%s: accepted", what)
		}
	}
	now = now.Add(SessionLifetime + time.Second)
	if _, err := s.read(req(c.Value)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("an expired session: %v", err)
	}
	for next, want := range map[string]string{"/lbs?time=1": "/lbs?time=1", "//evil.example": "/", "https://evil.example/": "/", "/\\evil.example": "/",
		"javascript:alert(1)": "/", "": "/", "lbs": "/", "/x\r\nSet-Cookie: a=b": "/"} {
		if got := SafeNext(next); got != want {
			t.Errorf("SafeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

// TestQueryable: through a scoped identity, Select returns the series of the view's entities
// alone, label names and values come from those series, and a listing without matchers (every
// series of the range) stops at the request's deadline instead of running on.
func TestQueryable(t *testing.T) {
	db := storetest.Open(t, t.TempDir())
	app := db.Appender(context.Background())
	ts := time.Now().UnixMilli()
	for _, ls := range []labels.Labels{
		labels.FromStrings("__name__", "strata_topology_service_info", "lb", "edge", "service", "pay"),
		labels.FromStrings("__name__", "strata_topology_service_info", "lb", "edge", "service", "bank"),
		labels.FromStrings("__name__", "node_load1", "host", "h1"),
		labels.FromStrings("__name__", "node_load1", "host", "h2"),
		labels.FromStrings("__name__", "up", "job", "x"),
	} {
		if _, err := app.Append(0, ls, ts, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	g := twoTeams()
	scope, _ := ParseScope([]string{`team="payments"`})
	a, err := NewAuthenticator(&Config{Roles: []Role{{Name: "payments", Scope: scope}}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := WithIdentity(context.Background(), Identity{User: "p", Role: "payments", Scope: scope})
	q, err := a.Queryable(db, func() *graph.Graph { return g }).Querier(ts-1000, ts+1000)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var got []string
	set := q.Select(ctx, true, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+"))
	for set.Next() {
		got = append(got, set.At().Labels().String())
	}
	want := []string{`{__name__="node_load1", host="h1"}`, `{__name__="strata_topology_service_info", lb="edge", service="pay"}`}
	if !slices.Equal(got, want) {
		t.Errorf("payments' series: %q, want %q", got, want)
	}
	if len(set.Warnings()) == 0 {
		t.Errorf("up, which names no entity, was left out without a warning")
	}
	if vs, _, err := q.LabelValues(ctx, "service", nil); err != nil || !slices.Equal(vs, []string{"pay"}) {
		t.Errorf("service values: %q %v", vs, err)
	}
	if ns, _, err := q.LabelNames(ctx, nil); err != nil || slices.Contains(ns, "job") {
		t.Errorf("label names: %q %v (job is only up's)", ns, err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := q.LabelNames(done, nil); err == nil || !strings.Contains(err.Error(), "--query.timeout") {
		t.Errorf("a listing past its deadline: %v", err)
	}
}
