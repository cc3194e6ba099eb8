package haproxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-obs/strata/topology/source"
)

// testdata/ holds answers captured from HAProxy 2.6 running testdata/haproxy.cfg, with one
// server in each state: show-stat.csv and show-servers-state.txt from the runtime API,
// stats-http.csv from the stats page, unknown-command.txt for a command it does not know.

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// capturedLB is what testdata/haproxy.cfg's HAProxy is, read over the runtime API.
func capturedLB() source.LB {
	up, down, maint, drain := source.HealthUp, source.HealthDown, source.HealthMaint, source.HealthDrain
	inst := func(pos int, name, addr string, port int, health string, weight int) source.Instance {
		return source.Instance{Name: name, Address: addr, Port: port, Position: pos, Health: health, Weight: weight}
	}
	return source.LB{
		Name: "edge", Provider: "haproxy", Host: "node-1",
		Addresses: []string{"127.0.0.1:37080", "127.0.0.1:37090"},
		Services: []source.Service{
			{Name: "c1ps", Instances: []source.Instance{
				inst(0, "c1ps-0", "127.0.0.1", 37081, up, 1),
				inst(1, "c1ps-1", "127.0.0.1", 37082, up, 1),
				inst(2, "c1ps-2", "127.0.0.1", 37083, up, 1),
			}},
			{Name: "weighted", Instances: []source.Instance{
				inst(0, "w-a", "127.0.0.1", 37081, up, 10), // no check
				inst(1, "w-b", "127.0.0.1", 37082, up, 30),
				inst(2, "w-c", "127.0.0.1", 37099, down, 5),
				inst(3, "w-d", "127.0.0.1", 37083, maint, 1), // disabled in the configuration
				inst(4, "w-e", "127.0.0.1", 37083, drain, 1), // set server … state drain
				inst(5, "w-v6", "::1", 37081, maint, 1),
				inst(6, "w-f", "127.0.0.1", 37082, maint, 1), // disable server
			}},
			{Name: "nolb", Instances: []source.Instance{
				inst(0, "n1", "127.0.0.1", 37081, drain, 1), // http-check disable-on-404: NOLB
			}},
			{Name: "empty"},
			{Name: "dns", Instances: []source.Instance{
				inst(0, "d1", "nosuch.invalid", 80, maint, 1), // MAINT (resolution)
				inst(1, "t1", "nosuch2.invalid", 80, maint, 1),
				inst(2, "t2", "nosuch2.invalid", 80, maint, 1),
			}},
			{Name: "tracked", Instances: []source.Instance{
				inst(0, "tr1", "127.0.0.1", 37083, maint, 1), // MAINT (via weighted/w-f)
			}},
			{Name: "legacy", Instances: []source.Instance{ // a listen section
				inst(0, "l1", "127.0.0.1", 37081, up, 1),
			}},
		},
	}
}

func TestBuildLBFromRuntimeAPI(t *testing.T) {
	rows, err := ParseStat(strings.NewReader(readTestdata(t, "show-stat.csv")))
	if err != nil {
		t.Fatal(err)
	}
	states, err := ParseServersState(strings.NewReader(readTestdata(t, "show-servers-state.txt")))
	if err != nil {
		t.Fatal(err)
	}
	got := buildLB(Config{Name: "edge", Host: "node-1"}, rows, states)
	if diff := cmp.Diff(capturedLB(), got, ignoreTraffic); diff != "" {
		t.Errorf("lb (-want +got):\n%s", diff)
	}
}

// The stats page gives addresses through its addr column (with stats show-legends), but has no
// host name for a server that has not resolved.
func TestBuildLBFromStatsPage(t *testing.T) {
	rows, err := ParseStat(strings.NewReader(readTestdata(t, "stats-http.csv")))
	if err != nil {
		t.Fatal(err)
	}
	want := capturedLB()
	for i := range want.Services[4].Instances { // dns
		want.Services[4].Instances[i].Address, want.Services[4].Instances[i].Port = "", 0
	}
	got := buildLB(Config{Name: "edge", Host: "node-1"}, rows, nil)
	if diff := cmp.Diff(want, got, ignoreTraffic); diff != "" {
		t.Errorf("lb (-want +got):\n%s", diff)
	}
}

func TestParseStatRows(t *testing.T) {
	rows, err := ParseStat(strings.NewReader(readTestdata(t, "show-stat.csv")))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 28 {
		t.Errorf("%d rows, want 28", len(rows))
	}
	want := map[string]StatRow{
		"fe/FRONTEND":  {Line: 2, Proxy: "fe", Name: "FRONTEND", Type: RowFrontend, Status: "OPEN"},
		"fe/sock-1":    {Line: 3, Proxy: "fe", Name: "sock-1", Type: RowListener, Status: "OPEN", Addr: "127.0.0.1:37080"},
		"weighted/w-a": {Line: 10, Proxy: "weighted", Name: "w-a", Type: RowServer, Status: "no check", Weight: 10, Addr: "127.0.0.1:37081"},
		"weighted/w-v6": {Line: 15, Proxy: "weighted", Name: "w-v6", Type: RowServer, Status: "MAINT", Weight: 1,
			Addr: "[::1]:37081"},
		"weighted/BACKEND": {Line: 17, Proxy: "weighted", Name: "BACKEND", Type: RowBackend, Status: "UP", Weight: 40},
		"dns/d1":           {Line: 21, Proxy: "dns", Name: "d1", Type: RowServer, Status: "MAINT (resolution)", Weight: 1},
		"tracked/tr1":      {Line: 25, Proxy: "tracked", Name: "tr1", Type: RowServer, Status: "MAINT (via weighted/w-f)", Weight: 1, Addr: "127.0.0.1:37083"},
	}
	for _, row := range rows {
		if w, ok := want[row.Proxy+"/"+row.Name]; ok {
			if diff := cmp.Diff(w, row, ignoreTraffic); diff != "" {
				t.Errorf("%s/%s (-want +got):\n%s", row.Proxy, row.Name, diff)
			}
			delete(want, row.Proxy+"/"+row.Name)
		}
	}
	for k := range want {
		t.Errorf("no row %s", k)
	}
}

// A header without a type column (HAProxy before 1.5) and without uweight (before 2.4).
func TestParseStatOldColumns(t *testing.T) {
	in := "# pxname,svname,status,weight,\nbe,s1,UP,3,\nbe,BACKEND,UP,3,\nfe,FRONTEND,OPEN,,\n"
	rows, err := ParseStat(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []StatRow{
		{Line: 2, Proxy: "be", Name: "s1", Type: RowServer, Status: "UP", Weight: 3},
		{Line: 3, Proxy: "be", Name: "BACKEND", Type: RowBackend, Status: "UP", Weight: 3},
		{Line: 4, Proxy: "fe", Name: "FRONTEND", Type: RowFrontend, Status: "OPEN"},
	}
	if diff := cmp.Diff(want, rows, ignoreTraffic); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func TestParseStatErrors(t *testing.T) {
	stat := readTestdata(t, "show-stat.csv")
	lines := strings.SplitAfter(stat, "\n")
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty answer", "", "line 1: empty answer"},
		{"empty line", "\n", `line 1: want the stats CSV header "# pxname,svname,…", got "" (an empty line)`},
		{"html page", readTestdata(t, "stats-page-head.html"), "line 1: want the stats CSV header"},
		{"html error page", "<html><body><h1>502 Bad Gateway</h1></body></html>\n", "(an HTML page: a proxy's error page, or a stats URL without ;csv)"},
		{"unknown command", readTestdata(t, "unknown-command.txt"), `got "Unknown command, but maybe`},
		{"permission denied", "Permission denied\n\n", `line 1: want the stats CSV header "# pxname,svname,…", got "Permission denied"`},
		{"ssh banner", "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", `got "SSH-2.0-OpenSSH_9.2p1 Debian-2"`},
		{"servers state instead", readTestdata(t, "show-servers-state.txt"), `line 1: want the stats CSV header "# pxname,svname,…", got "1"`},
		{"cut inside a row", strings.Join(lines[:4], "") + lines[4][:100], "line 5: 54 fields, the header has 129: a truncated or foreign answer"},
		{"cut at a row's end", strings.Join(lines[:5], "")[:len(strings.Join(lines[:5], ""))-1], "line 5: the answer ends inside a line: truncated"},
		{"cut in the header", lines[0][:200], "line 1: the answer ends inside a line: truncated"},
		{"cut before status", lines[0][:50], "line 1: the header has no status column"},
		{"header only, cut", "# pxname,svname,status", "line 1: the answer ends inside a line: truncated"},
		{"no status column", "# pxname,svname\nbe,s1\n", "line 1: the header has no status column"},
		{"bad type", "# pxname,svname,status,type\nbe,s1,UP,2\nbe,s2,UP,x\n", `line 3: type "x" is not a number`},
		{"bad uweight", "# pxname,svname,status,weight,uweight\nbe,s1,UP,1,one\n", `line 2: uweight "one" is not a number`},
		{"bad weight", "# pxname,svname,status,weight\nbe,s1,UP,one\n", `line 2: weight "one" is not a number`},
		{"bare quote", "# pxname,svname,status\nbe,s\"1,UP\n", `line 2, column 5: bare " in non-quoted-field`},
		{"endless line", strings.Repeat("x", maxHeaderLine+1), "line 1: longer than 65536 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := ParseStat(strings.NewReader(tc.in))
			if err == nil {
				t.Fatalf("no error, %d rows", len(rows))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestParseServersState(t *testing.T) {
	states, err := ParseServersState(strings.NewReader(readTestdata(t, "show-servers-state.txt")))
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 16 {
		t.Errorf("%d servers, want 16", len(states))
	}
	want := map[string]ServerState{
		"c1ps/c1ps-0":   {Line: 3, Backend: "c1ps", Server: "c1ps-0", Address: "127.0.0.1", Port: 37081},
		"weighted/w-v6": {Line: 11, Backend: "weighted", Server: "w-v6", Address: "::1", Port: 37081},
		"dns/d1":        {Line: 14, Backend: "dns", Server: "d1", FQDN: "nosuch.invalid", Port: 80},
	}
	for _, st := range states {
		if w, ok := want[st.Backend+"/"+st.Server]; ok {
			if diff := cmp.Diff(w, st); diff != "" {
				t.Errorf("%s/%s (-want +got):\n%s", st.Backend, st.Server, diff)
			}
			delete(want, st.Backend+"/"+st.Server)
		}
	}
	for k := range want {
		t.Errorf("no server %s", k)
	}
}

func TestParseServersStateErrors(t *testing.T) {
	state := readTestdata(t, "show-servers-state.txt")
	lines := strings.SplitAfter(state, "\n")
	header := lines[1]
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty answer", "", "line 1: empty answer"},
		{"unknown command", readTestdata(t, "unknown-command.txt"), `line 1: want servers state version "1", got "Unknown command, but maybe`},
		{"other version", "2\n" + header, `line 1: want servers state version "1", got "2"`},
		{"show stat instead", readTestdata(t, "show-stat.csv"), `line 1: want servers state version "1", got "# pxname,svname`},
		{"html page", readTestdata(t, "stats-page-head.html"), "(an HTML page"},
		{"no header", "1\n", "line 2: the answer ends before the header line"},
		{"not a header", "1\nCan't find backend.\n", `line 2: want the header "# be_id be_name …", got "Can't find backend."`},
		{"no srv_port column", "1\n# be_id be_name srv_id srv_name srv_addr\n", "line 2: the header has no srv_port column"},
		{"cut inside a row", strings.Join(lines[:4], "") + lines[4][:30], "line 5: 7 fields, the header has 25: a truncated or foreign answer"},
		{"cut at a row's end", strings.TrimSuffix(strings.Join(lines[:5], ""), "\n"), "line 5: the answer ends inside a line: truncated"},
		{"bad port", "1\n# be_name srv_name srv_addr srv_port\nbe s1 127.0.0.1 http\n", `line 3: srv_port "http" is not a port`},
		{"port too large", "1\n# be_name srv_name srv_addr srv_port\nbe s1 127.0.0.1 65536\n", `line 3: srv_port "65536" is not a port`},
		{"endless line", "1\n" + strings.Repeat("x", maxStateLine+1), "line 2: longer than 65536 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			states, err := ParseServersState(strings.NewReader(tc.in))
			if err == nil {
				t.Fatalf("no error, %d servers", len(states))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestHealth(t *testing.T) {
	for status, want := range map[string]string{
		"UP":                       source.HealthUp,
		"UP 1/3":                   source.HealthUp, // up, one check failed of three before DOWN
		"no check":                 source.HealthUp,
		"DOWN":                     source.HealthDown,
		"DOWN 1/2":                 source.HealthDown, // down, one check passed of two before UP
		"DOWN (agent)":             source.HealthDown,
		"NOLB":                     source.HealthDrain,
		"NOLB 1/2":                 source.HealthDrain,
		"DRAIN":                    source.HealthDrain,
		"DRAIN 1/2":                source.HealthDrain,
		"DRAIN (agent)":            source.HealthDrain,
		"MAINT":                    source.HealthMaint,
		"MAINT (via c1ps/c1ps-0)":  source.HealthMaint,
		"MAINT (resolution)":       source.HealthMaint,
		"":                         source.HealthUnknown,
		"OPEN":                     source.HealthUnknown, // a frontend's, never a server's
		"up":                       source.HealthUnknown,
		"SOMETHING NEW IN HAPROXY": source.HealthUnknown,
	} {
		if got := Health(status); got != want {
			t.Errorf("Health(%q) = %s, want %s", status, got, want)
		}
	}
}

func TestSplitAddr(t *testing.T) {
	for _, tc := range []struct {
		in   string
		host string
		port int
	}{
		{"127.0.0.1:8080", "127.0.0.1", 8080},
		{"[::1]:8080", "::1", 8080},
		{"[fe80::1%eth0]:443", "fe80::1%eth0", 443},
		{"backend.example:80", "backend.example", 80},
		{"/run/app.sock", "/run/app.sock", 0},
		{"unix@app.sock", "unix@app.sock", 0},
		{"127.0.0.1:http", "127.0.0.1:http", 0},
		{"127.0.0.1:70000", "127.0.0.1:70000", 0},
		{"", "", 0},
	} {
		host, port := splitAddr(tc.in)
		if host != tc.host || port != tc.port {
			t.Errorf("splitAddr(%q) = %q, %d; want %q, %d", tc.in, host, port, tc.host, tc.port)
		}
	}
}

// ignoreTraffic leaves the counters out of comparisons about the rows' shape:
// TestParseStatTraffic is about them.
var ignoreTraffic = cmp.Options{cmpopts.IgnoreFields(StatRow{}, "Traffic"),
	cmpopts.IgnoreFields(source.Instance{}, "Traffic"), cmpopts.IgnoreFields(source.Service{}, "Traffic")}

// TestParseStatTraffic: a server's and a backend's counters are read (rtime in seconds); in
// TCP mode, where HAProxy keeps no req_tot nor hrsp_5xx, requests are sessions and 5xx is
// absent, not zero; listeners and frontends carry none.
func TestParseStatTraffic(t *testing.T) {
	in := "# pxname,svname,type,status,stot,req_tot,hrsp_5xx,econ,eresp,scur,rtime,mode\n" +
		"web,s1,2,UP,120,340,17,2,1,4,25,http\n" +
		"web,BACKEND,1,UP,130,350,17,2,1,5,24,http\n" +
		"db,s1,2,UP,80,,,0,0,3,,tcp\n" +
		"web,FRONTEND,0,OPEN,400,400,17,,,6,,http\n"
	rows, err := ParseStat(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []source.Traffic{
		{"requests": 340, "http_5xx": 17, "connection_errors": 2, "response_errors": 1, "sessions": 4, "response_time_seconds": 0.025},
		{"requests": 350, "http_5xx": 17, "connection_errors": 2, "response_errors": 1, "sessions": 5, "response_time_seconds": 0.024},
		{"requests": 80, "connection_errors": 0, "response_errors": 0, "sessions": 3},
		nil,
	}
	for i, row := range rows {
		if diff := cmp.Diff(want[i], row.Traffic); diff != "" {
			t.Errorf("%s/%s traffic (-want +got):\n%s", row.Proxy, row.Name, diff)
		}
	}
	if _, err := ParseStat(strings.NewReader("# pxname,svname,type,status,stot\nweb,s1,2,UP,-3\n")); err == nil ||
		!strings.Contains(err.Error(), "line 2: requests") {
		t.Errorf("a negative counter: %v, want an error on line 2", err)
	}
}
