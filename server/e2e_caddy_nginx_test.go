package server_test

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/exporter"
	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/server"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/caddy"
	"github.com/strata-obs/strata/topology/source/nginx"
)

// TestCaddyAndNginx runs a real Caddy and a real nginx side by side, each proxying to two
// upstreams on 127.0.0.1: a podman container publishing a port and a plain host process, in
// opposite orders. strata, reading both, must resolve every upstream the same way the HAProxy
// path does (the container by its published port, the process by its listening socket), in
// each LB's upstream order, down to this host's kernel.
func TestCaddyAndNginx(t *testing.T) {
	testenv.Root(t)
	testenv.Command(t, "caddy")
	testenv.NginxBinary(t)
	busybox := testenv.Command(t, "busybox")
	truth := testenv.ReadThisHost(t)
	pm := startPodman(t)

	// Caddy: the container first, then the process; nginx: the other way round.
	caddyPorts := []int{testenv.FreePort(t), testenv.FreePort(t)}
	nginxPorts := []int{testenv.FreePort(t), testenv.FreePort(t)}
	_, caddyContainer := pm.httpdContainer(t, caddyPorts[0])
	caddyProcess := hostHTTPD(t, busybox, caddyPorts[1])
	nginxProcess := hostHTTPD(t, busybox, nginxPorts[0])
	_, nginxContainer := pm.httpdContainer(t, nginxPorts[1])

	caddyAdmin, caddyListen := startCaddyProxy(t, caddyPorts)
	nginxConf, nginxListen := startNginxProxy(t, nginxPorts)
	// The configurations are real: requests through both LBs reach the upstreams. (Caddy's
	// admin API answers before its HTTP server listens.)
	testenv.Eventually(t, 10*time.Second, "requests through caddy and nginx", func() error {
		for _, url := range []string{"http://" + caddyListen + "/c1ps/", "http://" + nginxListen + "/"} {
			if _, err := testenv.CheckHTTP(url, http.StatusOK); err != nil {
				return err
			}
		}
		return nil
	})

	expOpts := exporterOptions(pm.sock)
	host := exporter.HostName(*expOpts)
	caddySrc, err := caddy.New(caddy.Config{Name: "web", AdminURL: "http://" + caddyAdmin})
	if err != nil {
		t.Fatal(err)
	}
	nginxSrc, err := nginx.New(nginx.Config{Name: "legacy", ConfigFile: nginxConf})
	if err != nil {
		t.Fatal(err)
	}
	a := startApp(t, server.Options{
		RefreshInterval: 2 * time.Second,
		ScrapeInterval:  time.Second,
		Exporter:        expOpts,
		LBSources:       []source.LoadBalancers{caddySrc, nginxSrc},
		LocalHost:       host,
	})

	type upstream struct {
		port          int
		target        string // the ref it resolves to
		comm, pid     string // the host process, if any
		containerPath string // the path's container, if any
	}
	process := func(port int, p *process) upstream {
		return upstream{port: port, target: "host/" + host, comm: procComm(t, p.Pid()), pid: strconv.Itoa(p.Pid())}
	}
	container := func(port int, id string) upstream {
		return upstream{port: port, target: "container/" + id, containerPath: id}
	}
	lbs := []struct {
		lb, service string // refs' ids
		upstreams   []upstream
	}{
		{"caddy/web", "web/srv0/c1ps", []upstream{container(caddyPorts[0], caddyContainer), process(caddyPorts[1], caddyProcess)}},
		{"nginx/legacy", "legacy/c1ps", []upstream{process(nginxPorts[0], nginxProcess), container(nginxPorts[1], nginxContainer)}},
	}

	testenv.Eventually(t, pollTimeout, "both LBs' upstreams resolved down to the kernel", func() error {
		g, err := a.graph("")
		if err != nil {
			return err
		}
		for _, lb := range lbs {
			if _, ok := g.node("lb", lb.lb); !ok {
				return fmt.Errorf("no lb %s in the graph (warnings %v)", lb.lb, g.Warnings)
			}
			if !slices.Contains(g.down("lb/"+lb.lb), "service/"+lb.service) {
				return fmt.Errorf("no edge lb/%s → service/%s: %v", lb.lb, lb.service, g.down("lb/"+lb.lb))
			}
			if n := len(g.down("service/" + lb.service)); n != len(lb.upstreams) {
				return fmt.Errorf("service %s has %d instances, want %d", lb.service, n, len(lb.upstreams))
			}
			for i, u := range lb.upstreams {
				id := lb.service + "/127.0.0.1:" + strconv.Itoa(u.port)
				inst, ok := g.node("instance", id)
				if !ok {
					return fmt.Errorf("no instance %s in the graph (warnings %v)", id, g.Warnings)
				}
				for k, want := range map[string]string{
					"position": strconv.Itoa(i), "address": "127.0.0.1", "port": strconv.Itoa(u.port), "health": source.HealthUp,
				} {
					if inst.Attrs[k] != want {
						return fmt.Errorf("instance %v: %s is %q, want %q", inst, k, inst.Attrs[k], want)
					}
				}
				if down := g.down("instance/" + id); !slices.Equal(down, []string{u.target}) {
					return fmt.Errorf("instance %v resolves to %v, want %s (warnings %v)", inst, down, u.target, g.Warnings)
				}
				if u.comm != "" {
					via := inst.Attrs["resolved_via"]
					if !strings.Contains(via, u.comm) || !strings.Contains(via, "pid "+u.pid) || inst.Attrs["pid"] != u.pid {
						return fmt.Errorf("instance %v: want it resolved through the host process %s (pid %s)", inst, u.comm, u.pid)
					}
				}
				e, err := a.entity("instance", id)
				if err != nil {
					return err
				}
				if len(e.Paths) != 1 || e.Paths[0]["host"] != host || e.Paths[0]["container"] != u.containerPath {
					return fmt.Errorf("instance %s: paths %v, want one, with container %q on host %s", id, e.Paths, u.containerPath, host)
				}
			}
		}
		h, ok := g.node("host", host)
		if !ok {
			return fmt.Errorf("no host %s in the graph", host)
		}
		if h.Attrs["kernel_release"] != truth.KernelRelease || h.Attrs["os_image"] != truth.PrettyName {
			return fmt.Errorf("host %v: want kernel_release %q (uname -r) and os_image %q (os-release)", h, truth.KernelRelease, truth.PrettyName)
		}
		return nil
	})
}

// startCaddyProxy runs Caddy with one server, srv0, proxying /c1ps/* to the upstreams on
// 127.0.0.1 in that order. It returns the admin and the server's addresses.
func startCaddyProxy(t *testing.T, upstreams []int) (admin, listen string) {
	t.Helper()
	listen = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	var dials []any
	for _, p := range upstreams {
		dials = append(dials, map[string]any{"dial": "127.0.0.1:" + strconv.Itoa(p)})
	}
	c := testenv.StartCaddy(t, map[string]any{
		"srv0": map[string]any{
			"listen": []string{listen},
			"routes": []any{map[string]any{
				"match": []any{map[string]any{"path": []string{"/c1ps/*"}}},
				"handle": []any{
					map[string]any{"handler": "rewrite", "uri": "/"},
					map[string]any{"handler": "reverse_proxy", "upstreams": dials},
				},
			}},
		},
	})
	return c.Admin, listen
}

// startNginxProxy runs nginx proxying to upstream c1ps: the upstreams on 127.0.0.1 in that
// order. It returns the configuration file and the listen address.
func startNginxProxy(t *testing.T, upstreams []int) (conf, listen string) {
	t.Helper()
	listen = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	var servers strings.Builder
	for _, p := range upstreams {
		fmt.Fprintf(&servers, "        server 127.0.0.1:%d;\n", p)
	}
	n := testenv.StartNginx(t, "", fmt.Sprintf(`    upstream c1ps {
%s    }
    server {
        listen %s;
        location / {
            proxy_pass http://c1ps;
        }
    }
`, servers.String(), listen))
	return n.Conf, listen
}
