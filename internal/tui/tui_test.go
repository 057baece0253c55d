package tui

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"
	"github.com/nats-io/nats.go"
	"github.com/propital/launcher/internal/natstap"
	"github.com/propital/launcher/internal/orchestrate"
)

// update is the -update flag (registered by teatest's golden package): rewrite the golden files.
func update() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

func TestMain(m *testing.M) {
	lipgloss.SetColorProfile(termenv.Ascii) // goldens hold text, not escape codes
	os.Exit(m.Run())
}

var t0 = time.Date(2026, 12, 4, 15, 4, 5, 0, time.UTC)

func fixedNow() time.Time { return t0.Add(90 * time.Second) }

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if update() {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/tui -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (run with -update if the change is intended)\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

var sizes = [][2]int{{80, 24}, {140, 40}}

// fakeTap is a fixed TapSource.
type fakeTap struct {
	msgs   []natstap.Message
	paused bool
}

func (f *fakeTap) Recent(fl natstap.Filter, limit int) []natstap.Message {
	var out []natstap.Message
	for _, m := range f.msgs {
		if fl.Match(m.Subject) {
			out = append(out, m)
		}
	}
	return out
}
func (f *fakeTap) Rates(time.Time) []natstap.SubjectRate {
	return []natstap.SubjectRate{{Subject: "auth.verify", MsgsPS: 120.5, BytesPS: 9800, Total: 5321, TotalB: 420000},
		{Subject: "_INBOX.>", MsgsPS: 118, BytesPS: 4100, Total: 5300, TotalB: 190000},
		{Subject: "notifications.created.u1", MsgsPS: 0.5, BytesPS: 210, Total: 7, TotalB: 2900}}
}
func (f *fakeTap) Stats() natstap.Stats {
	return natstap.Stats{Received: 10654, Dropped: 0, Pending: 1, Buffered: len(f.msgs)}
}
func (f *fakeTap) ConnName(m natstap.Message) string {
	switch m.Kind {
	case natstap.Request:
		return "gateway"
	case natstap.Reply:
		return "auth"
	}
	return ""
}
func (f *fakeTap) SetPaused(p bool) { f.paused = p }
func (f *fakeTap) Paused() bool     { return f.paused }

func sampleTap() *fakeTap {
	h := nats.Header{}
	h.Set("X-Request-Id", "3f9a")
	return &fakeTap{msgs: []natstap.Message{
		{Seq: 1, Time: t0, Subject: "auth.verify", Reply: "_INBOX.k2Jd9.1", Size: 38, Kind: natstap.Request, PairSeq: 2, Latency: 1200 * time.Microsecond, Header: h, Data: []byte(`{"token":"eyJhbGciOi"}`)},
		{Seq: 2, Time: t0.Add(1200 * time.Microsecond), Subject: "_INBOX.k2Jd9.1", Size: 61, Kind: natstap.Reply, PairSeq: 1, ReqSubj: "auth.verify", Latency: 1200 * time.Microsecond, Data: []byte(`{"data":{"id":"u1","email":"ana@example.com"}}`)},
		{Seq: 3, Time: t0.Add(5 * time.Millisecond), Subject: "assets.create", Reply: "_INBOX.k2Jd9.2", Size: 120, Kind: natstap.Request, Data: []byte(`{"pattern":"assets.create","data":{"type":"House","value":250000},"id":"7"}`)},
		{Seq: 4, Time: t0.Add(9 * time.Millisecond), Subject: "notifications.created.u1", Size: 210, Kind: natstap.Publish, Data: []byte(`{"id":"n1","title":"Created: 1 Main St"}`)},
	}}
}

func TestTailGoldens(t *testing.T) {
	states := map[string]func(m *TailModel){
		"messages": func(m *TailModel) {},
		"detail":   func(m *TailModel) { m.sel = 2; m.follow = false; m.detail = true },
		"subjects": func(m *TailModel) { m.subjects = true },
		"paused-filtered": func(m *TailModel) {
			m.tap.SetPaused(true)
			m.filter = natstap.Filter{Include: []string{"auth.>", "_INBOX.>"}, Exclude: []string{"auth.login"}}
			m.load()
		},
		"help": func(m *TailModel) { m.help = true },
	}
	for name, set := range states {
		for _, sz := range sizes {
			m := NewTailModel(sampleTap(), natstap.Filter{}, fixedNow)
			m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
			m.load()
			set(m)
			golden(t, fmt.Sprintf("tail-%s-%dx%d", name, sz[0], sz[1]), m.View())
		}
	}
}

// sampleStore is a stack in the middle of coming up, with some output.
func sampleStore() *orchestrate.Store {
	s := orchestrate.NewStore()
	s.Declare("postgres", "infra", "postgres:16", []string{"127.0.0.1:5432->5432"})
	s.Declare("nats", "infra", "nats:2.10", []string{"127.0.0.1:4222->4222", "127.0.0.1:8222->8222"})
	s.Declare("gateway", "service", "launcher/propital-gateway:dev", []string{"127.0.0.1:3000->3000"})
	s.Declare("assets", "service", "launcher/propital-assets:dev", nil)
	s.Publish(orchestrate.Event{Time: t0, Kind: orchestrate.EvState, Node: "nats", State: orchestrate.StateReady})
	s.Publish(orchestrate.Event{Time: t0, Kind: orchestrate.EvState, Node: "postgres", State: orchestrate.StateStarting})
	s.Publish(orchestrate.Event{Time: t0, Kind: orchestrate.EvState, Node: "postgres", State: orchestrate.StateReady})
	s.Publish(orchestrate.Event{Time: t0, Kind: orchestrate.EvStats, Node: "postgres", CPU: 3.2, Mem: 48 << 20})
	s.Publish(orchestrate.Event{Time: t0, Kind: orchestrate.EvState, Node: "assets", State: orchestrate.StateStarting, Error: "dial tcp 127.0.0.1:8080: connection refused"})
	code := 2
	s.Publish(orchestrate.Event{Time: t0, Kind: orchestrate.EvState, Node: "gateway", State: orchestrate.StateCrashed, ExitCode: &code, Message: "exited with code 2"})
	return s
}

func sampleDashboard(t *testing.T) *DashboardModel {
	store := sampleStore()
	m := NewDashboard("propital", store, nil, 100, fixedNow)
	t.Cleanup(m.Close)
	for i, l := range []struct{ node, text string }{
		{"postgres", "database system is ready to accept connections"},
		{"nats", "[INF] Server is ready"},
		{"assets", `{"level":"INFO","msg":"migrations","applied":1}`},
		{"gateway", `{"level":"ERROR","msg":"http","err":"listen tcp :3000: bind: address already in use, and a long tail of text that needs wrapping"}`},
		{"assets", `{"level":"INFO","msg":"handled","subject":"assets.create","result":"ok"}`},
		{"gateway", `{"level":"INFO","msg":"started"}`},
	} {
		store.Publish(orchestrate.Event{Time: t0.Add(time.Duration(i) * time.Second), Kind: orchestrate.EvLog, Node: l.node, Message: l.text})
	}
	m.Drain()
	return m
}

func TestDashboardGoldens(t *testing.T) {
	states := map[string]func(m *DashboardModel){
		"all-logs":     func(m *DashboardModel) {},
		"focused":      func(m *DashboardModel) { m.focus = 3; m.onlyFocused = true },
		"filter-regex": func(m *DashboardModel) { m.SetFilter("/level\":\"(ERROR|WARN)/") },
		"wrap-time":    func(m *DashboardModel) { m.wrap, m.timestamps = true, true },
		"help":         func(m *DashboardModel) { m.help = true },
		"quit-prompt":  func(m *DashboardModel) { m.quitPrompt = true },
		"match-jump":   func(m *DashboardModel) { m.SetFilter("info"); m.jump(-1); m.jump(-1) },
	}
	for name, set := range states {
		for _, sz := range sizes {
			m := sampleDashboard(t)
			m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
			set(m)
			golden(t, fmt.Sprintf("dashboard-%s-%dx%d", name, sz[0], sz[1]), m.View())
		}
	}
}

func TestLogBufferIsBounded(t *testing.T) {
	b := NewLogBuffer(10)
	for i := 0; i < 1000; i++ {
		b.Add([]string{"a", "b", "c"}[i%3], t0, fmt.Sprint(i))
	}
	if b.Len() != 30 {
		t.Errorf("kept %d lines", b.Len())
	}
	all := b.Lines("")
	if all[len(all)-1].Text != "999" || all[0].Seq > all[1].Seq {
		t.Errorf("order: first %+v last %+v", all[0], all[len(all)-1])
	}
	if got := b.Lines("a"); len(got) != 10 || got[9].Text != "999" {
		t.Errorf("a: %d lines, last %+v", len(got), got[len(got)-1])
	}
}

type recordActions struct{ calls chan string }

func (r recordActions) Restart(n string) error { r.calls <- "restart " + n; return nil }
func (r recordActions) Rebuild(n string) error { r.calls <- "rebuild " + n; return nil }
func (r recordActions) Stop(n string) error    { r.calls <- "stop " + n; return nil }
func (r recordActions) Start(n string) error   { r.calls <- "start " + n; return nil }

func typeText(tm *teatest.TestModel, s string) {
	for _, r := range s {
		tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
}

// TestDashboardKeys drives the dashboard like a person: filter, focus, an action, the quit prompt.
func TestDashboardKeys(t *testing.T) {
	m := sampleDashboard(t)
	acts := recordActions{calls: make(chan string, 4)}
	m.actions = acts
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30))
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'/'}})
	typeText(tm, "ready")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("filter: ready")) }, teatest.WithDuration(5*time.Second))
	tm.Send(tea.KeyMsg{Type: tea.KeyDown}) // focus the second row
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'r'}})
	select {
	case c := <-acts.calls:
		if c != "restart postgres" {
			t.Errorf("action %q", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("restart was not asked")
	}
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'q'}})
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("[k] keep it running")) }, teatest.WithDuration(5*time.Second))
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'k'}})
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	final := tm.FinalModel(t).(*DashboardModel)
	if final.Choice != QuitKeep || final.filter != "ready" || final.focus != 1 {
		t.Errorf("choice %v filter %q focus %d", final.Choice, final.filter, final.focus)
	}
}

// TestTailKeys: filter, pause, detail, and quit.
func TestTailKeys(t *testing.T) {
	tap := sampleTap()
	m := NewTailModel(tap, natstap.Filter{}, fixedNow)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 30))
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'/'}})
	typeText(tm, "assets.*")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'p'}})
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		return bytes.Contains(b, []byte("[paused]")) && bytes.Contains(b, []byte("only assets.*"))
	}, teatest.WithDuration(5*time.Second))
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("nestjs-request")) }, teatest.WithDuration(5*time.Second))
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'q'}})
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	final := tm.FinalModel(t).(*TailModel)
	if !tap.paused || strings.Join(final.Filter().Include, ",") != "assets.*" {
		t.Errorf("paused %v filter %+v", tap.paused, final.Filter())
	}
}

// BenchmarkLogFanIn: log lines from the engine's store into the dashboard model.
func BenchmarkLogFanIn(b *testing.B) {
	store := orchestrate.NewStore()
	for _, n := range []string{"gateway", "auth", "assets", "notifications"} {
		store.Declare(n, "service", "", nil)
	}
	m := NewDashboard("bench", store, nil, 2000, time.Now)
	defer m.Close()
	nodes := []string{"gateway", "auth", "assets", "notifications"}
	line := `{"time":"2026-12-04T15:04:05Z","level":"INFO","msg":"handled","subject":"assets.create","ms":3}`
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		store.Publish(orchestrate.Event{Kind: orchestrate.EvLog, Node: nodes[i%4], Message: line})
		if i%1000 == 999 {
			m.Drain()
		}
	}
	m.Drain()
	if m.logs.Len() > 4*2000 {
		b.Fatalf("kept %d lines", m.logs.Len())
	}
}

// TestViewsMaskSecrets: what the views show goes through the mask, as everything printed does.
func TestViewsMaskSecrets(t *testing.T) {
	mask := func(s string) string { return strings.ReplaceAll(s, "hunter22", "********") }
	store := orchestrate.NewStore()
	store.Declare("api", "service", "", nil)
	m := NewDashboard("p", store, nil, 10, fixedNow)
	defer m.Close()
	m.Mask = mask
	store.Publish(orchestrate.Event{Kind: orchestrate.EvLog, Node: "api", Message: "connecting to postgres://api:hunter22@postgres/api"})
	store.Publish(orchestrate.Event{Kind: orchestrate.EvState, Node: "api", State: orchestrate.StateStarting, Error: "auth failed for hunter22"})
	m.Drain()
	if v := m.View(); strings.Contains(v, "hunter22") || !strings.Contains(v, "postgres://api:********@postgres") {
		t.Errorf("dashboard shows a secret:\n%s", v)
	}
	tap := sampleTap()
	tap.msgs[0].Data = []byte(`{"token":"hunter22"}`)
	tm := NewTailModel(tap, natstap.Filter{}, fixedNow)
	tm.Mask = mask
	tm.load()
	tm.sel, tm.follow, tm.detail = 0, false, true
	if v := tm.View(); strings.Contains(v, "hunter22") {
		t.Errorf("tail view shows a secret:\n%s", v)
	}
}
