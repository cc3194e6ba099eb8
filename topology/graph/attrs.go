package graph

import (
	"encoding/json"
	"iter"
	"slices"
	"strings"
)

// Attrs are an entity's facts by name, in the order they were set: a short list, not a map. A
// fleet of 10,000 hosts has 400,000 entities of about ten facts each, and a map apiece was most
// of a refresh's allocations and of its graph's memory; a list of ten is also searched faster
// than a map is hashed. A name is in it at most once. As a map's, an absent name reads "".
type Attrs []Attr

// Attr is one fact.
type Attr struct{ Name, Value string }

// AttrsOf makes Attrs of a map, sorted by name.
func AttrsOf(m map[string]string) Attrs {
	a := make(Attrs, 0, len(m))
	for k, v := range m {
		a = append(a, Attr{k, v})
	}
	a.Sort()
	return a
}

// Get is the value of name, "" when it is not set.
func (a Attrs) Get(name string) string {
	for i := range a {
		if a[i].Name == name {
			return a[i].Value
		}
	}
	return ""
}

// Lookup is the value of name and whether it is set (perhaps to "").
func (a Attrs) Lookup(name string) (string, bool) {
	for i := range a {
		if a[i].Name == name {
			return a[i].Value, true
		}
	}
	return "", false
}

// Set sets name to value, in place when it is set already.
func (a *Attrs) Set(name, value string) {
	for i := range *a {
		if (*a)[i].Name == name {
			(*a)[i].Value = value
			return
		}
	}
	*a = append(*a, Attr{name, value})
}

// SetIf sets name to value when value is not empty.
func (a *Attrs) SetIf(name, value string) {
	if value != "" {
		a.Set(name, value)
	}
}

// All yields each name and value, in the order they were set.
func (a Attrs) All() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for _, x := range a {
			if !yield(x.Name, x.Value) {
				return
			}
		}
	}
}

// Names are the names set, sorted.
func (a Attrs) Names() []string {
	out := make([]string, len(a))
	for i, x := range a {
		out[i] = x.Name
	}
	slices.Sort(out)
	return out
}

// Map is a copy as a map.
func (a Attrs) Map() map[string]string {
	m := make(map[string]string, len(a))
	for _, x := range a {
		m[x.Name] = x.Value
	}
	return m
}

// Sort orders the list by name.
func (a Attrs) Sort() {
	slices.SortFunc(a, func(x, y Attr) int { return strings.Compare(x.Name, y.Name) })
}

// Equal tells whether a and b set the same names to the same values, in whatever order.
func (a Attrs) Equal(b Attrs) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] { // one list: a refresh shares the ones that did not change
		return true
	}
	for i := range a {
		if i < len(b) && b[i] == a[i] { // the same join sets them in the same order
			continue
		}
		if v, ok := b.Lookup(a[i].Name); !ok || v != a[i].Value {
			return false
		}
	}
	return true
}

// MarshalJSON writes an object with its names sorted, as a map's: the APIs answer as they did
// when attributes were a map.
func (a Attrs) MarshalJSON() ([]byte, error) { return json.Marshal(a.Map()) }

// UnmarshalJSON reads an object, sorted by name.
func (a *Attrs) UnmarshalJSON(b []byte) error {
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*a = AttrsOf(m)
	return nil
}
