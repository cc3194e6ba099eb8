package server_test

import (
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/exporter"
	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/server"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/haproxy"
)

// TestHAProxyC1PS is the mission question on real parts: HAProxy's backend c1ps has three
// servers, s0 and s1 in podman containers publishing a port on 127.0.0.1, s2 a plain host
// process. strata (storage, scraper, its own exporter in process, the refresh loop, the API)
// must find, in HAProxy's order, which container or process serves each and which kernel the
// host runs; then follow HAProxy as a container stops and starts again and a server is put in
// maintenance; and keep the last report, marked stale, when HAProxy itself dies.
func TestHAProxyC1PS(t *testing.T) {
	testenv.Root(t)
	testenv.Command(t, "haproxy")
	busybox := testenv.Command(t, "busybox")
	truth := testenv.ReadThisHost(t)
	pm := startPodman(t)

	ports := []int{testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)}
	c0, id0 := pm.httpdContainer(t, ports[0])
	c1, id1 := pm.httpdContainer(t, ports[1])
	httpd := hostHTTPD(t, busybox, ports[2])
	comm, pid := procComm(t, httpd.Pid()), strconv.Itoa(httpd.Pid())
	t.Logf("s0: container %s %s; s1: container %s %s; s2: host process %s pid %s", c0, id0, c1, id1, comm, pid)

	hap := startHAProxy(t, ports)
	expOpts := exporterOptions(pm.sock)
	host := exporter.HostName(*expOpts)
	if host != truth.Hostname {
		t.Logf("the exporter names this host %q, hostname says %q", host, truth.Hostname)
	}
	src, err := haproxy.New(haproxy.Config{Name: "edge", RuntimeAPI: "unix://" + hap.Socket})
	if err != nil {
		t.Fatal(err)
	}
	a := startApp(t, server.Options{
		RefreshInterval: 2 * time.Second,
		ScrapeInterval:  time.Second,
		Exporter:        expOpts,
		LBSources:       []source.LoadBalancers{src},
		LocalHost:       host,
	})

	servers := []string{"s0", "s1", "s2"}
	wantTarget := []string{"container/" + id0, "container/" + id1, "host/" + host}
	instanceID := func(i int) string { return "edge/c1ps/" + servers[i] }

	// checkInstances checks lb → service → the three instances in HAProxy's order, each with
	// the health HAProxy gives it (health[i], "" for any), resolved to its container or the host
	// process, down to this host and its kernel.
	checkInstances := func(health []string) error {
		g, err := a.graph("")
		if err != nil {
			return err
		}
		lb, ok := g.node("lb", "haproxy/edge")
		if !ok {
			return fmt.Errorf("no lb haproxy/edge in the graph (warnings %v)", g.Warnings)
		}
		if lb.Attrs["host"] != host {
			return fmt.Errorf("lb %v: want host %s", lb, host)
		}
		if !slices.Contains(g.down("lb/haproxy/edge"), "service/edge/c1ps") {
			return fmt.Errorf("no edge lb/haproxy/edge → service/edge/c1ps: %v", g.down("lb/haproxy/edge"))
		}
		for i := range servers {
			inst, ok := g.node("instance", instanceID(i))
			if !ok {
				return fmt.Errorf("no instance %s in the graph (warnings %v)", instanceID(i), g.Warnings)
			}
			if !slices.Contains(g.down("service/edge/c1ps"), "instance/"+instanceID(i)) {
				return fmt.Errorf("no edge service/edge/c1ps → instance/%s", instanceID(i))
			}
			for k, want := range map[string]string{
				"position": strconv.Itoa(i), "server": servers[i], "address": "127.0.0.1", "port": strconv.Itoa(ports[i]),
			} {
				if inst.Attrs[k] != want {
					return fmt.Errorf("instance %v: %s is %q, want %q", inst, k, inst.Attrs[k], want)
				}
			}
			if health[i] != "" && inst.Attrs["health"] != health[i] {
				return fmt.Errorf("instance %v: health %q, want %q", inst, inst.Attrs["health"], health[i])
			}
			if down := g.down("instance/" + instanceID(i)); !slices.Equal(down, []string{wantTarget[i]}) {
				return fmt.Errorf("instance %v resolves to %v, want %s (warnings %v)", inst, down, wantTarget[i], g.Warnings)
			}
		}
		s2, _ := g.node("instance", instanceID(2))
		via := s2.Attrs["resolved_via"]
		if !strings.Contains(via, comm) || !strings.Contains(via, "pid "+pid) || s2.Attrs["process"] != comm || s2.Attrs["pid"] != pid {
			return fmt.Errorf("instance %v: want it resolved through the host process %s (pid %s)", s2, comm, pid)
		}
		for i := range 2 {
			if c := strings.TrimPrefix(wantTarget[i], "container/"); !slices.Contains(g.down("container/"+c), "host/"+host) {
				return fmt.Errorf("container %s: no edge to host/%s: %v", c, host, g.down("container/"+c))
			}
		}

		// The entity endpoint walks each instance down to the hardware.
		for i := range servers {
			e, err := a.entity("instance", instanceID(i))
			if err != nil {
				return err
			}
			if len(e.Paths) != 1 {
				return fmt.Errorf("instance %s: want one path, got %v", instanceID(i), e.Paths)
			}
			p := e.Paths[0]
			wantContainer := ""
			if i < 2 {
				wantContainer = strings.TrimPrefix(wantTarget[i], "container/")
			}
			if p["host"] != host || p["container"] != wantContainer {
				return fmt.Errorf("instance %s: path %v, want container %q on host %s", instanceID(i), p, wantContainer, host)
			}
		}
		h, err := a.entity("host", host)
		if err != nil {
			return err
		}
		if h.Entity.Attrs["kernel_release"] != truth.KernelRelease {
			return fmt.Errorf("host %v: kernel_release %q, uname -r says %q", h.Entity, h.Entity.Attrs["kernel_release"], truth.KernelRelease)
		}
		return nil
	}

	// The positions are HAProxy's own order.
	if got := hap.serverOrder(t, "c1ps"); !slices.Equal(got, servers) {
		t.Fatalf("HAProxy lists c1ps's servers as %v, want %v", got, servers)
	}
	testenv.Eventually(t, pollTimeout, "lb → c1ps → s0, s1, s2 resolved down to the kernel", func() error {
		return checkInstances([]string{"UP", "UP", "UP"})
	})

	// The s1 container stops: HAProxy's check fails, and the graph says so. The instance then
	// runs nowhere strata knows: it is left on the LB's host.
	pm.must(t, "stop", "-t", "0", c1)
	testenv.Eventually(t, pollTimeout, "s1 DOWN after its container stopped", func() error {
		if st := hap.status(t, "c1ps", "s1"); !strings.HasPrefix(st, "DOWN") {
			return fmt.Errorf("HAProxy says s1 is %q", st)
		}
		g, err := a.graph("instance")
		if err != nil {
			return err
		}
		inst, _ := g.node("instance", instanceID(1))
		if inst.Attrs["health"] != source.HealthDown {
			return fmt.Errorf("instance %v: want health DOWN", inst)
		}
		return nil
	})
	// It starts again under the same id and port: back UP and in its container.
	pm.must(t, "start", c1)
	testenv.Eventually(t, pollTimeout, "s1 UP in its container again", func() error {
		return checkInstances([]string{"UP", "UP", "UP"})
	})

	// An operator puts s0 in maintenance through the runtime API.
	if out := hap.Command(t, "disable server c1ps/s0"); out != "" {
		t.Fatalf("disable server c1ps/s0: %q", out)
	}
	testenv.Eventually(t, pollTimeout, "s0 MAINT", func() error {
		if st := hap.status(t, "c1ps", "s0"); !strings.HasPrefix(st, "MAINT") {
			return fmt.Errorf("HAProxy says s0 is %q", st)
		}
		return checkInstances([]string{"MAINT", "UP", "UP"})
	})

	// HAProxy dies: the source is down with its error, its last report stays, marked stale.
	hap.Process.Stop()
	testenv.Eventually(t, pollTimeout, "the haproxy source down, its entities stale", func() error {
		srcs, err := a.sources()
		if err != nil {
			return err
		}
		i := slices.IndexFunc(srcs, func(s apiSource) bool { return s.Name == "edge" })
		if i < 0 {
			return fmt.Errorf("no source edge in %+v", srcs)
		}
		if s := srcs[i]; s.Up || s.Error == "" || s.Kind != "lb" || s.LastSeen.IsZero() {
			return fmt.Errorf("source %+v: want down, with an error and the time of its last report", s)
		}
		g, err := a.graph("")
		if err != nil {
			return err
		}
		refs := [][2]string{{"lb", "haproxy/edge"}, {"service", "edge/c1ps"}}
		for i := range servers {
			refs = append(refs, [2]string{"instance", instanceID(i)})
		}
		for _, r := range refs {
			e, ok := g.node(r[0], r[1])
			if !ok {
				return fmt.Errorf("%s/%s is gone from the graph: want it kept, stale", r[0], r[1])
			}
			if !e.Stale {
				return fmt.Errorf("%v: want stale", e)
			}
		}
		if err := checkInstances([]string{"MAINT", "UP", "UP"}); err != nil {
			return fmt.Errorf("the last report: %w", err)
		}
		if !slices.ContainsFunc(g.Warnings, func(w string) bool { return strings.HasPrefix(w, "source edge:") }) {
			return fmt.Errorf("no warning about source edge in %v", g.Warnings)
		}
		return nil
	})

	testenv.Eventually(t, pollTimeout, "/metrics: the source down and a path row per instance", func() error {
		fams, err := scrapeMetrics(a.base + "/metrics")
		if err != nil {
			return err
		}
		up, err := fams.Only("strata_topology_source_up", map[string]string{"source": "edge"})
		if err != nil {
			return err
		}
		if up.Value != 0 {
			return fmt.Errorf("%v: want 0", up)
		}
		for i := range servers {
			row, err := fams.Only("strata_topology_path_info", map[string]string{"lb": "edge", "service": "c1ps", "server": servers[i]})
			if err != nil {
				return err
			}
			want := map[string]string{
				"position": strconv.Itoa(i), "address": "127.0.0.1", "host": host, "kernel_release": truth.KernelRelease,
				"os_image": truth.PrettyName, "container_id": strings.TrimPrefix(wantTarget[i], "container/"),
			}
			if i == 2 {
				want["container_id"] = ""
			}
			if i == 0 {
				want["health"] = source.HealthMaint
			}
			for k, v := range want {
				if row.Labels[k] != v {
					return fmt.Errorf("%v: %s is %q, want %q", row, k, row.Labels[k], v)
				}
			}
		}
		return nil
	})
}

// realHAProxy is one HAProxy process of the test, with its runtime API on a unix socket.
type realHAProxy struct{ *testenv.HAProxy }

// startHAProxy runs HAProxy with backend c1ps: servers s0, s1, s2 on 127.0.0.1 at ports, in
// that order, each checked every 300 ms.
func startHAProxy(t *testing.T, ports []int) realHAProxy {
	t.Helper()
	var servers strings.Builder
	for i, p := range ports {
		fmt.Fprintf(&servers, "  server s%d 127.0.0.1:%d check inter 300ms fall 1 rise 1\n", i, p)
	}
	return realHAProxy{testenv.StartHAProxy(t, func() string {
		return fmt.Sprintf(`global
  maxconn 256

`+testenv.HAProxyDefaults+`
frontend fe
  bind 127.0.0.1:%d
  option socket-stats
  default_backend c1ps

backend c1ps
%s`, testenv.FreePort(t), servers.String())
	})}
}

// stat is HAProxy's `show stat` for one backend's servers, in HAProxy's order: each row as
// column → value.
func (h realHAProxy) stat(t testing.TB, backend string) []map[string]string {
	t.Helper()
	out := h.Command(t, "show stat")
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "# ")))
	r.FieldsPerRecord = -1
	records, err := r.ReadAll()
	if err != nil || len(records) == 0 {
		t.Fatalf("show stat: %v: %q", err, out)
	}
	header := records[0]
	var rows []map[string]string
	for _, rec := range records[1:] {
		row := map[string]string{}
		for i, v := range rec {
			if i < len(header) {
				row[header[i]] = v
			}
		}
		if row["pxname"] == backend && row["svname"] != "BACKEND" && row["svname"] != "FRONTEND" {
			rows = append(rows, row)
		}
	}
	return rows
}

func (h realHAProxy) serverOrder(t testing.TB, backend string) []string {
	var names []string
	for _, row := range h.stat(t, backend) {
		names = append(names, row["svname"])
	}
	return names
}

func (h realHAProxy) status(t testing.TB, backend, server string) string {
	for _, row := range h.stat(t, backend) {
		if row["svname"] == server {
			return row["status"]
		}
	}
	t.Fatalf("HAProxy has no server %s/%s", backend, server)
	return ""
}
