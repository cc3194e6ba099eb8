package graph

import (
	"encoding/json"
	"testing"
	"time"
)

// TestAttrs: a list answers as the map it replaced did: an absent name reads "", a name is set
// once, two lists with the same facts in another order are equal, and the APIs get an object
// with sorted names.
func TestAttrs(t *testing.T) {
	var a Attrs
	a.Set("kernel_release", "6.1.0-13")
	a.SetIf("os_image", "")
	a.Set("arch", "x86_64")
	a.Set("kernel_release", "6.1.0-15")
	if a.Get("kernel_release") != "6.1.0-15" || a.Get("os_image") != "" || len(a) != 2 {
		t.Fatalf("after two sets of one name and an empty SetIf: %v", a)
	}
	if _, ok := a.Lookup("os_image"); ok {
		t.Errorf("SetIf with an empty value set it: %v", a)
	}
	a.Set("empty", "")
	if v, ok := a.Lookup("empty"); !ok || v != "" {
		t.Errorf("a name set to \"\" is not set: %v", a)
	}
	b := AttrsOf(map[string]string{"arch": "x86_64", "empty": "", "kernel_release": "6.1.0-15"})
	if !a.Equal(b) || !b.Equal(a) {
		t.Errorf("%v and %v differ", a, b)
	}
	b.Set("arch", "arm64")
	if a.Equal(b) {
		t.Errorf("%v and %v are equal", a, b)
	}
	if c := (Attrs{{"arch", "x86_64"}, {"empty", ""}}); a.Equal(c) || c.Equal(a) {
		t.Errorf("lists of different lengths are equal: %v, %v", a, c)
	}
	got, err := json.Marshal(a)
	if err != nil || string(got) != `{"arch":"x86_64","empty":"","kernel_release":"6.1.0-15"}` {
		t.Errorf("json: %s, %v", got, err)
	}
	var back Attrs
	if err := json.Unmarshal(got, &back); err != nil || !back.Equal(a) {
		t.Errorf("json back: %v, %v", back, err)
	}
	if n := a.Names(); len(n) != 3 || n[0] != "arch" || n[2] != "kernel_release" {
		t.Errorf("names %v", n)
	}
}

// TestPutCopies: Put keeps a copy, so the caller's struct (often on its stack) is not the
// graph's; the entity Put returns is.
func TestPutCopies(t *testing.T) {
	g := New(time.Time{})
	e := &Entity{Ref: Ref{Kind: Host, ID: "h"}, Name: "h"}
	in := g.Put(e)
	e.Name = "changed after"
	if got, _ := g.Get(e.Ref); got != in || got.Name != "h" || g.Place(got) != 0 {
		t.Errorf("Get = %p %q at %d, want %p %q at 0", got, got.Name, g.Place(got), in, "h")
	}
	if g.Place(e) != -1 {
		t.Errorf("the caller's struct is taken for the graph's")
	}
	// A kind nobody knows is kept apart from a known kind's id.
	odd := g.Put(&Entity{Ref: Ref{Kind: "rack", ID: "h"}})
	if got, _ := g.Get(Ref{Kind: "rack", ID: "h"}); got != odd || got == in {
		t.Errorf("an unknown kind's entity is mixed with a host of the same id")
	}
}
