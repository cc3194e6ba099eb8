package promql

import (
	"encoding/json"
	"testing"
	"time"
)

// The parameters of Prometheus's HTTP API (time, start, end, timeout, step, limit) come from
// anyone who reaches the port: none may panic, and what is accepted must be usable as it is.

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"1700000000", "1700000000.123", "2026-11-20T10:00:00Z", "NaN", "-Inf", "1e10", "1e300",
		"-9223372036854775808", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", minTime.Format(time.RFC3339Nano), "0x1p-2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		at, err := parseTime(s)
		if err != nil {
			return
		}
		if at.Before(minTime) || at.After(maxTime) {
			t.Errorf("parseTime(%q) = %s, outside [%s, %s]", s, at, minTime, maxTime)
		}
		if at.Year() >= 0 && at.Year() <= 9999 {
			if _, err := json.Marshal(at); err != nil {
				t.Errorf("parseTime(%q) = %s, which JSON cannot write: %v", s, at, err)
			}
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"15", "0.5", "1m30s", "1e10", "NaN", "-Inf", "9223372036.854775807", "-1", "1y2w"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDuration(s)
		if err != nil {
			return
		}
		// A duration that went through a float is within a float's rounding of what was asked:
		// never of the other sign.
		if d < 0 && s != "" && s[0] != '-' {
			t.Errorf("parseDuration(%q) = %s, negative", s, d)
		}
	})
}

func FuzzParseLimit(f *testing.F) {
	for _, s := range []string{"", "0", "10", "-1", "9223372036854775807", "1e3", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseLimit(s)
		if err == nil && n < 0 {
			t.Errorf("parseLimit(%q) = %d", s, n)
		}
		if err == nil && n > 0 {
			if got := hintLimit(n); got < n {
				t.Errorf("hintLimit(%d) = %d: overflowed", n, got)
			}
		}
	})
}
