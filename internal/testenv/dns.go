package testenv

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"
)

// DNSMasq starts dnsmasq on 127.0.0.1 at a free port, answering from its records alone (no
// upstream, no /etc/hosts), and returns its host:port and a func that stops it. records are dnsmasq's options such as
// --srv-host=_http._tcp.web.example,web1.example,8080,10,60 and --host-record=web1.example,192.0.2.1.
func DNSMasq(t testing.TB, records ...string) (addr string, stop func()) {
	t.Helper()
	bin := Command(t, "dnsmasq")
	port := FreePort(t)
	args := append([]string{"--keep-in-foreground", "--log-facility=-", "--conf-file=/dev/null", "--pid-file=",
		"--no-resolv", "--no-hosts", "--no-poll", "--bind-interfaces", "--listen-address=127.0.0.1",
		"--port=" + strconv.Itoa(port)}, records...)
	p := StartProcess(t, bin, args...)
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	Eventually(t, 10*time.Second, "dnsmasq answering on "+addr, func() error {
		if err := p.Running(); err != nil {
			t.Fatal(err)
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return fmt.Errorf("dnsmasq: %w", err)
		}
		return c.Close()
	})
	return addr, p.Stop
}
