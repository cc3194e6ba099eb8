package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"golang.org/x/oauth2"

	"github.com/strata-obs/strata/internal/redact"
)

// strata login is the loopback redirect flow that kubectl's OpenID Connect plugins use, with
// strata in the middle: the CLI listens on 127.0.0.1, and sends the browser to strata's
// /auth/login with that address, a state and a PKCE challenge; strata sends it on to the
// provider and, once the person has logged in, back to the CLI's listener with a one-time
// code; the CLI exchanges the code and its PKCE verifier at /auth/token for a token of the
// session strata keeps (and refreshes with the provider). The CLI needs no issuer, client id
// or secret of its own, and the provider sees one client, strata.

type loginFlags struct {
	server    string
	tokenFile string
	noBrowser bool
	timeout   time.Duration
}

func addLogin(cmd *kingpin.CmdClause, f *loginFlags) {
	cmd.Flag("server", "The strata server to log in to.").Default("http://127.0.0.1:9730").StringVar(&f.server)
	cmd.Flag("token-file", "Keep the token in this file instead of $XDG_CONFIG_HOME/strata/token.").StringVar(&f.tokenFile)
	cmd.Flag("no-browser", "Print the address to open instead of opening a browser.").BoolVar(&f.noBrowser)
	cmd.Flag("login.timeout", "How long to wait for the login in the browser.").Default("5m").DurationVar(&f.timeout)
}

// loginPage is what the browser shows once the CLI has its code.
const loginPage = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>strata login</title></head>
<body><p>%s</p></body></html>`

func runLogin(f loginFlags, stdout, stderr io.Writer) int {
	base := strings.TrimSuffix(f.server, "/")
	if u, err := url.Parse(base); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		fmt.Fprintf(stderr, "--server %q: want a URL like http://127.0.0.1:9730\n", redact.URL(f.server))
		return 2
	}
	file, err := tokenPath(f.tokenFile)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(stderr, "listen on 127.0.0.1 for the browser's return: %v\n", err)
		return 1
	}
	defer ln.Close()
	state, verifier := randomToken(), oauth2.GenerateVerifier()
	redirect := "http://" + ln.Addr().String() + "/callback"
	start := base + "/auth/login?" + url.Values{"cli": {redirect}, "cli_state": {state}, "cli_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}}.Encode()

	codes := make(chan string, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path != "/callback" || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 || q.Get("code") == "" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, loginPage, "This is not the login strata login started.")
			return
		}
		fmt.Fprintf(w, loginPage, html.EscapeString("Logged in to "+base+": back to the terminal; this window can be closed."))
		select {
		case codes <- q.Get("code"):
		default:
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	fmt.Fprintf(stderr, "Log in to %s in a browser; if none opens, open:\n  %s\n", base, start)
	if !f.noBrowser {
		openBrowser(start)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var code string
	select {
	case code = <-codes:
	case <-time.After(f.timeout):
		fmt.Fprintf(stderr, "no login came back in %s (--login.timeout)\n", f.timeout)
		return 1
	case <-ctx.Done():
		return 130
	}

	tok, err := exchange(base, code, verifier)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := writeToken(file, tok.Token); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "Logged in to %s as %s (role %s) until %s; the token is in %s.\n", base, tok.User, tok.Role, tok.Expires.Local().Format(time.RFC3339), file)
	return 0
}

// cliToken is /auth/token's answer.
type cliToken struct {
	Token   string    `json:"token"`
	User    string    `json:"user"`
	Role    string    `json:"role"`
	Expires time.Time `json:"expires"`
}

// exchange trades the one-time code and the PKCE verifier for the session's token.
func exchange(base, code, verifier string) (cliToken, error) {
	hc := &http.Client{Timeout: 30 * time.Second}
	resp, err := hc.PostForm(base+"/auth/token", url.Values{"code": {code}, "code_verifier": {verifier}})
	if err != nil {
		return cliToken{}, fmt.Errorf("ask %s for the token: %w", base, err)
	}
	defer resp.Body.Close()
	var r apiResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&r); err != nil {
		return cliToken{}, fmt.Errorf("%s answered %s, not strata's JSON API", base, resp.Status)
	}
	if r.Status != "success" {
		return cliToken{}, fmt.Errorf("%s refused the login: %s", base, r.Error)
	}
	var tok cliToken
	if err := json.Unmarshal(r.Data, &tok); err != nil || tok.Token == "" {
		return cliToken{}, fmt.Errorf("%s answered no token", base)
	}
	return tok, nil
}

// tokenPath is where the token is kept: --token-file, else $XDG_CONFIG_HOME/strata/token,
// where strata query and strata promql look for it.
func tokenPath(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no configuration directory to keep the token in (give --token-file): %w", err)
	}
	return filepath.Join(dir, "strata", "token"), nil
}

// writeToken writes the token readable by its owner alone (0600, in a directory made 0700),
// whole or not at all.
func writeToken(file, token string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("keep the token: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".token-*")
	if err != nil {
		return fmt.Errorf("keep the token: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("keep the token: %w", err)
	}
	_, err = tmp.WriteString(token + "\n")
	if err = errors.Join(err, tmp.Close()); err != nil {
		return fmt.Errorf("keep the token: %w", err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("keep the token: %w", err)
	}
	return nil
}

// openBrowser opens u in the person's browser ($BROWSER, else xdg-open), when there is one;
// the address printed before is the way when there is none.
func openBrowser(u string) {
	name := os.Getenv("BROWSER")
	if name == "" {
		name = "xdg-open"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return
	}
	cmd := exec.Command(path, u)
	cmd.Stdout, cmd.Stderr = nil, nil
	if cmd.Start() == nil {
		go func() { _ = cmd.Wait() }()
	}
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	return base64.RawURLEncoding.EncodeToString(b)
}
