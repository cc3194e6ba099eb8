package join

import (
	"net"
	"slices"
	"sort"
	"strings"
)

// hostOnly drops a port from an address ("10.0.3.17:22" in an inventory) for matching.
func hostOnly(a string) string {
	if h, _, err := net.SplitHostPort(a); err == nil {
		return h
	}
	return a
}

func wildcard(a string) bool { return a == "" || a == "0.0.0.0" || a == "::" }

// routable leaves out addresses that many hosts share: loopback, link-local, unspecified.
func routable(a string) bool {
	ip := net.ParseIP(a)
	return ip != nil && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() && !ip.IsUnspecified()
}

func splitImage(ref string) (name, tag string) {
	if i := strings.LastIndex(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		return ref[:i], ref[i+1:]
	}
	return ref, "latest"
}

func sortedUnique(in []string) []string {
	out := slices.Clone(in)
	sort.Strings(out)
	return slices.Compact(out)
}
