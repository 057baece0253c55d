package orchestrate

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestSlowSubscriberNeverBlocks: a subscriber that never reads loses events (counted) while
// publishers carry on, and a resync reads the snapshot.
func TestSlowSubscriberNeverBlocks(t *testing.T) {
	s := NewStore()
	s.Declare("a", "service", "img", nil)
	slow, _ := s.Subscribe(10)
	fast, _ := s.Subscribe(1 << 20)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10000; i++ {
				s.Publish(Event{Kind: EvLog, Node: "a", Message: fmt.Sprint(i)})
			}
		}()
	}
	wg.Wait()
	s.Publish(Event{Kind: EvState, Node: "a", State: StateReady})
	evs, lost := slow.Next()
	if len(evs) != 10 || lost != 40001-10 {
		t.Errorf("slow: %d events, %d lost", len(evs), lost)
	}
	if evs, lost := fast.Next(); len(evs) != 40001 || lost != 0 {
		t.Errorf("fast: %d events, %d lost", len(evs), lost)
	}
	if snap := s.Snapshot(); snap.Nodes[0].State != StateReady || snap.Seq != 40001 {
		t.Errorf("snapshot %+v", snap)
	}
	slow.Cancel()
	s.Publish(Event{Kind: EvInfo})
	if evs, _ := slow.Next(); len(evs) != 0 {
		t.Error("a cancelled subscription still receives")
	}
}

func TestStoreFoldsState(t *testing.T) {
	s := NewStore()
	s.Declare("db", "infra", "pg", []string{"127.0.0.1:1->5432"})
	s.Declare("api", "service", "api", nil)
	s.Publish(Event{Kind: EvState, Node: "db", State: StateStarting, Error: "connection refused"})
	code := 1
	s.Publish(Event{Kind: EvState, Node: "api", State: StateCrashed, ExitCode: &code})
	s.Publish(Event{Kind: EvState, Node: "api", State: StateRestarting})
	snap := s.Snapshot()
	if snap.Nodes[0].Name != "db" || snap.Nodes[0].Detail != "connection refused" || snap.Nodes[0].StartedAt.IsZero() {
		t.Errorf("db %+v", snap.Nodes[0])
	}
	if snap.Nodes[1].Restarts != 1 || snap.Nodes[1].State != StateRestarting {
		t.Errorf("api %+v", snap.Nodes[1])
	}
}

func BenchmarkPublish(b *testing.B) {
	s := NewStore()
	s.Declare("a", "service", "", nil)
	sub, _ := s.Subscribe(1 << 16)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-sub.Ready():
				sub.Next()
			case <-done:
				return
			}
		}
	}()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s.Publish(Event{Kind: EvLog, Node: "a", Message: "line", Time: time.Time{}})
	}
	close(done)
}
