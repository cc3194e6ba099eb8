// Package ui is strata's web UI, served by strata serve and strata up under /: search (the
// path language or plain text), the pages of each kind of entity, the fleet, the changes
// between two times and PromQL. Every page takes ?time= (RFC 3339 or unix seconds): "as of"
// that time, carried in every link, so a URL shows the same thing tomorrow.
//
// Pages are data: pages() lists them (path, title, handler); each renders a template of
// templates/ inside layout.html. Every asset (ECharts from its npm package, the CSS and the
// small script) is embedded and served by strata itself: a page requests nothing elsewhere.
//
// To add a page: a handler in its own file, a template in templates/, one line in pages(), a
// golden test, and a step in the browser test.
package ui

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v5"
	"github.com/prometheus/prometheus/storage"

	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/query/promql"
	"github.com/strata-obs/strata/topology/graph"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// AssetsPath is where the embedded assets are served; go-echarts loads ECharts from here.
const AssetsPath = "/ui/assets/"

// Options are what the UI reads.
type Options struct {
	// Graphs gives the latest graph (zero time) and the graph at a past time.
	Graphs query.Graphs
	Limits query.Limits
	// Series is the storage the charts read (the embedded TSDB); nil draws no charts.
	Series storage.Queryable
	// PromQL evaluates the charts' and the PromQL page's expressions; nil: promql's defaults.
	PromQL *promql.Engine
	Now    func() time.Time
	// Changes reads the refresh loop's journal: the changes it recorded in (from, to], and the
	// time it covers from (it holds nothing before since). Nil: the pages diff the history.
	Changes func(from, to time.Time) (changes []graph.Change, since time.Time)
	// Status is the refresh loop's state, for the landing page; nil: none shown.
	Status func() Status
	// Who is the request's user and role where access control is on (ok false: it is off), for
	// the header and its log out.
	Who func(ctx context.Context) (user, role string, ok bool)
}

// Status is what the landing page says of the refresh loop and its sources.
type Status struct {
	Refreshed    bool // the first refresh finished
	LastRefresh  time.Time
	LastDuration time.Duration
	Sources      []SourceState
}

// SourceState is one source's state.
type SourceState struct {
	Name, Kind string
	Up         bool
	LastSeen   time.Time
	Error      string
}

// UI serves the pages.
type UI struct {
	opts   Options
	logger *slog.Logger
	tmpl   map[string]*template.Template
	echo   *echo.Echo
	memo   memo // for the latest graph (memo.go)
}

// page is one page of the UI.
type page struct {
	path    string // echo route
	title   string
	nav     bool // listed in the navigation bar
	handler func(u *UI, c *echo.Context) error
}

// pages lists every page.
func pages() []page {
	return []page{
		{path: "/", title: "Overview", nav: true, handler: (*UI).home},
		{path: "/search", title: "Search", handler: (*UI).search},
		{path: "/entity/:kind/*", title: "Entity", handler: (*UI).entity},
		{path: "/entity/:kind", title: "Entity", handler: (*UI).entity}, // ?id=, for ids a path cannot carry
		{path: "/lbs", title: "Load balancers", nav: true, handler: (*UI).lbs},
		{path: "/lb/*", title: "Load balancer", handler: (*UI).lb},
		{path: "/lb", title: "Load balancer", handler: (*UI).lb}, // ?id=
		{path: "/fleet", title: "Fleet", nav: true, handler: (*UI).fleet},
		{path: "/patch", title: "Patch status", nav: true, handler: (*UI).patch},
		{path: "/changes", title: "Changes", nav: true, handler: (*UI).changes},
		{path: "/promql", title: "PromQL", nav: true, handler: (*UI).promqlPage},
	}
}

// New builds the UI.
func New(opts Options, logger *slog.Logger) (*UI, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PromQL == nil {
		opts.PromQL = promql.NewEngine(promql.APIOptions{}, logger)
	}
	u := &UI{opts: opts, logger: logger, tmpl: map[string]*template.Template{}, echo: echo.New()}
	layout, err := fs.ReadFile(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if name == "templates/layout.html" {
			continue
		}
		body, err := fs.ReadFile(templateFS, name)
		if err != nil {
			return nil, err
		}
		t, err := template.New("layout").Funcs(funcs).Parse(string(layout))
		if err == nil {
			_, err = t.Parse(string(body))
		}
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		u.tmpl[strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")] = t
	}
	assets, _ := fs.Sub(assetFS, "assets")
	u.echo.StaticFS(AssetsPath, assets)
	for _, p := range pages() {
		u.echo.GET(p.path, func(c *echo.Context) error { return p.handler(u, c) })
	}
	return u, nil
}

// ServeHTTP serves the pages and assets.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	u.echo.ServeHTTP(w, r)
}

// view is what the layout needs from every page.
type view struct {
	Title string
	Nav   []navItem
	// At is the page's "as of" time (zero: now), Time the parameter as given.
	At   time.Time
	Time string
	// Query is the search box's text: the search page's query, and no other page's.
	Query string
	// Keep is the page's other parameters, which the "as of" form keeps.
	Keep []kv
	// Ago are links to this page a while ago; Pinned is this page at the time it shows (now's
	// time when it shows now): a link that shows the same thing tomorrow.
	Ago     []navItem
	Pinned  string
	NowHref string // this page now
	Now     time.Time
	// Refresh is the auto-refresh period in seconds (0: off), Refreshes the choices.
	Refresh   int
	Refreshes []navItem
	// User and Role are who is signed in, where access control is on.
	User, Role string
	Data       any
}

type navItem struct {
	Title, Href string
	Current     bool
}

// refreshChoices are the auto-refresh periods a page offers (?refresh=), as Grafana's picker.
var refreshChoices = []struct {
	Param   string
	Seconds int
}{{"off", 0}, {"10s", 10}, {"30s", 30}, {"1m", 60}, {"5m", 300}}

// agoChoices are the "as of a while ago" links.
var agoChoices = []struct {
	Title string
	Ago   time.Duration
}{{"15m ago", 15 * time.Minute}, {"1h ago", time.Hour}, {"24h ago", 24 * time.Hour}}

// render writes a page.
func (u *UI) render(c *echo.Context, code int, name, title string, data any) error {
	t, ok := u.tmpl[name]
	if !ok {
		return fmt.Errorf("no template %s", name)
	}
	v := view{Title: title, Data: data, Time: c.QueryParam("time"), Now: u.opts.Now().UTC().Truncate(time.Second)}
	if name == "search" {
		v.Query = c.QueryParam("q")
	}
	v.At, _ = asOf(c)
	if u.opts.Who != nil {
		if user, role, ok := u.opts.Who(c.Request().Context()); ok {
			v.User, v.Role = user, role
		}
	}
	q := c.Request().URL.Query()
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if k == "time" || k == "page" || k == "format" || strings.HasSuffix(k, ".page") {
			continue
		}
		for _, val := range q[k] {
			v.Keep = append(v.Keep, kv{Key: k, Value: val})
		}
	}
	here := func(set, value string) string {
		u := url.Values{}
		for k, vs := range q {
			u[k] = vs
		}
		if value == "" {
			u.Del(set)
		} else {
			u.Set(set, value)
		}
		if len(u) == 0 {
			return c.Request().URL.Path
		}
		return c.Request().URL.EscapedPath() + "?" + u.Encode()
	}
	base := v.At
	if base.IsZero() {
		base = v.Now
	}
	for _, a := range agoChoices {
		v.Ago = append(v.Ago, navItem{Title: a.Title, Href: here("time", fmtRFC3339(base.Add(-a.Ago)))})
	}
	v.Pinned, v.NowHref = here("time", fmtRFC3339(base)), here("time", "")
	if v.At.IsZero() { // a page of a past time does not change: nothing to refresh
		r := c.QueryParam("refresh")
		for _, ch := range refreshChoices {
			if ch.Param == r {
				v.Refresh = ch.Seconds
			}
			v.Refreshes = append(v.Refreshes, navItem{Title: ch.Param, Href: here("refresh", map[bool]string{true: "", false: ch.Param}[ch.Seconds == 0]),
				Current: ch.Param == r || (r == "" && ch.Seconds == 0)})
		}
	}
	for _, p := range pages() {
		if p.nav {
			v.Nav = append(v.Nav, navItem{Title: p.title, Href: withTime(p.path, v.Time), Current: p.title == title})
		}
	}
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		u.logger.Error("render", "page", name, "err", err)
		return c.String(http.StatusInternalServerError, "render "+name+": "+err.Error())
	}
	return c.HTMLBlob(code, b.Bytes())
}

// failedStatus is the status of a page whose query or graph failed with err: 503 when the
// request ran out of time (--query.timeout), as the API answers, else 422.
func failedStatus(c *echo.Context, err error) (int, string) {
	if errors.Is(c.Request().Context().Err(), context.DeadlineExceeded) {
		return http.StatusServiceUnavailable, "the query ran out of time (--query.timeout): narrow it, or ask for less"
	}
	return http.StatusUnprocessableEntity, err.Error()
}

// asOf is the page's time parameter; zero for now.
func asOf(c *echo.Context) (time.Time, error) { return formTime(spacedTime(c.QueryParam("time"))) }

// spacedTime reads the "2006-01-02 15:04:05" the page shows (UTC) as RFC 3339, so that a time
// copied from a page pastes back into its box.
func spacedTime(s string) string {
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.Parse(layout, strings.TrimSuffix(strings.TrimSpace(s), " UTC")); err == nil {
			return fmtRFC3339(t)
		}
	}
	return s
}

// graphAt is the graph the page is about.
func (u *UI) graphAt(ctx context.Context, c *echo.Context) (*graph.Graph, []string, error) {
	at, err := asOf(c)
	if err != nil {
		return nil, nil, err
	}
	return u.opts.Graphs.GraphAt(ctx, at)
}

// withTime adds the time parameter to a link, so that every link keeps the page's time.
func withTime(path, at string) string {
	if at == "" {
		return path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "time=" + url.QueryEscape(at)
}

// entityHref is the page of an entity.
func entityHref(kind graph.Kind, id, at string) string {
	if !pathSafe(id) {
		return withTime("/entity/"+string(kind)+"?id="+url.QueryEscape(id), at)
	}
	return withTime("/entity/"+string(kind)+"/"+escapeID(id), at)
}

// pathSafe tells whether an id survives as the end of a URL's path: a browser, a proxy and
// Go's router all clean away "." and ".." segments and collapse "//", escaped or not, so such
// an id goes in the query (?id=) instead.
func pathSafe(id string) bool {
	for part := range strings.SplitSeq(id, "/") {
		if part == "" || part == "." || part == ".." || strings.EqualFold(part, "%2e") || strings.EqualFold(part, "%2e%2e") ||
			strings.EqualFold(part, ".%2e") || strings.EqualFold(part, "%2e.") {
			return false
		}
	}
	return id != ""
}

// escapeID escapes each part of an id that holds slashes (instance ids do).
func escapeID(id string) string {
	parts := strings.Split(id, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

var funcs = template.FuncMap{
	"entityHref": func(kind, id, at string) string { return entityHref(graph.Kind(kind), id, at) },
	"withTime":   withTime,
	"searchHref": func(q, at string) string { return withTime("/search?q="+url.QueryEscape(q), at) },
	"fmtTime":    fmtTime,
	"inputTime": func(t time.Time) string { // for a text box: 24-hour UTC, whatever the browser's locale
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
	"ago":     func(t, now time.Time) string { return humanAgo(now.Sub(t)) },
	"seconds": func(d time.Duration) string { return humanSeconds(strconv.FormatFloat(d.Seconds(), 'f', -1, 64)) },
	"isKind":  func(s string) bool { return graph.Kind(s).Depth() >= 0 },
}
