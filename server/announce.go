package server

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/strata-obs/strata/topology/graph"
)

// announce tells Options.Announce what strata found, once: as soon as a refresh knows this
// host's kernel (the in-process exporter's first scrape lands within a scrape interval of the
// start, often after the first refresh), or 30 s after the first refresh if it never does.
func (a *App) announce(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var readySince time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !a.ready.Load() {
			continue
		}
		if readySince.IsZero() {
			readySince = time.Now()
		}
		g, _ := a.refresher.Graph()
		if h := localHost(g, a.opts.LocalHost); (h != nil && h.Attr("kernel_release") != "") || time.Since(readySince) > 30*time.Second {
			a.opts.Announce(a.found())
			return
		}
	}
}

// found says where to open strata and what its first refresh found: this host and what it
// runs, the load balancers, or where it looked for them.
func (a *App) found() string {
	g, _ := a.refresher.Graph()
	var b strings.Builder
	fmt.Fprintf(&b, "strata is up: open %s\n", openURL(a.opts))
	if h := localHost(g, a.opts.LocalHost); h != nil {
		fmt.Fprintf(&b, "  this host: %s (%s, kernel %s)\n", h.Name, cmp.Or(h.Attr("os_image"), "OS not known yet"), cmp.Or(h.Attr("kernel_release"), "not known yet"))
	} else {
		fmt.Fprintf(&b, "  this host: %s, with no facts yet (its exporter's first scrape comes with the next refresh)\n", a.opts.LocalHost)
	}
	fmt.Fprintf(&b, "  %s, %s, %s, %s\n", count(g, graph.Host, "host"), count(g, graph.Container, "container"), count(g, graph.Pod, "pod"), count(g, graph.Image, "image"))
	var lbs []string
	g.Each(graph.LB, func(e *graph.Entity) {
		name := e.Name
		if p := e.Attr("provider"); p != "" && p != name {
			name = p + " " + name
		}
		lbs = append(lbs, name)
	})
	slices.Sort(lbs)
	if len(lbs) == 0 {
		b.WriteString("  no load balancer yet: strata looks at every refresh for a HAProxy runtime socket (/run/haproxy/admin.sock and the other usual paths), a Caddy admin API on 127.0.0.1:2019 and nginx's /etc/nginx/nginx.conf\n")
	} else {
		if len(lbs) > 5 {
			lbs = append(lbs[:5], fmt.Sprintf("and %d more", len(lbs)-5))
		}
		fmt.Fprintf(&b, "  %s (%s), %s, %s\n", count(g, graph.LB, "load balancer"), strings.Join(lbs, ", "), count(g, graph.Service, "service"), count(g, graph.Instance, "instance"))
	}
	return strings.TrimRight(b.String(), "\n")
}

// openURL is where a browser opens strata: its first listen address, a wildcard one as
// 127.0.0.1, https where --web.config.file may turn TLS on.
func openURL(o Options) string {
	addr := "127.0.0.1:9730"
	scheme := "http"
	if w := o.WebConfig; w != nil {
		if w.WebListenAddresses != nil && len(*w.WebListenAddresses) > 0 {
			addr = (*w.WebListenAddresses)[0]
		}
		if w.WebConfigFile != nil && *w.WebConfigFile != "" {
			scheme = "https"
		}
	}
	if host, port, err := net.SplitHostPort(addr); err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	return scheme + "://" + addr + "/"
}

// localHost is this host in g, by the name strata knows it by.
func localHost(g *graph.Graph, name string) *graph.Entity {
	var found *graph.Entity
	g.Each(graph.Host, func(e *graph.Entity) {
		if found == nil && (e.Name == name || e.Attr("hostname") == name || e.Attr("node") == name) {
			found = e
		}
	})
	return found
}

// count is how many of a kind g holds, with the word for one of them.
func count(g *graph.Graph, kind graph.Kind, word string) string {
	n := g.Count(kind)
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
