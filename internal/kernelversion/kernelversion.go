// Package kernelversion orders Linux kernel releases as uname -r writes them
// ("6.1.0-28-amd64", "5.14.0-503.40.1.el9_5.x86_64", "6.8.0-1021-aws"): runs of digits by
// value, the rest by byte, so that 6.1.0-9 comes before 6.1.0-28 and 5.14.0-427 before
// 5.14.0-503. strata-exporter uses it to tell the newest kernel installed, and the lifecycle
// policy to compare a host's kernel with a minimum.
package kernelversion

import "strings"

// Compare answers -1, 0 or +1 as a is older than, the same as or newer than b. A release that
// is a prefix of the other is the older one ("6.1" before "6.1.0-28").
func Compare(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		switch {
		case da > 0 && db > 0:
			x, y := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(x) != len(y) {
				return sign(len(x) - len(y))
			}
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
		case da > 0: // a number after the same text is newer than a letter or a dot ("6.1.0-28" > "6.1.0-rc")
			return 1
		case db > 0:
			return -1
		default:
			if a[0] != b[0] {
				return sign(int(a[0]) - int(b[0]))
			}
			a, b = a[1:], b[1:]
		}
	}
	return sign(len(a) - len(b))
}

// digits is the length of the run of ASCII digits s starts with.
func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
