package server

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/strata-obs/strata/internal/httpapi"
	"github.com/strata-obs/strata/topology/auth"
	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/ui"
)

// Access control (auth:): every request but the health checks and the UI's static assets
// carries a bearer token; its role's scope narrows every graph the request reads (the path
// language, the graph, entity and diff APIs, the UI's pages, now and at a past time), through
// one view (auth.Authenticator.View), and every series it reads (the Prometheus API, the UI's
// PromQL page and charts) to those that name that view's entities (auth.Authenticator.Queryable).
// What a scope cannot narrow is not served to a scoped role: the sources' names, the refresh
// loop's journal, /metrics, and the series of an external Prometheus that strata only proxies.

// openPaths are served without credentials: orchestrators' probes, and assets that hold no data.
func openPath(p string) bool {
	switch p {
	case "/-/healthy", "/-/ready", "/auth/login", "/auth/logout", "/auth/callback", "/auth/token":
		return true
	}
	return strings.HasPrefix(p, ui.AssetsPath)
}

// seriesPaths are the Prometheus API's, which read series a scope does not narrow.
func seriesPath(p string) bool {
	for _, prefix := range []string{"/api/v1/query", "/api/v1/series", "/api/v1/labels", "/api/v1/label/"} {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// authenticate asks who a request comes from, refuses it without an identity, and logs one
// audit line for every request that reads data.
func (a *App) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if openPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		id, err := a.opts.Auth.Authenticate(r)
		if err != nil {
			a.logger.Info("unauthenticated request refused", "endpoint", r.URL.Path, "remote", r.RemoteAddr, "reason", err)
			unauthorized(w, r)
			return
		}
		if !id.Admin {
			switch {
			case r.URL.Path == "/metrics":
				httpapi.Error(w, httpapi.Forbidden, "/metrics is for an admin role")
				return
			case strings.HasPrefix(r.URL.Path, "/debug/pprof/"), strings.HasPrefix(r.URL.Path, "/api/v1/admin/"), r.URL.Path == "/-/reload",
				r.URL.Path == "/api/v1/targets", r.URL.Path == "/api/v1/metadata", r.URL.Path == "/api/v1/rules", r.URL.Path == "/api/v1/alerts":
				// Profiles, what changes the server (a reload, a snapshot), what strata scrapes
				// (its targets' addresses, every metric's name) and its alerts, over the whole
				// fleet: a scope narrows none of them.
				httpapi.Error(w, httpapi.Forbidden, r.URL.Path+" is for an admin role")
				return
			case seriesPath(r.URL.Path) && a.opts.PrometheusURL != "":
				httpapi.Error(w, httpapi.Forbidden, "role "+id.Role+" has a scope, and strata proxies this Prometheus API to prometheus.url, whose series it cannot narrow: it is for an admin role")
				return
			}
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		rows := new(int)
		*rows = -1
		ctx := context.WithValue(auth.WithIdentity(r.Context(), id), rowsKey{}, rows)
		next.ServeHTTP(rec, r.WithContext(ctx))
		attrs := []slog.Attr{slog.String("user", id.User), slog.String("role", id.Role), slog.String("endpoint", r.URL.Path),
			slog.String("query", auditQuery(r))}
		if *rows >= 0 {
			attrs = append(attrs, slog.Int("rows", *rows))
		}
		attrs = append(attrs, slog.Int("status", rec.status), slog.Float64("duration_seconds", time.Since(start).Seconds()))
		a.audit.LogAttrs(r.Context(), slog.LevelInfo, "audit", attrs...)
	})
}

type rowsKey struct{}

// auditRows notes, for the audit line, how many rows or entities a request's answer holds.
func auditRows(ctx context.Context, n int) {
	if p, ok := ctx.Value(rowsKey{}).(*int); ok {
		*p = n
	}
}

// auditQuery is what a request asked: its path query, PromQL expression or search, or the
// hosts of a plan's check, every check= as the plan endpoint reads them.
func auditQuery(r *http.Request) string {
	params := r.URL.Query()
	for _, k := range []string{"q", "query", "expr", "match[]"} {
		if v := params.Get(k); v != "" {
			return v
		}
	}
	return strings.Join(params["check"], ",")
}

// unauthorized answers a request without valid credentials: the API's error envelope, or a
// browser's page a redirect to the login, which brings it back.
func unauthorized(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="strata"`)
	if strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/metrics" || !strings.Contains(r.Header.Get("Accept"), "text/html") {
		httpapi.Error(w, httpapi.Unauthorized, "authentication required: send Authorization: Bearer <token>")
		return
	}
	http.Redirect(w, r, "/auth/login?"+url.Values{"next": {auth.SafeNext(r.URL.RequestURI())}}.Encode(), http.StatusFound)
}

// loginPageTmpl asks a browser for a token, once: the session cookie stands for it after. With
// an OpenID Connect provider, people are sent there instead; the page shows when the provider
// cannot be reached or a login through it failed.
var loginPageTmpl = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · strata</title><link rel="stylesheet" href="/ui/assets/strata.css"></head>
<body><main>
<h1>strata asks who you are</h1>
{{if .Error}}<section class="error" role="alert"><p><strong>{{.Error}}</strong></p></section>{{end}}
{{if .Provider}}<p><a href="/auth/login?{{.Again}}">Sign in with {{.Provider}}</a></p>
<p class="meta">Or with a token of this strata's tokens file:</p>{{end}}
<form method="post" action="/auth/login">
  <label>Token <input type="password" name="token" autocomplete="current-password"{{if not .Provider}} autofocus{{end}} required></label>
  <input type="hidden" name="next" value="{{.Next}}">
  <button type="submit">Sign in</button>
</form>
<p class="meta">A token of this strata's tokens file (its administrator gives it). Programs send it as <code>Authorization: Bearer &lt;token&gt;</code>.</p>
</main></body></html>
`))

// loginPage writes the login page.
func (a *App) loginPage(w http.ResponseWriter, code int, msg, next string) {
	provider, again := "", ""
	if p := a.opts.Auth.OIDC(); p != nil {
		provider, again = p.Issuer(), url.Values{"next": {next}}.Encode()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = loginPageTmpl.Execute(w, struct{ Error, Next, Provider, Again string }{msg, next, provider, again})
}

// login is the login page (GET) and its form (POST): a token that a role holds becomes a
// session cookie, and the browser goes back where it was. With an OpenID Connect provider, a
// GET sends the browser to the provider (`?with=token` shows the form instead), and `strata
// login` starts its login here too (cli, cli_state, cli_challenge).
func (a *App) login(w http.ResponseWriter, r *http.Request) {
	next := auth.SafeNext(r.FormValue("next"))
	if r.Method != http.MethodPost {
		if p := a.opts.Auth.OIDC(); p != nil && r.FormValue("with") != "token" {
			a.beginOIDC(w, r, p, next)
			return
		}
		a.loginPage(w, http.StatusOK, "", next)
		return
	}
	if !sameOrigin(r) {
		a.loginPage(w, http.StatusForbidden, "This form was sent from another site.", next)
		return
	}
	cookie, err := a.opts.Auth.Login(r.PostFormValue("token"), r.TLS != nil)
	if err != nil {
		a.logger.Info("login refused", "remote", r.RemoteAddr, "reason", err)
		a.loginPage(w, http.StatusUnauthorized, "That is not a token this strata knows, or no role holds it.", next)
		return
	}
	http.SetCookie(w, cookie)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// beginOIDC sends the browser to the provider, unless it cannot be reached.
func (a *App) beginOIDC(w http.ResponseWriter, r *http.Request, p *auth.Provider, next string) {
	var cli *auth.CLILogin
	if redirect := r.FormValue("cli"); redirect != "" {
		if err := auth.CheckCLIRedirect(redirect); err != nil {
			a.logger.Info("login refused", "remote", r.RemoteAddr, "reason", err)
			a.loginPage(w, http.StatusBadRequest, "This login was started with a return address that is not strata login's own.", "/")
			return
		}
		state, challenge := r.FormValue("cli_state"), r.FormValue("cli_challenge")
		if state == "" || len(state) > 256 || len(challenge) != 43 { // S256 of a verifier: 32 bytes, base64url
			a.loginPage(w, http.StatusBadRequest, "This login of strata login lacks its state or PKCE challenge.", "/")
			return
		}
		cli = &auth.CLILogin{Redirect: redirect, State: state, Challenge: challenge}
	}
	to, cookie, err := p.BeginLogin(r.Context(), next, cli, r.TLS != nil)
	if err != nil {
		a.logger.Warn("login cannot start", "remote", r.RemoteAddr, "reason", err)
		a.loginPage(w, http.StatusServiceUnavailable, "The identity provider "+p.Issuer()+" cannot be reached. Sessions already open go on; try again later.", next)
		return
	}
	http.SetCookie(w, cookie)
	http.Redirect(w, r, to, http.StatusFound)
}

// callback is where the provider sends the browser back: a session for a browser, a one-time
// code for strata login's loopback listener.
func (a *App) callback(w http.ResponseWriter, r *http.Request) {
	p := a.opts.Auth.OIDC()
	if p == nil {
		http.NotFound(w, r)
		return
	}
	secure := r.TLS != nil
	f, err := a.opts.Auth.FinishLogin(r.Context(), r, secure)
	if err != nil {
		a.logger.Info("login refused", "remote", r.RemoteAddr, "user", f.User, "reason", err)
		switch {
		case errors.Is(err, auth.ErrProviderUnreachable):
			a.loginPage(w, http.StatusServiceUnavailable, "The identity provider "+p.Issuer()+" cannot be reached. Try again later.", "/")
		case errors.Is(err, auth.ErrNoRole):
			a.loginPage(w, http.StatusForbidden, "You signed in as "+f.User+", but no role of this strata holds any of your groups. Ask its administrator.", "/")
		default:
			a.loginPage(w, http.StatusUnauthorized, "That login could not be finished (expired, used already, or not started in this browser). Sign in again.", "/")
		}
		return
	}
	a.logger.Info("login", "user", f.User, "role", f.Role, "remote", r.RemoteAddr, "cli", f.Cookie == nil)
	http.SetCookie(w, p.ClearLoginCookie(secure)) // (a failed callback leaves it: another may be the real one)
	if f.Cookie != nil {
		http.SetCookie(w, f.Cookie)
	}
	http.Redirect(w, r, f.Next, http.StatusSeeOther)
}

// cliToken gives strata login its token for the one-time code and the PKCE verifier.
func (a *App) cliToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	tok, err := a.opts.Auth.ExchangeCLICode(r.PostFormValue("code"), r.PostFormValue("code_verifier"))
	if err != nil {
		a.logger.Info("login refused", "remote", r.RemoteAddr, "reason", err)
		httpapi.Error(w, httpapi.Unauthorized, "the code is unknown, used, expired, or not this login's")
		return
	}
	a.logger.Info("login token given", "user", tok.User, "role", tok.Role, "remote", r.RemoteAddr)
	httpapi.Success(w, tok, nil)
}

// sameOrigin tells a form posted from strata's own pages from one another site makes a browser
// post (logging someone in as the attacker, or out): a browser says where a POST comes from in
// Origin. A client that sends none (curl, a script) is not a browser another site drives.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

// logout ends the browser's session, and the provider's when it has an end-session endpoint.
func (a *App) logout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "This form was sent from another site.", http.StatusForbidden)
		return
	}
	to := "/auth/login"
	if p := a.opts.Auth.OIDC(); p != nil {
		to = "/auth/login?with=token"
		if c, err := r.Cookie(auth.SessionCookie); err == nil && strings.HasPrefix(c.Value, auth.SessionTokenPrefix) {
			to = p.Logout(c.Value)
		}
	}
	http.SetCookie(w, auth.Expired(r.TLS != nil))
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// statusRecorder keeps a response's status for the audit line.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// view is the graph as the request's identity may see it.
func (a *App) view(ctx context.Context, g *graph.Graph) *graph.Graph {
	if a.opts.Auth == nil {
		return g
	}
	return a.opts.Auth.View(ctx, g)
}

// newScopedUI is the UI a role with a scope is served: its graphs through its view, its series
// alone, without what a scope does not narrow (the sources, the journal, which holds every change
// of the fleet).
func (a *App) newScopedUI(logger *slog.Logger) (*ui.UI, error) {
	return ui.New(ui.Options{Graphs: graphs{r: a.refresher, history: a.history, view: a.view, sites: a.opts.Global}, Limits: a.opts.QueryLimits, Series: a.series, PromQL: a.promql,
		Who: who}, logger)
}

// who is the request's user and role, for the UI's header.
func who(ctx context.Context) (string, string, bool) {
	id, ok := auth.FromContext(ctx)
	return id.User, id.Role, ok
}

// uiFor serves the UI an identity may see.
func (a *App) uiFor() http.Handler {
	if a.scopedUI == nil {
		return a.ui
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := auth.FromContext(r.Context()); ok && !id.Admin {
			a.scopedUI.ServeHTTP(w, r)
			return
		}
		a.ui.ServeHTTP(w, r)
	})
}
