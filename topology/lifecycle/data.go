// Package lifecycle knows when OS releases stop being supported: the data shipped with strata
// (os-support.csv, read offline, every row with its source and the day it was taken), or a
// file of the same columns that replaces it (lifecycle.data_file). A Policy holds hosts to
// their OS's support end and to rules (a minimum kernel per OS release, banned kernels, the
// age of a kernel, a reboot pending too long) and images to rules on their references, and
// says for each rule ok, warn, fail or unknown, and why.
package lifecycle

import (
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

//go:embed os-support.csv
var shipped string

// ShippedName names the shipped data in errors and on pages.
const ShippedName = "os-support.csv (built in)"

// Release is one OS release's support, a row of the data.
type Release struct {
	OSID, VersionID, Name   string
	SupportEnd, ExtendedEnd time.Time // ExtendedEnd is zero when the release has no extended support
	Source                  string
	Recorded                time.Time
	Line                    int // in File
	File                    string
	// Where says where the row stands and what it rests on, for reasons and attributes:
	// "os-support.csv (built in):13 (distro-info-data …, recorded 2026-12-07)".
	Where string
}

// Data is the releases by os-release ID and VERSION_ID.
type Data struct {
	File     string
	releases map[[2]string]Release
}

// The columns of the data, in order.
var columns = []string{"os_id", "version_id", "name", "support_end", "extended_end", "source", "recorded"}

// Bounds of a data file: far more than every release of every distribution.
const (
	MaxDataBytes = 4 << 20
	maxReleases  = 20000
)

// Shipped is the data shipped with strata.
func Shipped() *Data { return shippedData() }

// shippedData parses the shipped data once.
var shippedData = sync.OnceValue(func() *Data {
	d, err := ParseData(strings.NewReader(shipped), ShippedName)
	if err != nil {
		panic("the shipped lifecycle data: " + err.Error()) // TestShippedData keeps it valid
	}
	return d
})

// ParseData reads the CSV of lifecycle data: # comments, the header of the columns above, then
// one release a line. Every error names the file and line, and the column, never its content.
func ParseData(r io.Reader, file string) (*Data, error) {
	lr := &io.LimitedReader{R: r, N: MaxDataBytes + 1}
	cr := csv.NewReader(lr)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1 // counted here, after the header's own check
	cr.ReuseRecord = true
	d := &Data{File: file, releases: map[[2]string]Release{}}
	header := true
	for {
		rec, err := cr.Read()
		if lr.N <= 0 {
			return nil, fmt.Errorf("%s: more than %d MiB: not lifecycle data", file, MaxDataBytes>>20)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("%s:%d: %s", file, pe.Line, describeCSVError(pe))
			}
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		line, _ := cr.FieldPos(0)
		if header {
			if !slices.Equal(rec, columns) {
				return nil, fmt.Errorf("%s:%d: the header must be %s", file, line, strings.Join(columns, ","))
			}
			header = false
			continue
		}
		if len(rec) != len(columns) {
			return nil, fmt.Errorf("%s:%d: want %d columns (%s)", file, line, len(columns), strings.Join(columns, ","))
		}
		rel, err := parseRelease(rec)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, line, err)
		}
		rel.Line, rel.File = line, file
		rel.Where = fmt.Sprintf("%s:%d (%s, recorded %s)", file, line, rel.Source, rel.Recorded.Format(time.DateOnly))
		key := [2]string{rel.OSID, rel.VersionID}
		if old, ok := d.releases[key]; ok {
			return nil, fmt.Errorf("%s:%d: %s %s again (line %d has it)", file, line, rel.OSID, rel.VersionID, old.Line)
		}
		if len(d.releases) >= maxReleases {
			return nil, fmt.Errorf("%s:%d: more than %d releases", file, line, maxReleases)
		}
		d.releases[key] = rel
	}
	if header {
		return nil, fmt.Errorf("%s: no header: the first line that is not a comment must be %s", file, strings.Join(columns, ","))
	}
	return d, nil
}

// describeCSVError says what is wrong with a line without quoting it.
func describeCSVError(pe *csv.ParseError) string {
	if errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote) {
		return fmt.Sprintf("byte %d: a quote out of place", pe.Column)
	}
	return "not CSV"
}

func parseRelease(rec []string) (Release, error) {
	rel := Release{OSID: rec[0], VersionID: rec[1], Name: rec[2], Source: rec[5]}
	for _, c := range []int{0, 1, 5} { // os_id, version_id, source
		if v := rec[c]; v == "" || strings.TrimSpace(v) != v {
			return Release{}, fmt.Errorf("%s is empty or has blanks around it", columns[c])
		}
	}
	var err error
	if rel.SupportEnd, err = date(rec[3], "support_end"); err != nil {
		return Release{}, err
	}
	if rec[4] != "" {
		if rel.ExtendedEnd, err = date(rec[4], "extended_end"); err != nil {
			return Release{}, err
		}
		if rel.ExtendedEnd.Before(rel.SupportEnd) {
			return Release{}, errors.New("extended_end is before support_end")
		}
	}
	if rel.Recorded, err = date(rec[6], "recorded"); err != nil {
		return Release{}, err
	}
	return rel, nil
}

func date(s, column string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s is not a date (YYYY-MM-DD)", column)
	}
	return t, nil
}

// Lookup is the release of an os-release ID and VERSION_ID: the row of that version, else the
// row of its major version (rhel 9 for 9.4; not for Ubuntu's 24.04, whose row names it whole).
func (d *Data) Lookup(osID, versionID string) (Release, bool) {
	if rel, ok := d.releases[[2]string{osID, versionID}]; ok {
		return rel, true
	}
	if major, _, ok := strings.Cut(versionID, "."); ok {
		rel, ok := d.releases[[2]string{osID, major}]
		return rel, ok
	}
	return Release{}, false
}

// Len is the number of releases.
func (d *Data) Len() int { return len(d.releases) }
