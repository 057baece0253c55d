// Package tui holds launcher's terminal views, built with bubbletea. Views render what the engine's
// store and the NATS tap give them; they never call Docker or NATS themselves.
package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/propital/launcher/internal/natstap"
)

// TapSource is what the tail view reads; *natstap.Tap implements it.
type TapSource interface {
	Recent(f natstap.Filter, limit int) []natstap.Message
	Rates(now time.Time) []natstap.SubjectRate
	Stats() natstap.Stats
	ConnName(m natstap.Message) string
	SetPaused(bool)
	Paused() bool
}

var (
	styleHeader = lipgloss.NewStyle().Bold(true)
	styleDim    = lipgloss.NewStyle().Faint(true)
	styleSel    = lipgloss.NewStyle().Reverse(true)
	styleWarn   = lipgloss.NewStyle().Foreground(lipgloss.Color("3"))
	styleErr    = lipgloss.NewStyle().Foreground(lipgloss.Color("1"))
	styleOK     = lipgloss.NewStyle().Foreground(lipgloss.Color("2"))
)

// TailLine is the one-line form of a message: --plain output and the table's rows share it.
func TailLine(m natstap.Message, conn string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s #%d %-5s %s %dB", m.Time.Format("15:04:05.000"), m.Seq, strings.ToUpper(string(m.Kind)), m.Subject, m.Size)
	if m.Reply != "" {
		fmt.Fprintf(&b, " reply=%s", m.Reply)
	}
	if m.Kind == natstap.Reply {
		fmt.Fprintf(&b, " to=#%d(%s) in %s", m.PairSeq, m.ReqSubj, fmtLatency(m.Latency))
	}
	if conn != "" {
		fmt.Fprintf(&b, " conn=%s", conn)
	}
	if len(m.Data) > 0 {
		b.WriteString(" ")
		b.WriteString(natstap.OneLine(m.Data, 120))
	}
	return b.String()
}

func fmtLatency(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
	}
	return d.Round(10 * time.Millisecond).String()
}

type tailTick time.Time

// TailModel is the live view of `launcher tail nats`.
type TailModel struct {
	tap      TapSource
	now      func() time.Time
	width    int
	height   int
	msgs     []natstap.Message
	rates    []natstap.SubjectRate
	stats    natstap.Stats
	sel      int  // index in msgs
	follow   bool // selection sticks to the newest
	detail   bool
	subjects bool // the per-subject view
	help     bool
	filter   natstap.Filter
	input    textinput.Model
	editing  string // "", "include" or "exclude"

	// Mask hides secret values in payloads and headers shown (nil: as is); see DashboardModel.
	Mask func(string) string
}

func (m *TailModel) mask(s string) string {
	if m.Mask == nil {
		return s
	}
	return m.Mask(s)
}

// NewTailModel returns the view over tap; now is the clock (tests pin it).
func NewTailModel(tap TapSource, filter natstap.Filter, now func() time.Time) *TailModel {
	in := textinput.New()
	in.Prompt = ""
	return &TailModel{tap: tap, now: now, width: 80, height: 24, follow: true, filter: filter, input: in}
}

// RunTail runs the view on the terminal until the user quits or ctx ends; mask hides secrets.
func RunTail(ctx context.Context, tap *natstap.Tap, filter natstap.Filter, mask func(string) string) error {
	m := NewTailModel(tap, filter, time.Now)
	m.Mask = mask
	p := tea.NewProgram(m, tea.WithAltScreen(), tea.WithContext(ctx))
	_, err := p.Run()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (m *TailModel) Init() tea.Cmd { return tea.Batch(m.refresh(), tick()) }

func tick() tea.Cmd {
	return tea.Tick(150*time.Millisecond, func(t time.Time) tea.Msg { return tailTick(t) })
}

func (m *TailModel) refresh() tea.Cmd {
	return func() tea.Msg { return tailTick(m.now()) }
}

func (m *TailModel) load() {
	m.msgs = m.tap.Recent(m.filter, 2000)
	m.rates = m.tap.Rates(m.now())
	m.stats = m.tap.Stats()
	if m.follow || m.sel >= len(m.msgs) {
		m.sel = len(m.msgs) - 1
	}
}

func (m *TailModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, nil
	case tailTick:
		m.load()
		return m, tick()
	case tea.KeyMsg:
		if m.editing != "" {
			return m.updateInput(msg)
		}
		switch msg.String() {
		case "q", "ctrl+c":
			return m, tea.Quit
		case "?":
			m.help = !m.help
		case "esc":
			m.help, m.detail = false, false
		case "up", "k":
			if m.sel > 0 {
				m.sel--
			}
			m.follow = false
		case "down", "j":
			if m.sel < len(m.msgs)-1 {
				m.sel++
			}
			m.follow = m.sel == len(m.msgs)-1
		case "end", "G":
			m.sel, m.follow = len(m.msgs)-1, true
		case "enter":
			m.detail = !m.detail
		case "tab":
			m.subjects = !m.subjects
		case "p", " ":
			m.tap.SetPaused(!m.tap.Paused())
		case "/":
			m.editing = "include"
			m.input.SetValue(strings.Join(m.filter.Include, " "))
			m.input.Focus()
		case "x":
			m.editing = "exclude"
			m.input.SetValue(strings.Join(m.filter.Exclude, " "))
			m.input.Focus()
		case "c":
			m.filter = natstap.Filter{}
			m.load()
		}
	}
	return m, nil
}

func (m *TailModel) updateInput(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch k.String() {
	case "enter":
		fields := strings.Fields(m.input.Value())
		if m.editing == "include" {
			m.filter.Include = fields
		} else {
			m.filter.Exclude = fields
		}
		m.editing = ""
		m.input.Blur()
		m.load()
		return m, nil
	case "esc":
		m.editing = ""
		m.input.Blur()
		return m, nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	return m, cmd
}

// Filter returns the current subject filter.
func (m *TailModel) Filter() natstap.Filter { return m.filter }

func (m *TailModel) View() string {
	w, h := max(m.width, 20), max(m.height, 6)
	var lines []string
	state := ""
	if m.tap.Paused() {
		state = styleWarn.Render(" [paused]")
	}
	head := fmt.Sprintf("launcher tail nats — %d msgs  %d dropped  %d awaiting reply", m.stats.Received, m.stats.Dropped, m.stats.Pending)
	if m.stats.Dropped > 0 {
		head = fmt.Sprintf("launcher tail nats — %d msgs  %s  %d awaiting reply", m.stats.Received, styleErr.Render(fmt.Sprintf("%d dropped", m.stats.Dropped)), m.stats.Pending)
	}
	lines = append(lines, clip(styleHeader.Render(head)+state, w))
	if f := describeFilter(m.filter); f != "" {
		lines = append(lines, clip(styleDim.Render("filter: "+f), w))
	}
	body := h - len(lines) - 1
	switch {
	case m.help:
		lines = append(lines, helpLines(tailKeys, w)...)
	case m.subjects:
		lines = append(lines, m.subjectLines(w, body)...)
	default:
		detailH := 0
		if m.detail && m.sel >= 0 && m.sel < len(m.msgs) {
			detailH = body / 2
		}
		lines = append(lines, m.tableLines(w, body-detailH)...)
		if detailH > 0 {
			lines = append(lines, m.detailLines(w, detailH)...)
		}
	}
	for len(lines) < h-1 {
		lines = append(lines, "")
	}
	lines = lines[:h-1]
	if m.editing != "" {
		lines = append(lines, clip(fmt.Sprintf("%s subjects (NATS wildcards, space-separated): %s", m.editing, m.input.View()), w))
	} else {
		lines = append(lines, clip(styleDim.Render("↑↓ select  enter detail  tab subjects  / include  x exclude  c clear  p pause  ? help  q quit"), w))
	}
	return strings.Join(lines, "\n")
}

func describeFilter(f natstap.Filter) string {
	var parts []string
	if len(f.Include) > 0 {
		parts = append(parts, "only "+strings.Join(f.Include, ", "))
	}
	if len(f.Exclude) > 0 {
		parts = append(parts, "not "+strings.Join(f.Exclude, ", "))
	}
	return strings.Join(parts, "; ")
}

func (m *TailModel) tableLines(w, h int) []string {
	if h < 2 {
		return nil
	}
	subjW := max(12, (w-53)/2)
	replyW := max(8, w-53-subjW)
	row := func(mark, t, kind, subj, size, reply, conn, lat string) string {
		return fmt.Sprintf("%s%-12s %-5s %-*s %6s %-*s %-10s %8s", mark, t, kind, subjW, cut(subj, subjW), size, replyW, cut(reply, replyW), cut(conn, 10), lat)
	}
	out := []string{clip(styleHeader.Render(row(" ", "TIME", "KIND", "SUBJECT", "SIZE", "REPLY", "CONN", "LATENCY")), w)}
	rows := h - 1
	start := max(0, min(m.sel-rows+1, len(m.msgs)-rows))
	if m.sel < start {
		start = m.sel
	}
	for i := start; i < len(m.msgs) && i < start+rows; i++ {
		msg := m.msgs[i]
		reply := msg.Reply
		if msg.Kind == natstap.Reply {
			reply = fmt.Sprintf("↩ #%d %s", msg.PairSeq, msg.ReqSubj)
		}
		mark := " "
		if i == m.sel {
			mark = "›"
		}
		line := row(mark, msg.Time.Format("15:04:05.000"), string(msg.Kind), msg.Subject, humanBytes(msg.Size), reply, m.tap.ConnName(msg), fmtLatency(msg.Latency))
		line = clip(line, w)
		if i == m.sel {
			line = styleSel.Render(line)
		}
		out = append(out, line)
	}
	if len(m.msgs) == 0 {
		out = append(out, styleDim.Render("waiting for messages…"))
	}
	return out
}

func (m *TailModel) detailLines(w, h int) []string {
	msg := m.msgs[m.sel]
	d := natstap.Decode(msg.Data)
	out := []string{styleHeader.Render(clip(fmt.Sprintf("── #%d %s  %s  %s %s", msg.Seq, msg.Subject, humanBytes(msg.Size), d.Format, d.Note), w))}
	for k, vs := range msg.Header {
		out = append(out, clip(m.mask(fmt.Sprintf("%s: %s", k, strings.Join(vs, ", "))), w))
	}
	for _, l := range strings.Split(m.mask(d.Body), "\n") {
		out = append(out, clip(l, w))
	}
	if msg.Truncated {
		out = append(out, styleDim.Render("(payload truncated)"))
	}
	if len(out) > h {
		out = out[:h]
	}
	return out
}

func (m *TailModel) subjectLines(w, h int) []string {
	subjW := max(16, w-40)
	out := []string{clip(styleHeader.Render(fmt.Sprintf("%-*s %9s %10s %10s", subjW, "SUBJECT", "MSGS/S", "BYTES/S", "TOTAL")), w)}
	for i, r := range m.rates {
		if i >= h-1 {
			break
		}
		if !m.filter.Match(r.Subject) && r.Subject != "_INBOX.>" {
			continue
		}
		out = append(out, clip(fmt.Sprintf("%-*s %9.1f %10s %10d", subjW, cut(r.Subject, subjW), r.MsgsPS, humanBytes(int(r.BytesPS))+"/s", r.Total), w))
	}
	return out
}

var tailKeys = [][2]string{
	{"↑/↓ j/k", "select a message (the view follows the newest at the bottom)"},
	{"enter", "show or hide the detail pane: headers and the decoded payload"},
	{"tab", "switch between messages and per-subject rates"},
	{"/", "only these subjects (NATS wildcards, space-separated)"},
	{"x", "leave out these subjects"},
	{"c", "clear the filters"},
	{"p, space", "pause or resume the display (counting goes on)"},
	{"?", "this help"},
	{"q, ctrl+c", "quit"},
}

func helpLines(keys [][2]string, w int) []string {
	out := []string{styleHeader.Render("keys")}
	for _, k := range keys {
		out = append(out, clip(fmt.Sprintf("  %-12s %s", k[0], k[1]), w))
	}
	return out
}

func humanBytes(n int) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%dB", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1fK", float64(n)/1024)
	}
	return fmt.Sprintf("%.1fM", float64(n)/(1<<20))
}

// cut shortens s to n runes with an ellipsis.
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 1 {
		return string(r[:n])
	}
	return string(r[:n-1]) + "…"
}

// clip cuts a rendered line to the terminal width.
func clip(s string, w int) string {
	if lipgloss.Width(s) <= w {
		return s
	}
	return lipgloss.NewStyle().MaxWidth(w).Render(s)
}
