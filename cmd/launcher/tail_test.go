package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/propital/launcher/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe to read while launcher writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tailOutput runs `launcher tail nats` against an in-process nats-server with monitoring, sends
// a request/reply pair and a publish, and returns the output lines once the reply line is there.
func tailOutput(t *testing.T, mode string) []string {
	natsURL, monitor := testenv.NATSWithMonitor(t)
	svc, _ := nats.Connect(natsURL, nats.Name("auth"))
	defer svc.Close()
	svc.QueueSubscribe("auth.verify", "auth", func(m *nats.Msg) { m.Respond([]byte(`{"data":{"id":"u1"}}`)) })
	svc.Flush()
	out, errb := &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		f := newFactory(strings.NewReader(""), out, errb, noEnv)
		done <- run(ctx, f, []string{"tail", "nats", "--server", natsURL, "--monitor", monitor, mode, "--exclude", "ignored.>,warm.>"})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(errb.String(), "listening on") {
		if time.Now().After(deadline) {
			t.Fatalf("tail did not start: %s", errb.String())
		}
		<-time.After(10 * time.Millisecond)
	}
	cli, _ := nats.Connect(natsURL, nats.Name("gateway"))
	defer cli.Close()
	// a client's reply inbox exists from its first request on; a long-lived service has made one
	cli.Request("warm.up", nil, 100*time.Millisecond)
	<-time.After(2500 * time.Millisecond) // let the tap's connz poll see the clients' subscriptions
	cli.Publish("ignored.x", []byte("no"))
	cli.Publish("events.created", []byte(`{"id":"n1"}`))
	if _, err := cli.Request("auth.verify", []byte(`{"token":"t"}`), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	for strings.Count(out.String(), "\n") < 3 {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatalf("output so far:\n%s", out.String())
		}
		<-time.After(20 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "messages in") {
		t.Errorf("no summary: %s", errb.String())
	}
	return strings.Split(strings.TrimSpace(out.String()), "\n")
}

func TestTailNatsPlain(t *testing.T) {
	lines := tailOutput(t, "--plain")
	if len(lines) != 3 {
		t.Fatalf("lines:\n%s", strings.Join(lines, "\n"))
	}
	for i, want := range []string{
		`#3 PUB   events.created 11B {"id":"n1"}`,
		`#4 REQ   auth.verify 13B reply=_INBOX.`,
		`#5 REPLY _INBOX.`,
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %q, want %q", i, lines[i], want)
		}
	}
	if !strings.Contains(lines[1], "conn=gateway") || !strings.Contains(lines[2], "to=#4(auth.verify) in ") || !strings.Contains(lines[2], "conn=auth") {
		t.Errorf("pairing or names missing:\n%s\n%s", lines[1], lines[2])
	}
}

func TestTailNatsJSON(t *testing.T) {
	lines := tailOutput(t, "--json")
	var got []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		got = append(got, m)
	}
	if len(got) != 3 || got[0]["kind"] != "pub" || got[1]["kind"] != "req" || got[2]["kind"] != "reply" {
		t.Fatalf("kinds: %v", got)
	}
	req, rep := got[1], got[2]
	if rep["paired_with"] != req["seq"] || req["paired_with"] != nil && req["paired_with"] != rep["seq"] {
		t.Errorf("pairing: req %v reply %v", req, rep)
	}
	if lat, _ := rep["latency_ms"].(float64); lat <= 0 || rep["request_subject"] != "auth.verify" || rep["conn"] != "auth" || req["conn"] != "gateway" {
		t.Errorf("reply %v / request %v", rep, req)
	}
	if req["payload"] != `{"token":"t"}` || req["format"] != "json" || req["reply"] != rep["subject"] {
		t.Errorf("request %v", req)
	}
	_ = fmt.Sprint
}
