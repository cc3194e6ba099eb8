package graph

import (
	"sync"
	"time"
)

// Latest keeps values computed over the graphs of the latest refresh (a graph and the views
// of it that roles with a scope see, each a graph of its own, all of its time), so that what a
// page or a role computes over a fleet is computed once per refresh, and a refresh lets the
// last one's graphs go: a fleet's graph is gigabytes. Which refresh is the latest the refresh
// loop says (Advance): a graph read back from the history is of another time, even a later one
// (the graph "now" of a diff), and is computed for, not kept. A graph is never changed once
// made: its pointer is its version.
type Latest[K comparable, V any] struct {
	mu   sync.Mutex
	at   time.Time // the latest refresh's; zero before the first Advance: nothing is kept
	vals map[*Graph]map[K]V
}

// latestGraphs bounds the graphs of one time a Latest keeps (the graph and its views).
const latestGraphs = 16

// Advance says g is the latest refresh's graph: the values of the last one's go.
func (l *Latest[K, V]) Advance(g *Graph) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !g.At.Equal(l.at) {
		l.at, l.vals = g.At, nil
	}
}

// Get is f's value for g and key, computed once while g is of the latest refresh. Two callers
// that miss at once both compute: neither waits on the other's lock while f walks the fleet.
func (l *Latest[K, V]) Get(g *Graph, key K, f func() V) V {
	l.mu.Lock()
	if v, ok := l.vals[g][key]; ok {
		l.mu.Unlock()
		return v
	}
	l.mu.Unlock()
	v := f()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.at.IsZero() || !g.At.Equal(l.at) {
		return v // not of the latest refresh: not kept
	}
	if l.vals == nil || (l.vals[g] == nil && len(l.vals) == latestGraphs) {
		l.vals = map[*Graph]map[K]V{}
	}
	if l.vals[g] == nil {
		l.vals[g] = map[K]V{}
	}
	l.vals[g][key] = v
	return v
}

// holds tells whether g's values are kept, for tests.
func (l *Latest[K, V]) holds(g *Graph) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.vals[g]
	return ok
}
