package haproxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/topology/source"
)

func TestNewChecksConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // empty: valid
	}{
		{"unix socket", Config{Name: "edge", RuntimeAPI: "unix:///run/haproxy/admin.sock"}, ""},
		{"tcp", Config{Name: "edge", RuntimeAPI: "tcp://127.0.0.1:9999"}, ""},
		{"tcp ipv6", Config{Name: "edge", RuntimeAPI: "tcp://[::1]:9999"}, ""},
		{"stats url", Config{Name: "edge", StatsURL: "http://127.0.0.1:8404/stats;csv"}, ""},
		{"stats url with auth", Config{Name: "edge", StatsURL: "https://admin:secret@lb.example/haproxy?stats;csv;norefresh"}, ""},
		{"no name", Config{RuntimeAPI: "unix:///run/haproxy/admin.sock"}, "haproxy source: name is empty"},
		{"neither", Config{Name: "edge"}, "haproxy source edge: set runtime_api (unix:///path or tcp://host:port) or stats_url"},
		{"both", Config{Name: "edge", RuntimeAPI: "unix:///a.sock", StatsURL: "http://h/stats;csv"}, "runtime_api and stats_url are both set: use one"},
		{"negative timeout", Config{Name: "edge", RuntimeAPI: "unix:///a.sock", Timeout: -time.Second}, "timeout -1s is negative"},
		{"bare path", Config{Name: "edge", RuntimeAPI: "/run/haproxy/admin.sock"}, `runtime_api "/run/haproxy/admin.sock": want a unix:// or tcp:// address`},
		{"unix relative", Config{Name: "edge", RuntimeAPI: "unix://run/haproxy/admin.sock"}, "want unix:// and an absolute path"},
		{"unix no path", Config{Name: "edge", RuntimeAPI: "unix://"}, "want unix:// and an absolute path"},
		{"tcp no port", Config{Name: "edge", RuntimeAPI: "tcp://127.0.0.1"}, "want tcp://host:port"},
		{"tcp with path", Config{Name: "edge", RuntimeAPI: "tcp://127.0.0.1:9999/x"}, "want tcp://host:port"},
		{"haproxy's own syntax", Config{Name: "edge", RuntimeAPI: "ipv4@127.0.0.1:9999"}, `runtime_api "ipv4@127.0.0.1:9999": want unix:///path or tcp://host:port: first path segment`},
		{"bad url", Config{Name: "edge", RuntimeAPI: "unix://%zz"}, `runtime_api "unix://%zz": want unix:///path or tcp://host:port: invalid URL escape "%zz"`},
		{"stats url without csv", Config{Name: "edge", StatsURL: "http://127.0.0.1:8404/stats"}, "does not ask for CSV: end it in ;csv"},
		{"stats url other scheme", Config{Name: "edge", StatsURL: "ftp://127.0.0.1/stats;csv"}, "want an http:// or https:// URL"},
		{"stats url no host", Config{Name: "edge", StatsURL: "http:///stats;csv"}, "want an http:// or https:// URL"},
		{"stats url password kept out", Config{Name: "edge", StatsURL: "http://admin:secret@127.0.0.1/stats"}, `"http://admin:xxxxx@127.0.0.1/stats" does not ask for CSV`},
		{"stats url bad, password kept out", Config{Name: "edge", StatsURL: "http://admin:secret@127.0.0.1:port/stats;csv"}, "stats_url: invalid port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.want == "":
				if s.Name() != tc.cfg.Name {
					t.Errorf("Name() = %q, want %q", s.Name(), tc.cfg.Name)
				}
			case err == nil:
				t.Fatalf("New accepted it, want an error saying %q", tc.want)
			case !strings.Contains(err.Error(), tc.want):
				t.Errorf("error %q, want it to say %q", err, tc.want)
			case strings.Contains(err.Error(), "secret"):
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

// silentListener accepts connections and never answers, as a hung HAProxy or a wrong socket.
func silentListener(t *testing.T, network, address string) net.Listener {
	t.Helper()
	l, err := net.Listen(network, address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	return l
}

// A socket that accepts and never answers ends in an error when ctx's deadline passes, and
// when Config.Timeout passes; the error says it was the deadline.
func TestRuntimeAPIDeadline(t *testing.T) {
	unix := silentListener(t, "unix", filepath.Join(t.TempDir(), "admin.sock"))
	tcp := silentListener(t, "tcp", "127.0.0.1:0")
	for _, tc := range []struct {
		name    string
		api     string
		timeout time.Duration // Config.Timeout
		ctx     time.Duration // the caller's deadline; 0: none
	}{
		{"unix, ctx deadline", "unix://" + unix.Addr().String(), 0, 300 * time.Millisecond},
		{"unix, config timeout", "unix://" + unix.Addr().String(), 300 * time.Millisecond, 0},
		{"tcp, ctx deadline", "tcp://" + tcp.Addr().String(), 0, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Config{Name: "edge", RuntimeAPI: tc.api, Timeout: tc.timeout})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tc.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctx)
				defer cancel()
			}
			start := time.Now()
			_, err = s.ListLoadBalancers(ctx)
			took := time.Since(start)
			if err == nil {
				t.Fatal("no error from a socket that never answers")
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %q does not say the deadline passed", err)
			}
			if !strings.Contains(err.Error(), "read show stat") {
				t.Errorf("error %q does not say what it was waiting for", err)
			}
			if took > 2*time.Second {
				t.Errorf("took %v past a 300ms deadline", took)
			}
		})
	}
}

// A caller that gives up (cancels) frees ListLoadBalancers at once.
func TestRuntimeAPICancel(t *testing.T) {
	l := silentListener(t, "unix", filepath.Join(t.TempDir(), "admin.sock"))
	s, err := New(Config{Name: "edge", RuntimeAPI: "unix://" + l.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	_, err = s.ListLoadBalancers(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want one that says the caller cancelled", err)
	}
}

// answeringSocket answers every connection with answer and closes it, as HAProxy does.
func answeringSocket(t *testing.T, answer string) string {
	t.Helper()
	return runtimeSocket(t, func(c net.Conn) { _, _ = c.Write([]byte(answer)) })
}

// runtimeSocket is a unix socket that reads a command from each connection and lets answer
// write what it will.
func runtimeSocket(t *testing.T, answer func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "admin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = c.Read(make([]byte, 64))
				answer(c)
			}()
		}
	}()
	return "unix://" + l.Addr().String()
}

// Sockets that are not HAProxy's runtime API, or where it refuses, are errors that say what
// was read; never a panic or an empty lb.
func TestRuntimeAPIForeignAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, answer, want string
	}{
		{"closes at once", "", "read show stat: line 1: empty answer"},
		{"unknown command", readTestdata(t, "unknown-command.txt"), `read show stat: line 1: want the stats CSV header "# pxname,svname,…", got "Unknown command`},
		{"ssh server", "SSH-2.0-OpenSSH_9.2p1\r\n", `got "SSH-2.0-OpenSSH_9.2p1"`},
		{"http server", "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", `got "HTTP/1.1 400 Bad Request"`},
		{"truncated", readTestdata(t, "show-stat.csv")[:3000], "read show stat: line "},
		{"stat right, servers state wrong", readTestdata(t, "show-stat.csv"), `read show servers state: line 1: want servers state version "1", got "# pxname`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := answeringSocket(t, tc.answer)
			s, err := New(Config{Name: "edge", RuntimeAPI: api})
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.ListLoadBalancers(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to say %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), api+": ") {
				t.Errorf("error %q does not name the socket", err)
			}
		})
	}
}

func TestRuntimeAPINotListening(t *testing.T) {
	s, err := New(Config{Name: "edge", RuntimeAPI: "unix://" + filepath.Join(t.TempDir(), "gone.sock")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.ListLoadBalancers(context.Background())
	if err == nil || !strings.Contains(err.Error(), "connect: ") {
		t.Errorf("error %v, want a connect error", err)
	}
}

func TestStatsURLErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"proxy error page", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>\n"))
		}, "502 Bad Gateway"},
		{"html with 200", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(readTestdata(t, "stats-page-head.html")))
		}, "line 1: want the stats CSV header"},
		{"auth required", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
		}, "401 Unauthorized"},
		{"truncated", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(readTestdata(t, "stats-http.csv")[:2500]))
		}, "the header has 129: a truncated or foreign answer"},
		{"empty", func(w http.ResponseWriter, r *http.Request) {}, "line 1: empty answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			u := strings.Replace(srv.URL, "http://", "http://admin:secret@", 1) + "/stats;csv"
			s, err := New(Config{Name: "edge", StatsURL: u})
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.ListLoadBalancers(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestStatsURLDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	s, err := New(Config{Name: "edge", StatsURL: srv.URL + "/stats;csv", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.ListLoadBalancers(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want one that says the deadline passed", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v past a 300ms timeout", took)
	}
}

// TestRuntimeAPIEndlessAnswer: a runtime API that streams rows forever is cut at
// source.MaxAnswerBytes with an error that says so, long before the deadline, and its rows
// never all reach memory (the probe's peer cost 1.2 GB a refresh).
func TestRuntimeAPIEndlessAnswer(t *testing.T) {
	header, err := os.ReadFile(filepath.Join("testdata", "show-stat.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(header), "\n")
	row := strings.Replace(lines[len(lines)-2], "sock-1", "srv", 1)
	rows := []byte(strings.Repeat(row, 1000))
	sock := runtimeSocket(t, func(c net.Conn) {
		if _, err := c.Write([]byte(lines[0])); err != nil {
			return
		}
		for {
			if _, err := c.Write(rows); err != nil {
				return
			}
		}
	})
	s, err := New(Config{Name: "edge", RuntimeAPI: sock, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.ListLoadBalancers(context.Background())
	if err == nil || !errors.Is(err, source.ErrAnswerTooLarge) || !strings.Contains(err.Error(), "answer larger than 33554432 bytes") {
		t.Fatalf("ListLoadBalancers on an endless answer = %v", err)
	}
	t.Logf("cut after %s: %v", time.Since(start).Round(time.Millisecond), err)
}
