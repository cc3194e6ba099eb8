// Package inventory reads the inventory file (docs/design.md, "Configuration"): hosts with their addresses, labels
// and facts, and load balancers with their services and ordered instances, for whatever has no
// API strata can ask (cloud LBs, CMDBs, hand-kept lists). It is both an LB source and a facts
// source; its facts are the weakest (source.OriginInventory).
//
// Parse is the pure core (a reader in, the inventory or every problem with its line out);
// Source wraps it with the file and reloads it when it changes. To add a field to the format:
// one Field in the list of its mapping below, one check if it needs one, a row in the tests
// (and docs/design.md, "Configuration", which is the contract).
package inventory

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/strata-obs/strata/internal/labelname"
	"github.com/strata-obs/strata/internal/redact"
	"github.com/strata-obs/strata/internal/strictyaml"
	"github.com/strata-obs/strata/topology/source"
)

// Inventory is the content of an inventory file, in the types the topology consumes: hosts
// with Origin OriginInventory, LBs whose instances carry their Position in the file and health
// UNKNOWN (a file cannot know whether a backend is up).
type Inventory struct {
	Hosts []source.Host
	LBs   []source.LB
}

// FactNames are the host facts an inventory may set: the host attributes of docs/design.md, "The graph". A
// typo in a fact name would otherwise be a fact nobody ever reads.
func FactNames() []string {
	return []string{
		"kernel_release", "kernel_version", "arch", "os_id", "os_version_id", "os_image",
		"image_id", "image_version", "system_vendor", "product_name", "bios_vendor",
		"bios_version", "cpu_model", "cpu_cores", "memory_bytes", "virtualization",
		"cloud_provider", "instance_type",
	}
}

// defaultProvider is an LB's provider when the file names none.
const defaultProvider = "inventory"

// Parse reads an inventory. name is the file's name, as errors show it. Every problem is
// reported, each as "name:line: field.path: reason"; the error is an errors.Join of
// *strictyaml.Error.
func Parse(name string, r io.Reader) (*Inventory, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	root, err := strictyaml.Read(name, data)
	if err != nil {
		return nil, err
	}
	d := strictyaml.NewDecoder(name, root)
	inv := &Inventory{}
	if root != nil {
		hostNames, lbNames := map[string]int{}, map[string]int{}
		d.Mapping(root, "", []strictyaml.Field{
			{Name: "hosts", Read: func(n *yaml.Node, path string) {
				d.Sequence(n, path, func(_ int, n *yaml.Node, path string) {
					if h, ok := readHost(d, n, path, hostNames); ok {
						inv.Hosts = append(inv.Hosts, h)
					}
				})
			}},
			{Name: "lbs", Read: func(n *yaml.Node, path string) {
				d.Sequence(n, path, func(_ int, n *yaml.Node, path string) {
					if lb, ok := readLB(d, n, path, lbNames); ok {
						inv.LBs = append(inv.LBs, lb)
					}
				})
			}},
		})
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	return inv, nil
}

// identity reads a name that identifies its entity among its siblings: present, not empty,
// not used twice.
func identity(d *strictyaml.Decoder, seen map[string]int, dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, ok := d.String(n, path)
		switch {
		case !ok:
		case s == "":
			d.Errorf(n, path, "must not be empty")
		case d.Unique(seen, n, path, s):
			*dst = s
		}
	}
}

func readHost(d *strictyaml.Decoder, n *yaml.Node, path string, names map[string]int) (source.Host, bool) {
	h := source.Host{Origin: source.OriginInventory}
	ok := d.Mapping(n, path, []strictyaml.Field{
		{Name: "name", Required: true, Read: identity(d, names, &h.Name)},
		{Name: "addresses", Read: func(n *yaml.Node, path string) { h.Addresses = canonical(d, n, path, hostAddress) }},
		{Name: "labels", Read: func(n *yaml.Node, path string) { h.Labels = d.StringMap(n, path, checkLabel) }},
		{Name: "facts", Read: func(n *yaml.Node, path string) { h.Attrs = d.StringMap(n, path, checkFact) }},
	})
	return h, ok && h.Name != ""
}

func readLB(d *strictyaml.Decoder, n *yaml.Node, path string, names map[string]int) (source.LB, bool) {
	lb := source.LB{Provider: defaultProvider}
	services := map[string]int{}
	ok := d.Mapping(n, path, []strictyaml.Field{
		{Name: "name", Required: true, Read: identity(d, names, &lb.Name)},
		{Name: "provider", Read: func(n *yaml.Node, path string) {
			if s, _ := d.String(n, path); s != "" {
				lb.Provider = s
			}
		}},
		{Name: "addresses", Read: func(n *yaml.Node, path string) { lb.Addresses = canonical(d, n, path, lbAddress) }},
		{Name: "labels", Read: func(n *yaml.Node, path string) { lb.Labels = d.StringMap(n, path, checkLabel) }},
		{Name: "services", Read: func(n *yaml.Node, path string) {
			d.Sequence(n, path, func(_ int, n *yaml.Node, path string) {
				if s, ok := readService(d, n, path, services); ok {
					lb.Services = append(lb.Services, s)
				}
			})
		}},
	})
	return lb, ok && lb.Name != ""
}

func readService(d *strictyaml.Decoder, n *yaml.Node, path string, names map[string]int) (source.Service, bool) {
	var s source.Service
	instances := map[string]int{}
	ok := d.Mapping(n, path, []strictyaml.Field{
		{Name: "name", Required: true, Read: identity(d, names, &s.Name)},
		{Name: "labels", Read: func(n *yaml.Node, path string) { s.Labels = d.StringMap(n, path, checkLabel) }},
		{Name: "instances", Read: func(n *yaml.Node, path string) {
			d.Sequence(n, path, func(i int, n *yaml.Node, path string) {
				if in, ok := readInstance(d, n, path, instances); ok {
					in.Position = i // the file's order is the LB's order: instance[0] is the first line
					s.Instances = append(s.Instances, in)
				}
			})
		}},
	})
	return s, ok && s.Name != ""
}

func readInstance(d *strictyaml.Decoder, n *yaml.Node, path string, names map[string]int) (source.Instance, bool) {
	in := source.Instance{Health: source.HealthUnknown}
	ok := d.Mapping(n, path, []strictyaml.Field{
		{Name: "name", Required: true, Read: identity(d, names, &in.Name)},
		{Name: "address", Required: true, Read: func(n *yaml.Node, path string) {
			s, ok := d.String(n, path)
			switch {
			case !ok:
				return
			case s == "":
				d.Errorf(n, path, "must not be empty")
				return
			}
			host, port, err := instanceAddress(s)
			if err != nil {
				d.Errorf(n, path, "%v", err)
				return
			}
			in.Address, in.Port = host, port
		}},
		{Name: "host", Read: func(n *yaml.Node, path string) {
			if s, ok := d.String(n, path); ok && s == "" && !isNull(n) {
				d.Errorf(n, path, "must not be empty (leave it out to resolve the host by address)")
			} else {
				in.Host = s
			}
		}},
	})
	return in, ok && in.Name != "" && in.Address != ""
}

func isNull(n *yaml.Node) bool { return n.ShortTag() == "!!null" }

// canonical reads a list of addresses, each checked and rewritten by parse.
func canonical(d *strictyaml.Decoder, n *yaml.Node, path string, parse func(string) (string, error)) []string {
	var out []string
	d.Sequence(n, path, func(_ int, n *yaml.Node, path string) {
		s, ok := d.String(n, path)
		if !ok {
			return
		}
		a, err := parse(s)
		if err != nil {
			d.Errorf(n, path, "%v", err)
			return
		}
		out = append(out, a)
	})
	return out
}

// hostAddress accepts an IP address or IP:port, in canonical form (lower-case IPv6, no leading
// zeros) so that the join matches it with the exporters' addresses by string.
func hostAddress(s string) (string, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String(), nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Port() != 0 {
		return ap.String(), nil
	}
	return "", errors.New("want an IP address or IP:port (IPv6 in brackets)")
}

// lbAddress accepts what clients use to reach an LB: an IP address or a host name (cloud LBs
// have DNS names), with or without a port.
func lbAddress(s string) (string, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String(), nil
	}
	if validHostName(s) {
		return s, nil
	}
	host, port, err := instanceAddress(s)
	if err != nil {
		return "", errors.New("want an IP address or host name, optionally with :port")
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// instanceAddress splits host:port, where host is an IP address (IPv6 in brackets) or a host
// name, and the port is required: an instance is a socket, not a machine.
func instanceAddress(s string) (host string, port int, err error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		if a, aerr := netip.ParseAddr(s); aerr == nil && a.Is6() {
			return "", 0, errors.New("no port (an IPv6 address goes in brackets, as in [2001:db8::1]:8080)")
		}
		if ae := (*net.AddrError)(nil); errors.As(err, &ae) && ae.Err == "missing port in address" {
			return "", 0, errors.New("no port: want host:port")
		}
		return "", 0, errors.New("want host:port (IPv6 in brackets, as in [2001:db8::1]:8080)")
	}
	n, perr := strconv.Atoi(p)
	if perr != nil || n < 1 || n > 65535 {
		return "", 0, errors.New("invalid port (want 1-65535)")
	}
	if a, aerr := netip.ParseAddr(h); aerr == nil {
		return a.String(), n, nil
	}
	if !validHostName(h) {
		return "", 0, errors.New("the host is neither an IP address nor a host name")
	}
	return h, n, nil
}

// validHostName is RFC 1123's host name: dot-separated labels of letters, digits and inner
// hyphens (underscores too, which DNS allows and service names use), and not all digits at the
// end, so that a mistyped IPv4 address such as 10.0.3.300 is not taken for a name.
func validHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range []byte(l) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	return strings.Trim(last, "0123456789") != ""
}

// checkLabel accepts the label names that can be copied into series as they are (through the
// allow-list).
func checkLabel(name, _ string) error { return labelname.Check(name) }

func checkFact(name, value string) error {
	if !slices.Contains(FactNames(), name) {
		return fmt.Errorf("unknown fact %s (want one of %s)", redact.QuoteKey(name), strings.Join(FactNames(), ", "))
	}
	switch name {
	case "cpu_cores":
		if n, err := strconv.Atoi(value); err != nil || n < 1 {
			return errors.New("cpu_cores: want a whole number of at least 1")
		}
	case "memory_bytes":
		if n, err := strconv.ParseUint(value, 10, 64); err != nil || n == 0 {
			return errors.New("memory_bytes: want a whole number of bytes")
		}
	}
	return nil
}
