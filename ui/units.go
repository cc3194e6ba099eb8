package ui

import (
	"strconv"
	"strings"
	"time"
)

// How the pages write numbers and times for a person: times in 24-hour UTC, whatever the
// browser's locale; sizes in binary units; durations and rates with three significant digits.
// CSV keeps the raw values, for a spreadsheet to compute with.

// fmtTime is a time as the pages show it: "2026-11-20 10:01:00 UTC".
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

// humanAgo is how long ago something was: "12s ago", "5m ago", "3h ago", "2d ago".
func humanAgo(d time.Duration) string {
	switch {
	case d < 0:
		return "just now" // a clock a little ahead
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + "h ago"
	}
	return strconv.Itoa(int(d.Hours()/24)) + "d ago"
}

// humanBytes is a size in bytes as "1.5 GiB"; the text itself when it is not a number.
func humanBytes(s string) string {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 {
		return s
	}
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatFloat(v, 'f', -1, 64) + " B"
	}
	return sig3(v) + " " + units[i]
}

// humanSeconds is a duration in seconds as "250 ms", "1.2 s", "3m 20s"; the text itself when
// it is not a number.
func humanSeconds(s string) string {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 {
		return s
	}
	switch {
	case v == 0:
		return "0 s"
	case v < 0.001:
		return sig3(v*1e6) + " µs"
	case v < 1:
		return sig3(v*1000) + " ms"
	case v < 60:
		return sig3(v) + " s"
	}
	return (time.Duration(v) * time.Second).String()
}

// humanRate is a per-second rate as "20.5/s".
func humanRate(s string) string {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return sig3(v) + "/s"
}

// humanRatio is a ratio 0–1 as a percentage: "12.5%".
func humanRatio(s string) string {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return sig3(v*100) + "%"
}

// sig3 writes v with three significant digits, without trailing zeros.
func sig3(v float64) string {
	out := strconv.FormatFloat(v, 'g', 3, 64)
	if strings.ContainsAny(out, "e") { // 1.23e+03: write it out
		out = strconv.FormatFloat(v, 'f', 0, 64)
	}
	return out
}

// humanAttr is an attribute's value as a page shows it, by what its name says it holds.
func humanAttr(name, value string) string {
	switch {
	case strings.HasSuffix(name, "_bytes"):
		return humanBytes(value)
	case strings.HasSuffix(name, "_seconds"):
		return humanSeconds(value)
	case strings.HasSuffix(name, "_rate"):
		return humanRate(value)
	case strings.HasSuffix(name, "_ratio"):
		return humanRatio(value)
	}
	return value
}
