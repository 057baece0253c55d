package natstap

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/propital/launcher/internal/testenv"
)

// natsServer runs nats-server in process on loopback, with its monitoring endpoint.
func natsServer(t testing.TB) (url, monitor string) { return testenv.NATSWithMonitor(t) }

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		<-time.After(20 * time.Millisecond)
	}
}

// TestPairingLatencyAndNames: requests pair with replies for muxed and old-style inboxes, with a
// latency, and the publishers are named from connz.
func TestPairingLatencyAndNames(t *testing.T) {
	url, mon := natsServer(t)
	tap, err := Start(context.Background(), Options{URL: url, Monitor: mon})
	if err != nil {
		t.Fatal(err)
	}
	defer tap.Close()
	svc, _ := nats.Connect(url, nats.Name("auth"))
	defer svc.Close()
	svc.QueueSubscribe("auth.verify", "auth", func(m *nats.Msg) {
		time.Sleep(2 * time.Millisecond) // the latency to see (the responder's work)
		m.Respond([]byte(`{"data":{"id":"u1"}}`))
	})
	svc.Flush()
	gw, _ := nats.Connect(url, nats.Name("gateway"))
	defer gw.Close()
	legacy, _ := nats.Connect(url, nats.Name("legacy"), nats.UseOldRequestStyle())
	defer legacy.Close()
	gw.Publish("events.created", []byte("hello"))

	// connz must know the subscriptions before names resolve
	eventually(t, "connz lists the responder", func() bool {
		tap.names.refresh(context.Background())
		return tap.names.subscriber("auth.verify") == "auth"
	})
	if _, err := gw.Request("auth.verify", []byte(`{"token":"t"}`), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := legacy.Request("auth.verify", []byte(`{"token":"old"}`), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	eventually(t, "two paired replies", func() bool {
		n := 0
		for _, m := range tap.Recent(Filter{}, 100) {
			if m.Kind == Reply && m.PairSeq != 0 {
				n++
			}
		}
		return n == 2
	})
	tap.names.refresh(context.Background())
	msgs := tap.Recent(Filter{}, 100)
	bySeq := map[uint64]Message{}
	for _, m := range msgs {
		bySeq[m.Seq] = m
	}
	var styles []string
	for _, m := range msgs {
		if m.Kind != Reply {
			continue
		}
		req := bySeq[m.PairSeq]
		if req.Kind != Request || req.Reply != m.Subject || req.PairSeq != m.Seq || m.ReqSubj != "auth.verify" {
			t.Errorf("reply %+v paired with %+v", m, req)
		}
		if m.Latency < 2*time.Millisecond || req.Latency != m.Latency {
			t.Errorf("latency %s / %s", m.Latency, req.Latency)
		}
		if got := tap.ConnName(m); got != "auth" {
			t.Errorf("reply published by %q, want auth", got)
		}
		requester := tap.ConnName(req)
		styles = append(styles, requester)
		if strings.Count(req.Reply, ".") == 2 && requester != "gateway" {
			t.Errorf("muxed inbox %s named %q", req.Reply, requester)
		}
	}
	// an old-style requester's one-off inbox subscription is gone before connz can list it, so
	// only the muxed (default) style can be named after the fact
	if len(styles) != 2 || styles[0] != "gateway" {
		t.Errorf("requesters %v", styles)
	}
	if pub := msgs[0]; pub.Kind != Publish || pub.Subject != "events.created" || tap.ConnName(pub) != "" {
		t.Errorf("first message %+v", pub)
	}
	st := tap.Stats()
	if st.Received != 5 || st.Pending != 0 || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestBoundedUnderLoad: the display ring, the subject table and pending requests stay bounded.
func TestBoundedUnderLoad(t *testing.T) {
	url, _ := natsServer(t)
	seen := 0
	tap, err := Start(context.Background(), Options{URL: url, Buffer: 50, Pending: 100, OnMessage: func(Message) { seen++ }})
	if err != nil {
		t.Fatal(err)
	}
	defer tap.Close()
	nc, _ := nats.Connect(url)
	defer nc.Close()
	for i := 0; i < maxSubjects+500; i++ {
		nc.PublishMsg(&nats.Msg{Subject: fmt.Sprintf("s.%d", i), Reply: fmt.Sprintf("_INBOX.x.%d", i), Data: []byte("x")})
	}
	nc.Flush()
	eventually(t, "all received", func() bool { return tap.Stats().Received == maxSubjects+500 })
	if st := tap.Stats(); st.Buffered != 50 || st.Pending > 100 {
		t.Errorf("stats %+v", st)
	}
	if len(tap.Rates(time.Now())) > maxSubjects+1 { // + the "(other)" row
		t.Errorf("%d subject rows", len(tap.Rates(time.Now())))
	}
	if got := tap.Recent(Filter{}, 1000); len(got) != 50 || got[49].Subject != fmt.Sprintf("s.%d", maxSubjects+499) {
		t.Errorf("recent: %d, last %+v", len(got), got[len(got)-1])
	}
}

func TestRatesAndPause(t *testing.T) {
	url, _ := natsServer(t)
	tap, err := Start(context.Background(), Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer tap.Close()
	nc, _ := nats.Connect(url)
	defer nc.Close()
	for i := 0; i < 30; i++ {
		nc.Publish("busy", make([]byte, 100))
	}
	nc.Publish("quiet", []byte("1"))
	tap.SetPaused(true)
	nc.Publish("while.paused", nil)
	nc.Flush()
	eventually(t, "received", func() bool { return tap.Stats().Received == 32 })
	for _, m := range tap.Recent(Filter{}, 100) {
		if m.Subject == "while.paused" {
			t.Error("recorded while paused")
		}
	}
	// rates average whole seconds: ask as of two seconds later
	rates := tap.Rates(time.Now().Add(2 * time.Second))
	if rates[0].Subject != "busy" || rates[0].Total != 30 || rates[0].TotalB != 3000 || rates[0].MsgsPS != 30.0/(rateWindow-1) {
		t.Errorf("rates %+v", rates)
	}
}

func TestMatchSubjectAndFilter(t *testing.T) {
	for _, c := range []struct {
		p, s string
		ok   bool
	}{
		{">", "a", true}, {">", "a.b", true}, {"a.*", "a.b", true}, {"a.*", "a.b.c", false}, {"a.>", "a", false},
		{"a.>", "a.b.c", true}, {"*.b", "a.b", true}, {"a.b", "a.b", true}, {"a.b", "a.c", false}, {"a", "a.b", false},
	} {
		if MatchSubject(c.p, c.s) != c.ok {
			t.Errorf("%s ~ %s != %v", c.p, c.s, c.ok)
		}
	}
	f := Filter{Include: []string{"auth.>", "assets.*"}, Exclude: []string{"auth.verify"}}
	if !f.Match("auth.login") || f.Match("auth.verify") || !f.Match("assets.create") || f.Match("notifications.list") {
		t.Error("filter")
	}
}

func TestDecode(t *testing.T) {
	for in, want := range map[string]Decoded{
		`{"pattern":"auth.verify","data":{"token":"t"},"id":"42"}`:               {Format: "nestjs-request", Note: `pattern "auth.verify", id 42`},
		`{"response":{"ok":true},"err":null,"isDisposed":true,"id":"42"}`:        {Format: "nestjs-reply", Note: "id 42, disposed"},
		`{"err":{"status":"error","message":"nope"},"isDisposed":true,"id":"7"}`: {Format: "nestjs-reply"},
		`{"a":1}`:          {Format: "json"},
		`plain text`:       {Format: "text"},
		"\xff\xfe\x00\x01": {Format: "binary"},
	} {
		got := Decode([]byte(in))
		if got.Format != want.Format || (want.Note != "" && got.Note != want.Note) {
			t.Errorf("%q: %+v, want %+v", in, got, want)
		}
	}
	if d := Decode([]byte(`{"pattern":"x","data":{"b":2},"id":"1"}`)); !strings.Contains(d.Body, `"b": 2`) {
		t.Errorf("nestjs body %q", d.Body)
	}
}

// BenchmarkIngest measures the tap's per-message cost, without the network.
func BenchmarkIngest(b *testing.B) {
	t := &Tap{opts: Options{Buffer: 10000, MaxPayload: 64 << 10, Pending: 100000}, ring: make([]Message, 10000),
		pending: map[string]pendingReq{}, subjects: map[string]*subjectStat{}, updates: make(chan struct{}, 1)}
	msg := &nats.Msg{Subject: "assets.create", Data: make([]byte, 200)}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		t.ingest(msg)
	}
}
