package nginx

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-obs/strata/topology/source"
)

// passDirectives send requests to an upstream named by their first argument
// (`proxy_pass http://app/path;`, `fastcgi_pass php;`).
var passDirectives = map[string]bool{
	"proxy_pass": true, "grpc_pass": true, "fastcgi_pass": true,
	"uwsgi_pass": true, "scgi_pass": true, "memcached_pass": true,
}

// extract finds the upstream blocks of the http and stream modules, as services, and the
// listen addresses of the servers that pass requests to them.
func extract(dirs []Directive) (services []source.Service, addresses []string, err error) {
	for _, module := range dirs {
		if module.Block == nil || (module.Name != "http" && module.Name != "stream") {
			continue
		}
		upstreams := map[string]bool{}
		for _, d := range module.Block {
			if d.Name != "upstream" || d.Block == nil {
				continue
			}
			if len(d.Args) != 1 {
				return nil, nil, configErrorf(d, `invalid number of arguments in "upstream" directive`)
			}
			if upstreams[d.Args[0]] {
				return nil, nil, configErrorf(d, "duplicate upstream")
			}
			upstreams[d.Args[0]] = true
			svc, err := upstreamService(module.Name, d)
			if err != nil {
				return nil, nil, err
			}
			services = append(services, svc)
		}
		// A second pass: a server may pass to an upstream declared after it.
		for _, d := range module.Block {
			if d.Name == "server" && d.Block != nil && passesTo(d.Block, upstreams) {
				for _, l := range d.Block {
					if l.Name == "listen" && len(l.Args) > 0 && !slices.Contains(addresses, l.Args[0]) {
						addresses = append(addresses, l.Args[0])
					}
				}
			}
		}
	}
	return services, addresses, nil
}

// noUpstreamCounts is every service's and instance's signal_note. Open-source nginx's one
// counter page, stub_status, counts the connections and requests of the whole nginx, every
// server block and location together; only nginx Plus's API counts per upstream server.
const noUpstreamCounts = "open-source nginx counts no traffic per upstream: its stub_status counts all its requests together"

// upstreamService reads `upstream NAME { server …; … }`. Stream upstreams are named
// "stream/NAME": nginx lets http and stream each have an upstream of the same name.
func upstreamService(module string, d Directive) (source.Service, error) {
	svc := source.Service{Name: d.Args[0], TrafficNote: noUpstreamCounts}
	defaultPort := 80
	if module == "stream" {
		svc.Name = "stream/" + svc.Name
		defaultPort = 0 // nginx requires a port in stream upstreams
	}
	for _, s := range d.Block {
		if s.Name != "server" {
			continue
		}
		in, err := upstreamServer(s, len(svc.Instances), defaultPort)
		if err != nil {
			return source.Service{}, err
		}
		svc.Instances = append(svc.Instances, in)
	}
	return svc, nil
}

// upstreamServer reads `server ADDRESS [weight=N] [backup] [down] …;`. Open-source nginx has
// no health API, so health is what the config says: down is MAINT, the rest UP.
func upstreamServer(d Directive, position, defaultPort int) (source.Instance, error) {
	if len(d.Args) == 0 {
		return source.Instance{}, configErrorf(d, `invalid number of arguments in "server" directive`)
	}
	in := source.Instance{Name: d.Args[0], Position: position, Health: source.HealthUp, Weight: 1, TrafficNote: noUpstreamCounts}
	var err error
	if in.Address, in.Port, err = splitServerAddress(d.Args[0], defaultPort); err != nil {
		return source.Instance{}, configErrorf(d, "%v", err)
	}
	for _, param := range d.Args[1:] {
		switch {
		case param == "down":
			in.Health = source.HealthMaint
		case param == "backup":
			in.Labels = map[string]string{"backup": "true"}
		case strings.HasPrefix(param, "weight="):
			w, err := strconv.Atoi(strings.TrimPrefix(param, "weight="))
			if err != nil || w < 1 {
				return source.Instance{}, configErrorf(d, "invalid weight= parameter (want a whole number of at least 1)")
			}
			in.Weight = w
		}
	}
	return in, nil
}

// splitServerAddress splits an upstream server's address: "10.0.0.5:8080", "[::1]:80",
// "backend.internal" (the default port), "unix:/run/app.sock" (no IP: the whole address, port 0).
func splitServerAddress(addr string, defaultPort int) (string, int, error) {
	if strings.HasPrefix(addr, "unix:") {
		return addr, 0, nil
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil { // no port
		if strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
			return addr[1 : len(addr)-1], defaultPort, nil
		}
		return addr, defaultPort, nil
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, errors.New("invalid port in upstream server (want 1-65535)")
	}
	return host, port, nil
}

// passesTo says whether a server block, its locations or their ifs pass requests to one of
// the upstreams. Targets with variables are not followed: only a running nginx knows them.
func passesTo(block []Directive, upstreams map[string]bool) bool {
	for _, d := range block {
		if passDirectives[d.Name] && len(d.Args) > 0 {
			target := d.Args[0]
			if _, after, ok := strings.Cut(target, "://"); ok {
				target = after
			}
			name, _, _ := strings.Cut(target, "/")
			if upstreams[name] {
				return true
			}
		}
		if d.Block != nil && passesTo(d.Block, upstreams) {
			return true
		}
	}
	return false
}

func configErrorf(d Directive, format string, args ...any) error {
	return &ConfigError{File: d.File, Line: d.Line, Msg: fmt.Sprintf(format, args...)}
}
