package orchestrate

import (
	"sort"
	"sync"
	"time"
)

// State is where a node (service or infra) is in its life.
type State string

const (
	StatePending    State = "pending"
	StatePulling    State = "pulling"
	StateBuilding   State = "building"
	StateWaitingDep State = "waiting"  // for a dependency to be ready
	StateStarting   State = "starting" // created and started, probe not yet answered
	StateReady      State = "ready"
	StateUnhealthy  State = "unhealthy" // probe gave up
	StateCrashed    State = "crashed"   // exited non-zero
	StateRestarting State = "restarting"
	StateStopped    State = "stopped"
	StateRemoved    State = "removed"
	StateFailed     State = "failed" // launcher could not start it
)

// EventKind says what an Event reports.
type EventKind string

const (
	EvState    EventKind = "state"    // a node changed State
	EvProgress EventKind = "progress" // a pull or build step
	EvLog      EventKind = "log"      // a line of a container's output
	EvInfo     EventKind = "info"     // anything else worth a line
	EvStats    EventKind = "stats"    // CPU and memory of a node's containers
)

// Event is one thing that happened. Engine code publishes them; printers and views read them.
type Event struct {
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	Kind     EventKind `json:"kind"`
	Node     string    `json:"node,omitempty"`
	State    State     `json:"state,omitempty"`
	Message  string    `json:"message,omitempty"`
	Error    string    `json:"error,omitempty"`
	ExitCode *int      `json:"exit_code,omitempty"`
	OOM      bool      `json:"oom,omitempty"`
	Stderr   bool      `json:"stderr,omitempty"`
	CPU      float64   `json:"cpu_percent,omitempty"` // EvStats
	Mem      uint64    `json:"mem_bytes,omitempty"`   // EvStats
}

// NodeStatus is the store's view of one node.
type NodeStatus struct {
	Name       string    `json:"name"`
	Role       string    `json:"role"` // service or infra
	State      State     `json:"state"`
	Detail     string    `json:"detail,omitempty"` // e.g. the probe's last error
	Ports      []string  `json:"ports,omitempty"`
	Image      string    `json:"image,omitempty"`
	Restarts   int       `json:"restarts"`
	StartedAt  time.Time `json:"started_at,omitempty"`
	ExitCode   *int      `json:"exit_code,omitempty"`
	CPUPercent float64   `json:"cpu_percent,omitempty"`
	MemBytes   uint64    `json:"mem_bytes,omitempty"`
}

// Snapshot is the whole state at one point in the event sequence.
type Snapshot struct {
	Seq   uint64       `json:"seq"`
	Nodes []NodeStatus `json:"nodes"`
}

// Store folds events into state and fans them out. Publish never blocks: each subscriber has a
// bounded queue, and a subscriber that falls behind loses events (counted) and is told to read a
// fresh Snapshot instead. Safe for concurrent use.
type Store struct {
	mu    sync.Mutex
	seq   uint64
	nodes map[string]*NodeStatus
	order []string
	subs  map[*Subscription]struct{}
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{nodes: map[string]*NodeStatus{}, subs: map[*Subscription]struct{}{}}
}

// Declare registers a node so it shows in snapshots before anything happens to it.
func (s *Store) Declare(name, role, image string, ports []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.nodes[name]; !ok {
		s.order = append(s.order, name)
		s.nodes[name] = &NodeStatus{Name: name, Role: role, State: StatePending}
	}
	n := s.nodes[name]
	n.Image, n.Ports = image, ports
}

// Publish records e and delivers it to every subscriber without waiting for any.
func (s *Store) Publish(e Event) {
	s.mu.Lock()
	s.seq++
	e.Seq = s.seq
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if n := s.nodes[e.Node]; n != nil && e.Kind == EvStats {
		n.CPUPercent, n.MemBytes = e.CPU, e.Mem
	}
	if n := s.nodes[e.Node]; n != nil && e.Kind == EvState {
		if e.State == StateRestarting || (e.State == StateStarting && n.State == StateCrashed) {
			n.Restarts++
		}
		n.State, n.Detail = e.State, e.Error
		if e.Message != "" && e.Error == "" && e.State != StateReady {
			n.Detail = e.Message
		}
		if e.State == StateStarting {
			n.StartedAt = e.Time
		}
		n.ExitCode = e.ExitCode
	}
	subs := make([]*Subscription, 0, len(s.subs))
	for sub := range s.subs {
		subs = append(subs, sub)
	}
	s.mu.Unlock()
	for _, sub := range subs {
		sub.offer(e)
	}
}

// SetPorts records the ports a node actually published.
func (s *Store) SetPorts(name string, ports []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.nodes[name]; n != nil {
		n.Ports = ports
	}
}

// Snapshot returns a copy of the current state.
func (s *Store) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshotLocked()
}

func (s *Store) snapshotLocked() Snapshot {
	snap := Snapshot{Seq: s.seq}
	names := append([]string(nil), s.order...)
	sort.SliceStable(names, func(i, j int) bool {
		a, b := s.nodes[names[i]], s.nodes[names[j]]
		if a.Role != b.Role {
			return a.Role == "infra"
		}
		return a.Name < b.Name
	})
	for _, n := range names {
		st := *s.nodes[n]
		st.Ports = append([]string(nil), st.Ports...)
		snap.Nodes = append(snap.Nodes, st)
	}
	return snap
}

// Subscribe returns a subscription that starts at the current snapshot; events after it arrive
// through Next. Cancel it when done.
func (s *Store) Subscribe(queue int) (*Subscription, Snapshot) {
	if queue <= 0 {
		queue = 1024
	}
	sub := &Subscription{store: s, ready: make(chan struct{}, 1), max: queue}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs[sub] = struct{}{}
	return sub, s.snapshotLocked()
}

// Subscription is one subscriber's bounded queue.
type Subscription struct {
	store  *Store
	mu     sync.Mutex
	queue  []Event
	max    int
	lost   int
	closed bool
	ready  chan struct{} // has a value when Next would return something
}

func (sub *Subscription) offer(e Event) {
	sub.mu.Lock()
	if sub.closed {
		sub.mu.Unlock()
		return
	}
	if len(sub.queue) >= sub.max {
		sub.lost++
	} else {
		sub.queue = append(sub.queue, e)
	}
	sub.mu.Unlock()
	select {
	case sub.ready <- struct{}{}:
	default:
	}
}

// Ready has a value whenever events are waiting.
func (sub *Subscription) Ready() <-chan struct{} { return sub.ready }

// Next returns the events queued since the last call and how many were lost because the
// subscriber fell behind; after a loss, read Store.Snapshot for the current state.
func (sub *Subscription) Next() (events []Event, lost int) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	events, lost = sub.queue, sub.lost
	sub.queue, sub.lost = nil, 0
	return events, lost
}

// Cancel stops delivery.
func (sub *Subscription) Cancel() {
	sub.store.mu.Lock()
	delete(sub.store.subs, sub)
	sub.store.mu.Unlock()
	sub.mu.Lock()
	sub.closed = true
	sub.mu.Unlock()
}
