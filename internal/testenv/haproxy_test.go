package testenv

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

func TestWithRuntimeAPI(t *testing.T) {
	const line = "  stats socket /s mode 600 level admin\n"
	for _, c := range []struct{ name, config, want string }{
		{"first line of global", "global\n  maxconn 64\ndefaults\n", "global\n" + line + "  maxconn 64\ndefaults\n"},
		{"global after defaults", "defaults\n  mode http\nglobal\n", "defaults\n  mode http\nglobal\n" + line},
		{"global at the end, no newline", "defaults\nglobal", "defaults\nglobal\n" + line},
		{"no global", "defaults\n  mode http\n", "global\n" + line + "\ndefaults\n  mode http\n"},
		{"a word that starts with global", "global-x\n", "global\n" + line + "\nglobal-x\n"},
	} {
		if got := withRuntimeAPI(c.config, "/s"); got != c.want {
			t.Errorf("%s: got\n%s\nwant\n%s", c.name, got, c.want)
		}
	}
}

// TestStartHAProxyRetriesBind: a port taken between FreePort and HAProxy's bind costs a start,
// not the test: the second config, with another port, runs.
func TestStartHAProxyRetriesBind(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	var configs []string
	h := StartHAProxy(t, func() string {
		addr := taken.Addr().String()
		if len(configs) > 0 {
			addr = FreeAddr(t)
		}
		configs = append(configs, addr)
		return fmt.Sprintf("defaults\n  mode http\n  timeout connect 1s\n  timeout client 1s\n  timeout server 1s\nfrontend fe\n  bind %s\n", addr)
	})
	if len(configs) != 2 {
		t.Errorf("config called for %v, want the taken port and then another", configs)
	}
	if info := h.Command(t, "show info"); !strings.Contains(info, "Pid: ") {
		t.Errorf("show info: %q", info)
	}
}
