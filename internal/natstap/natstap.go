// Package natstap is a wiretap on a NATS server: it subscribes to subjects, pairs requests with
// their replies (old-style unique inboxes and new-style muxed _INBOX.<id>.<token> alike), keeps
// per-subject rates, names the publishing connections from the server's monitoring endpoint, and
// decodes payloads (JSON, NestJS envelopes). Memory is bounded: a ring of recent messages, a
// capped table of pending requests and of subjects. It has no UI; views read it.
package natstap

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Kind says what a message is in a request/reply exchange.
type Kind string

const (
	Publish Kind = "pub"
	Request Kind = "req"
	Reply   Kind = "reply"
)

// Message is one message seen on the wire.
type Message struct {
	Seq       uint64        `json:"seq"`
	Time      time.Time     `json:"time"`
	Subject   string        `json:"subject"`
	Reply     string        `json:"reply,omitempty"`
	Size      int           `json:"size"`
	Header    nats.Header   `json:"headers,omitempty"`
	Data      []byte        `json:"-"`
	Truncated bool          `json:"truncated,omitempty"`
	Kind      Kind          `json:"kind"`
	PairSeq   uint64        `json:"paired_with,omitempty"` // the other half of a request/reply
	Latency   time.Duration `json:"-"`                     // on a reply, and on its request once answered
	ReqSubj   string        `json:"request_subject,omitempty"`
}

// Options configure a Tap.
type Options struct {
	URL        string        // NATS server
	Subjects   []string      // default ">"
	Monitor    string        // monitoring endpoint (http://host:8222); "" disables connection names
	Buffer     int           // messages kept for display (default 10000)
	MaxPayload int           // bytes of each payload kept (default 64 KiB)
	Pending    int           // requests awaiting a reply that are remembered (default 100000)
	OnMessage  func(Message) // called for every message, in order, on the ingest goroutine; keep it fast
}

// Tap is a running wiretap. Safe for concurrent use.
type Tap struct {
	opts  Options
	nc    *nats.Conn
	subs  []*nats.Subscription
	names *connIndex

	mu       sync.Mutex
	ring     []Message
	next     int    // ring write position
	ringSeq  uint64 // sequence number of the newest message in the ring
	filled   bool
	seq      uint64
	pending  map[string]pendingReq
	subjects map[string]*subjectStat
	received atomic.Uint64
	paused   atomic.Bool

	updates chan struct{}
	cancel  context.CancelFunc
}

type pendingReq struct {
	seq  uint64
	at   time.Time
	subj string
}

// Start connects and subscribes.
func Start(ctx context.Context, opts Options) (*Tap, error) {
	if len(opts.Subjects) == 0 {
		opts.Subjects = []string{">"}
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 10000
	}
	if opts.MaxPayload <= 0 {
		opts.MaxPayload = 64 << 10
	}
	if opts.Pending <= 0 {
		opts.Pending = 100000
	}
	nc, err := nats.Connect(opts.URL, nats.Name("launcher-tail"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", opts.URL, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	t := &Tap{opts: opts, nc: nc, ring: make([]Message, opts.Buffer), pending: map[string]pendingReq{},
		subjects: map[string]*subjectStat{}, updates: make(chan struct{}, 1), cancel: cancel}
	for _, s := range opts.Subjects {
		sub, err := nc.Subscribe(s, t.ingest)
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("subscribe %s: %w", s, err)
		}
		// a bounded client-side queue: past it the client drops and counts (see Stats)
		sub.SetPendingLimits(100000, 64<<20)
		t.subs = append(t.subs, sub)
	}
	if err := nc.Flush(); err != nil {
		t.Close()
		return nil, err
	}
	if opts.Monitor != "" {
		t.names = newConnIndex(opts.Monitor)
		go t.names.run(ctx, 2*time.Second)
	}
	return t, nil
}

// Close unsubscribes and disconnects.
func (t *Tap) Close() {
	t.cancel()
	if t.nc != nil {
		t.nc.Close()
	}
}

// Updates has a value whenever something new arrived since it was last read.
func (t *Tap) Updates() <-chan struct{} { return t.updates }

// SetPaused stops (or resumes) recording for display; counting and rates go on.
func (t *Tap) SetPaused(p bool) { t.paused.Store(p) }

// Paused reports whether display recording is paused.
func (t *Tap) Paused() bool { return t.paused.Load() }

func (t *Tap) ingest(m *nats.Msg) {
	t.received.Add(1)
	now := time.Now()
	size := len(m.Data)
	data := m.Data
	truncated := false
	if len(data) > t.opts.MaxPayload {
		data, truncated = data[:t.opts.MaxPayload:t.opts.MaxPayload], true
	}
	msg := Message{Time: now, Subject: m.Subject, Reply: m.Reply, Size: size, Header: m.Header, Data: data, Truncated: truncated, Kind: Publish}

	t.mu.Lock()
	t.seq++
	msg.Seq = t.seq
	if m.Reply != "" {
		msg.Kind = Request
		if len(t.pending) >= t.opts.Pending {
			t.expirePending(now)
		}
		if len(t.pending) < t.opts.Pending {
			t.pending[m.Reply] = pendingReq{seq: msg.Seq, at: now, subj: m.Subject}
		}
	} else if req, ok := t.pending[m.Subject]; ok {
		delete(t.pending, m.Subject)
		msg.Kind, msg.PairSeq, msg.Latency, msg.ReqSubj = Reply, req.seq, now.Sub(req.at), req.subj
		if r := t.find(req.seq); r != nil {
			r.PairSeq, r.Latency = msg.Seq, msg.Latency
		}
	}
	t.count(msg.Subject, size, now)
	if !t.paused.Load() {
		t.ringSeq = msg.Seq
		t.ring[t.next] = msg
		t.next++
		if t.next == len(t.ring) {
			t.next, t.filled = 0, true
		}
	}
	t.mu.Unlock()
	if t.opts.OnMessage != nil {
		t.opts.OnMessage(msg)
	}
	select {
	case t.updates <- struct{}{}:
	default:
	}
}

// find returns the ring slot of seq, if still held. Caller holds mu. The ring holds consecutive
// sequence numbers ending at ringSeq (a pause leaves a gap), so the slot is computed, not searched:
// this runs for every reply on the ingest path.
func (t *Tap) find(seq uint64) *Message {
	back := t.ringSeq - seq
	if seq == 0 || seq > t.ringSeq || back >= uint64(len(t.ring)) {
		return nil
	}
	idx := (t.next - 1 - int(back)) % len(t.ring)
	if idx < 0 {
		idx += len(t.ring)
	}
	if t.ring[idx].Seq != seq {
		return nil // a pause broke the run; the request is not displayed anyway
	}
	return &t.ring[idx]
}

// expirePending forgets requests older than 30 s (never answered). Caller holds mu.
func (t *Tap) expirePending(now time.Time) {
	for k, p := range t.pending {
		if now.Sub(p.at) > 30*time.Second {
			delete(t.pending, k)
		}
	}
}

// Stats are the tap's counters.
type Stats struct {
	Received uint64 // messages received from the server
	Dropped  uint64 // messages the client dropped because ingest fell behind
	Pending  int    // requests awaiting a reply
	Buffered int    // messages held for display
}

// Stats returns the counters.
func (t *Tap) Stats() Stats {
	var dropped uint64
	for _, s := range t.subs {
		if d, err := s.Dropped(); err == nil {
			dropped += uint64(d)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	buffered := t.next
	if t.filled {
		buffered = len(t.ring)
	}
	return Stats{Received: t.received.Load(), Dropped: dropped, Pending: len(t.pending), Buffered: buffered}
}

// Recent returns up to limit of the newest held messages that pass f, oldest first.
func (t *Tap) Recent(f Filter, limit int) []Message {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(t.ring)
	var out []Message
	for i, idx := 0, t.next-1; i < n && len(out) < limit; i, idx = i+1, idx-1 {
		if idx < 0 {
			if !t.filled {
				break
			}
			idx += n
		}
		m := t.ring[idx]
		if m.Seq == 0 {
			break
		}
		if f.Match(m.Subject) {
			out = append(out, m)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// ConnName names the connection that published m, when the monitoring endpoint tells: for a
// request, the one subscribed to its reply inbox; for a reply, the one serving the request's
// subject. Plain publishes cannot be attributed from the outside and have "".
func (t *Tap) ConnName(m Message) string {
	if t.names == nil {
		return ""
	}
	switch m.Kind {
	case Request:
		return t.names.subscriber(m.Reply)
	case Reply:
		return t.names.subscriber(m.ReqSubj)
	}
	return ""
}

// Filter selects subjects: included by any of Include (all when empty), and by none of Exclude.
// Patterns use NATS wildcards.
type Filter struct {
	Include []string
	Exclude []string
}

// Match reports whether subject passes the filter.
func (f Filter) Match(subject string) bool {
	if len(f.Include) > 0 {
		ok := false
		for _, p := range f.Include {
			if MatchSubject(p, subject) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, p := range f.Exclude {
		if MatchSubject(p, subject) {
			return false
		}
	}
	return true
}

// MatchSubject reports whether a subject matches a NATS pattern (`*` one token, `>` the rest).
func MatchSubject(pattern, subject string) bool {
	for {
		pt, prest, pmore := strings.Cut(pattern, ".")
		st, srest, smore := strings.Cut(subject, ".")
		switch {
		case pt == ">":
			return st != ""
		case pt != "*" && pt != st:
			return false
		case st == "":
			return false
		}
		if !pmore || !smore {
			return pmore == smore
		}
		pattern, subject = prest, srest
	}
}

// subjectStat counts messages and bytes per second over a short window.
type subjectStat struct {
	name   string
	sec    int64
	msgs   [rateWindow]uint64
	bytes  [rateWindow]uint64
	total  uint64
	totalB uint64
}

const rateWindow = 5 // seconds

// maxSubjects caps the subject table; past it, new subjects are counted as "(other)".
const maxSubjects = 5000

// rateKey folds reply inboxes, which are unique per request, into one row.
func rateKey(subject string) string {
	if strings.HasPrefix(subject, "_INBOX.") {
		return "_INBOX.>"
	}
	return subject
}

func (t *Tap) count(subject string, size int, now time.Time) {
	key := rateKey(subject)
	s := t.subjects[key]
	if s == nil {
		if len(t.subjects) >= maxSubjects {
			key = "(other)"
			s = t.subjects[key]
		}
		if s == nil {
			s = &subjectStat{name: key}
			t.subjects[key] = s
		}
	}
	sec := now.Unix()
	if sec != s.sec {
		for d := s.sec + 1; d <= sec && d <= s.sec+rateWindow; d++ {
			s.msgs[d%rateWindow], s.bytes[d%rateWindow] = 0, 0
		}
		s.sec = sec
	}
	s.msgs[sec%rateWindow]++
	s.bytes[sec%rateWindow] += uint64(size)
	s.total++
	s.totalB += uint64(size)
}

// SubjectRate is one row of the per-subject view.
type SubjectRate struct {
	Subject string  `json:"subject"`
	MsgsPS  float64 `json:"msgs_per_sec"`
	BytesPS float64 `json:"bytes_per_sec"`
	Total   uint64  `json:"total"`
	TotalB  uint64  `json:"total_bytes"`
}

// Rates returns per-subject rates over the last full seconds, busiest first.
func (t *Tap) Rates(now time.Time) []SubjectRate {
	t.mu.Lock()
	defer t.mu.Unlock()
	sec := now.Unix()
	var out []SubjectRate
	for _, s := range t.subjects {
		var m, b uint64
		// the current second is partial: average the window's full seconds
		for d := sec - rateWindow + 1; d < sec; d++ {
			if d > s.sec-rateWindow && d <= s.sec {
				m += s.msgs[d%rateWindow]
				b += s.bytes[d%rateWindow]
			}
		}
		out = append(out, SubjectRate{Subject: s.name, MsgsPS: float64(m) / (rateWindow - 1), BytesPS: float64(b) / (rateWindow - 1), Total: s.total, TotalB: s.totalB})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].MsgsPS != out[j].MsgsPS {
			return out[i].MsgsPS > out[j].MsgsPS
		}
		if out[i].Total != out[j].Total {
			return out[i].Total > out[j].Total
		}
		return out[i].Subject < out[j].Subject
	})
	return out
}
