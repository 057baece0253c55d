package orchestrate

import (
	"context"
	"sync"
)

// The daemon sets up containers' networking one at a time, roughly in the order starts arrive,
// so the first wave of an `up` (nodes that wait for nothing) starts slowest-to-ready first:
// postgres runs initdb while the others are still being wired. A turnstile orders only the
// start calls; nothing waits for another node's readiness here.
type turnstile struct {
	mu     sync.Mutex
	order  []string
	weight map[string]int
	done_  map[string]bool
	cond   chan struct{} // closed and replaced whenever a turn is done
}

// startWeight: lower starts earlier.
func startWeight(n *Node) int {
	switch n.Kind {
	case "postgres":
		return 0
	case "mongo":
		return 1
	case "container":
		return 2
	case "nats", "redis":
		return 3
	}
	return 4
}

func newTurnstile(pl *Plan, sel map[string]bool) *turnstile {
	t := &turnstile{weight: map[string]int{}, done_: map[string]bool{}, cond: make(chan struct{})}
	for _, n := range pl.Order {
		if sel[n] && len(pl.Nodes[n].Deps) == 0 {
			t.order = append(t.order, n)
			t.weight[n] = startWeight(pl.Nodes[n])
		}
	}
	return t
}

// wait blocks until every first-wave node of a lower weight has had its start call answered.
// Nodes outside the first wave never wait.
func (t *turnstile) wait(ctx context.Context, name string) {
	if t == nil {
		return
	}
	for {
		t.mu.Lock()
		ready := true
		w, in := t.weight[name]
		for _, n := range t.order {
			if in && t.weight[n] < w && !t.done_[n] {
				ready = false
				break
			}
		}
		ch := t.cond
		t.mu.Unlock()
		if ready {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

// done marks name's start call as answered (or abandoned). Idempotent.
func (t *turnstile) done(name string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done_[name] {
		return
	}
	t.done_[name] = true
	close(t.cond)
	t.cond = make(chan struct{})
}
