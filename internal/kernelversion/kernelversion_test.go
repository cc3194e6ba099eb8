package kernelversion

import (
	"slices"
	"testing"
)

// TestCompare: releases of the distributions strata meets, each list oldest first as their
// package managers order them (Debian's ABI numbers, RHEL's builds, Ubuntu's flavours).
func TestCompare(t *testing.T) {
	for _, list := range [][]string{
		{"6.1.0-9-amd64", "6.1.0-13-amd64", "6.1.0-28-amd64", "6.12.9-amd64"},
		{"5.14.0-427.13.1.el9_4.x86_64", "5.14.0-503.11.1.el9_5.x86_64", "5.14.0-503.40.1.el9_5.x86_64"},
		{"6.8.0-51-generic", "6.8.0-1021-aws", "6.11.0-19-generic"},
		{"6.1", "6.1.0", "6.1.0-28"},
		{"4.19.0-27-amd64", "5.10.0-33-amd64", "6.1.0-31-amd64"},
	} {
		for i, a := range list {
			for j, b := range list {
				want := 0
				if i < j {
					want = -1
				} else if i > j {
					want = 1
				}
				if got := Compare(a, b); got != want {
					t.Errorf("Compare(%q, %q) = %d, want %d", a, b, got, want)
				}
			}
		}
		shuffled := slices.Clone(list)
		slices.Reverse(shuffled)
		if slices.SortFunc(shuffled, Compare); !slices.Equal(shuffled, list) {
			t.Errorf("sorted %q, want %q", shuffled, list)
		}
	}
	if Compare("6.1.0-028", "6.1.0-28") != 0 {
		t.Error("leading zeros count")
	}
}

func FuzzCompare(f *testing.F) {
	f.Add("6.1.0-28-amd64", "6.1.0-9-amd64")
	f.Fuzz(func(t *testing.T, a, b string) {
		if x, y := Compare(a, b), Compare(b, a); x != -y {
			t.Errorf("Compare(%q, %q) = %d but Compare(%q, %q) = %d", a, b, x, b, a, y)
		}
	})
}
