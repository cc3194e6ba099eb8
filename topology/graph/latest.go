package graph

import (
	"sync"
	"time"
)

// Latest keeps values computed over the graphs of the latest refresh (a graph and the views
// of it that roles with a scope see, each a graph of its own, all of one time), so that what a
// page or a role computes over a fleet is computed once per refresh, and a refresh lets the
// last one's graphs go: a fleet's graph is gigabytes. A graph of a past time is computed for
// and not kept. A graph is never changed once made: its pointer is its version.
type Latest[K comparable, V any] struct {
	mu   sync.Mutex
	at   time.Time
	vals map[*Graph]map[K]V
}

// latestGraphs bounds the graphs of one time a Latest keeps (the graph and its views).
const latestGraphs = 16

// Get is f's value for g and key, computed once while g is of the latest time. Two callers that
// miss at once both compute: neither waits on the other's lock while f walks the fleet.
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
	switch {
	case g.At.Before(l.at):
		return v // a past graph: not kept
	case g.At.After(l.at) || l.vals == nil || (l.vals[g] == nil && len(l.vals) == latestGraphs):
		l.at, l.vals = g.At, map[*Graph]map[K]V{}
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
