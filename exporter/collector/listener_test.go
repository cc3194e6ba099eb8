package collector

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-obs/strata/internal/cgroup"
)

const (
	tcpHeader  = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	tcp6Header = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
)

func TestParseProcNetTCP(t *testing.T) {
	tests := []struct {
		name, in string
		want     []Listener
		wantErr  string
	}{
		{
			name: "IPv4 listeners, connections ignored",
			in: tcpHeader +
				"   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 21001 1 ffff9a3c4e2b0000 100 0 0 10 0\n" +
				"   1: 1103000A:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000    26        0 23001 1 ffff9a3c4e2b0080 100 0 0 10 0\n" +
				"   2: 1103000A:0016 0409000A:C93A 01 00000000:00000000 02:000A7D8C 00000000     0        0 24117 1 ffff9a3c4e2b0200 20 4 29 10 -1\n" +
				"   3: 0100007F:1F90 0100007F:D2F0 06 00000000:00000000 03:00001769 00000000     0        0 0 3 ffff9a3c4e2b0300\n" +
				"   4: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 23950 1 ffff9a3c4e2b0380 100 0 0 10 0\n",
			want: []Listener{
				{Address: "0.0.0.0", Port: 22, Inode: 21001},
				{Address: "10.0.3.17", Port: 5432, Inode: 23001},
				{Address: "127.0.0.1", Port: 8081, Inode: 23950},
			},
		},
		{
			name: "IPv6, loopback and IPv4-mapped",
			in: tcp6Header +
				"   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 21002 1 ffff9a3c4e2b0000 100 0 0 10 0\n" +
				"   1: 00000000000000000000000001000000:18EB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 19002 1 ffff9a3c4e2b0080 100 0 0 10 0\n" +
				"   2: 0000000000000000FFFF00000703F40A:20FB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 45001 1 ffff9a3c4e2b0100 100 0 0 10 0\n" +
				"   3: B80D0120000003000000000017000000:1538 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000    26        0 23003 1 ffff9a3c4e2b0180 100 0 0 10 0\n" +
				"   4: B80D0120000003000000000017000000:1538 B80D0120000009000000000004000000:9C56 01 00000000:00000000 00:00000000 00000000     0        0 23111 1 ffff9a3c4e2b0200 100 0 0 10 0\n",
			want: []Listener{
				{Address: "::", Port: 22, Inode: 21002},
				{Address: "::1", Port: 6379, Inode: 19002},
				{Address: "10.244.3.7", Port: 8443, Inode: 45001},
				{Address: "2001:db8:3::17", Port: 5432, Inode: 23003},
			},
		},
		{name: "header only", in: tcpHeader},
		{name: "empty", in: ""},
		{
			name: "blank lines are skipped",
			in:   tcpHeader + "\n   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7 1 ffff9a3c4e2b0000 100 0 0 10 0\n\n",
			want: []Listener{{Address: "0.0.0.0", Port: 22, Inode: 7}},
		},
		{
			name:    "a short line",
			in:      tcpHeader + "   0: 00000000:0016 00000000:0000 0A 00000000:00000000\n",
			wantErr: "line 2: expected at least 10 fields, got 5",
		},
		{
			name:    "an address without port",
			in:      tcpHeader + "   0: 00000000 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7 1\n",
			wantErr: `line 2: address "00000000": no port`,
		},
		{
			name:    "an address of 6 bytes",
			in:      tcpHeader + "   0: 000000000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7 1\n",
			wantErr: "line 2: address",
		},
		{
			name:    "an inode that is no number",
			in:      tcpHeader + "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 x7 1\n",
			wantErr: "line 2: inode: ",
		},
		{
			name:    "a malformed listener after good ones",
			in:      tcpHeader + "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7 1\n" + "   1: 00000000:ZZZZ 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 8 1\n",
			wantErr: `line 3: port "ZZZZ"`,
		},
		{
			name: "a malformed address of a connection is not read",
			in:   tcpHeader + "   0: garbage:xx 00000000:0000 01 00000000:00000000 00:00000000 00000000     0        0 7 1\n",
		},
		{
			name:    "a line longer than any the kernel writes",
			in:      tcpHeader + strings.Repeat("0", 5000) + "\n",
			wantErr: "line 2: ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProcNetTCP(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one starting with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("listeners (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseHexAddress(t *testing.T) {
	tests := []struct {
		in       string
		wantAddr string
		wantPort int
		wantErr  bool
	}{
		{"0100007F:1F90", "127.0.0.1", 8080, false},
		{"00000000:0016", "0.0.0.0", 22, false},
		{"1103000A:1538", "10.0.3.17", 5432, false},
		{"0100007f:1f90", "127.0.0.1", 8080, false}, // lower case hex
		{"FFFFFFFF:FFFF", "255.255.255.255", 65535, false},
		{"00000000000000000000000000000000:0050", "::", 80, false},
		{"00000000000000000000000001000000:0050", "::1", 80, false},
		{"0000000000000000FFFF00000100007F:0050", "127.0.0.1", 80, false},
		{"0000000000000000FFFF000000000000:0050", "0.0.0.0", 80, false},
		{"B80D0120000000000000000005000000:01BB", "2001:db8::5", 443, false},
		{"000080FE00000000FF020000BA0A00FE:0016", "fe80::2ff:fe00:aba", 22, false},
		{"0100007F", "", 0, true},                      // no port
		{"0100007:0050", "", 0, true},                  // odd number of hex digits
		{"01000000007F:0050", "", 0, true},             // 6 bytes
		{"GGGGGGGG:0050", "", 0, true},                 // not hex
		{"0100007F:10000", "", 0, true},                // port beyond 16 bits
		{"0100007F:", "", 0, true},                     // empty port
		{":0050", "", 0, true},                         // empty address
		{"0100007F:0050:0050", "", 0, true},            // two ports
		{"0100007F:-1", "", 0, true},                   // negative port
		{"0000000000000000FFFF0000:0050", "", 0, true}, // 12 bytes
	}
	for _, tt := range tests {
		addr, port, err := parseHexAddress(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseHexAddress(%q) error %v, want error: %v", tt.in, err, tt.wantErr)
			continue
		}
		if addr != tt.wantAddr || port != tt.wantPort {
			t.Errorf("parseHexAddress(%q) = %q, %d, want %q, %d", tt.in, addr, port, tt.wantAddr, tt.wantPort)
		}
	}
}

// TestListenerNewSocketAfterFirstScrape checks the caches: a socket that appears after the
// first scrape is found with its owner, and one whose process exits is forgotten.
func TestListenerNewSocketAfterFirstScrape(t *testing.T) {
	root := copyFixture(t, filepath.Join("testdata", "baremetal"))
	cfg := fixtureConfig(t, root)
	c, err := newListenerCollector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	scrape := func() []string {
		t.Helper()
		s := &Scrape{Host: "db-07", facts: newFacts()}
		if err := c.Update(t.Context(), s); err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, line := range strings.Split(renderMetrics(t, s.metrics), "\n") {
			if strings.HasPrefix(line, "strata_listener_info{") && strings.Contains(line, `port="9100"`) {
				lines = append(lines, line)
			}
		}
		return lines
	}
	if got := scrape(); len(got) != 0 {
		t.Fatalf("port 9100 before it listens: %v", got)
	}

	// node_exporter (pid 3000) starts and listens on :9100.
	proc := filepath.Join(root, "proc")
	tcp := filepath.Join(proc, "1", "net", "tcp")
	b, err := os.ReadFile(tcp)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, "   9: 00000000:238C 00000000:0000 0A 00000000:00000000 00:00000000 00000000 65534        0 29001 1 ffff9a3c4e2b9000 100 0 0 10 0\n"...)
	writeFile(t, tcp, string(b))
	writeFile(t, filepath.Join(proc, "3000", "comm"), "node_exporter\n")
	writeFile(t, filepath.Join(proc, "3000", "cgroup"), "0::/system.slice/node_exporter.service\n")
	symlink(t, "net:[4026531840]", filepath.Join(proc, "3000", "ns", "net"))
	symlink(t, "socket:[29001]", filepath.Join(proc, "3000", "fd", "3"))
	want := []string{`strata_listener_info{address="0.0.0.0",comm="node_exporter",container_id="",host="db-07",netns="",pid="3000",port="9100"} 1`}
	if diff := cmp.Diff(want, scrape()); diff != "" {
		t.Errorf("after node_exporter started (-want +got):\n%s", diff)
	}

	// It restarts: pid 3000 exits, pid 3050 listens on the port with a new socket.
	if err := os.RemoveAll(filepath.Join(proc, "3000")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, tcp, strings.Replace(string(b), " 29001 ", " 29077 ", 1))
	writeFile(t, filepath.Join(proc, "3050", "comm"), "node_exporter\n")
	writeFile(t, filepath.Join(proc, "3050", "cgroup"), "0::/system.slice/node_exporter.service\n")
	symlink(t, "net:[4026531840]", filepath.Join(proc, "3050", "ns", "net"))
	symlink(t, "socket:[29077]", filepath.Join(proc, "3050", "fd", "3"))
	want = []string{`strata_listener_info{address="0.0.0.0",comm="node_exporter",container_id="",host="db-07",netns="",pid="3050",port="9100"} 1`}
	if diff := cmp.Diff(want, scrape()); diff != "" {
		t.Errorf("after node_exporter restarted (-want +got):\n%s", diff)
	}
	if _, ok := c.(*listenerCollector).procs[3000]; ok {
		t.Error("pid 3000 is still cached after it exited")
	}
}

// TestListenerHostNetnsWithoutPid1 checks the fallback to the exporter's own network
// namespace (<procfs>/self/ns/net) when pid 1 cannot be read.
func TestListenerHostNetnsWithoutPid1(t *testing.T) {
	root := copyFixture(t, filepath.Join("testdata", "baremetal"))
	proc := filepath.Join(root, "proc")
	if err := os.Rename(filepath.Join(proc, "1", "net"), filepath.Join(proc, "1142", "net")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(proc, "1")); err != nil {
		t.Fatal(err)
	}
	symlink(t, "net:[4026531840]", filepath.Join(proc, "self", "ns", "net"))
	c, err := newListenerCollector(fixtureConfig(t, root))
	if err != nil {
		t.Fatal(err)
	}
	s := &Scrape{Host: "db-07", facts: newFacts()}
	if err := c.Update(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	out := renderMetrics(t, s.metrics)
	if !strings.Contains(out, `strata_listener_info{address="0.0.0.0",comm="sshd",container_id="",host="db-07",netns="",pid="1142",port="22"} 1`) {
		t.Errorf("sshd's listener not in the host's namespace (netns=\"\"):\n%s", out)
	}
}

func TestContainerFromProcCgroup(t *testing.T) {
	id := strings.Repeat("ab", 32)
	tests := []struct {
		name, in string
		want     cgroup.ContainerRef
		wantOK   bool
	}{
		{"cgroup v2", "0::/system.slice/docker-" + id + ".scope\n", cgroup.ContainerRef{ID: id, Runtime: "docker"}, true},
		{
			"cgroup v1, the container in every controller",
			"12:pids:/docker/" + id + "\n11:memory:/docker/" + id + "\n1:name=systemd:/docker/" + id + "\n0::/docker/" + id + "\n",
			cgroup.ContainerRef{ID: id, Runtime: "docker"}, true,
		},
		{
			"hybrid, only some lines tell",
			"12:pids:/system.slice/x.service\n1:name=systemd:/kubepods/besteffort/pod0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d/" + id + "\n0::/\n",
			cgroup.ContainerRef{ID: id, Runtime: "cri", PodUID: "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d"}, true,
		},
		{"a host process", "0::/system.slice/sshd.service\n", cgroup.ContainerRef{}, false},
		{"conmon", "0::/libpod_parent/libpod-conmon-" + id + "\n", cgroup.ContainerRef{}, false},
		{"no path field", "0:\n12\n\n", cgroup.ContainerRef{}, false},
		{"empty", "", cgroup.ContainerRef{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := containerFromProcCgroup(tt.in)
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("containerFromProcCgroup = %+v, %v, want %+v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
