package tui

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/propital/launcher/internal/orchestrate"
	"github.com/propital/launcher/internal/output"
)

// Actions are what the dashboard's keys ask of the engine; the command implements them, so the
// view never calls Docker. Each runs off the UI loop.
type Actions interface {
	Restart(name string) error
	Rebuild(name string) error
	Stop(name string) error
	Start(name string) error
}

// QuitChoice is how the user left the dashboard.
type QuitChoice int

const (
	QuitUndecided QuitChoice = iota
	QuitStop                 // stop the stack's containers
	QuitKeep                 // leave it running
)

// LogLine is one line of a service's output as the dashboard keeps it.
type LogLine struct {
	Seq  uint64
	Time time.Time
	Node string
	Text string
}

// LogBuffer keeps the last Size lines of each node: memory is bounded however much is logged.
// Not safe for concurrent use (the dashboard's loop owns it).
type LogBuffer struct {
	Size  int
	seq   uint64
	rings map[string]*ring
}

type ring struct {
	lines []LogLine
	next  int
	full  bool
}

// NewLogBuffer keeps size lines per node.
func NewLogBuffer(size int) *LogBuffer {
	if size <= 0 {
		size = 2000
	}
	return &LogBuffer{Size: size, rings: map[string]*ring{}}
}

// Add appends a line.
func (b *LogBuffer) Add(node string, t time.Time, text string) {
	r := b.rings[node]
	if r == nil {
		r = &ring{lines: make([]LogLine, b.Size)}
		b.rings[node] = r
	}
	b.seq++
	r.lines[r.next] = LogLine{Seq: b.seq, Time: t, Node: node, Text: text}
	r.next++
	if r.next == len(r.lines) {
		r.next, r.full = 0, true
	}
}

// Lines returns the kept lines of node (all nodes when ""), oldest first.
func (b *LogBuffer) Lines(node string) []LogLine {
	var out []LogLine
	for name, r := range b.rings {
		if node != "" && name != node {
			continue
		}
		if r.full {
			out = append(out, r.lines[r.next:]...)
		}
		out = append(out, r.lines[:r.next]...)
	}
	if node == "" {
		sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	}
	return out
}

// Len is how many lines are kept in all.
func (b *LogBuffer) Len() int {
	n := 0
	for _, r := range b.rings {
		if r.full {
			n += len(r.lines)
		} else {
			n += r.next
		}
	}
	return n
}

type dashTick time.Time

type actionDone struct {
	verb, node string
	err        error
}

// DashboardModel is the live view of `launcher up`.
type DashboardModel struct {
	project string
	store   *orchestrate.Store
	sub     *orchestrate.Subscription
	actions Actions
	now     func() time.Time

	width, height int
	nodes         []orchestrate.NodeStatus
	logs          *LogBuffer
	dropped       int

	focus       int
	onlyFocused bool
	follow      bool
	wrap        bool
	timestamps  bool
	offset      int // lines scrolled up from the bottom, when not following

	filter  string
	re      *regexp.Regexp
	input   textinput.Model
	editing bool
	match   int // index of the current match among the filtered lines, -1 none

	help       bool
	quitPrompt bool
	status     string
	Choice     QuitChoice

	// Mask hides secret values in what the view shows (the same redactor as the output edge:
	// the terminal is written to directly, not through it). Nil shows text as is.
	Mask func(string) string
}

// NewDashboard subscribes to store. logLines is the ring size per service.
func NewDashboard(project string, store *orchestrate.Store, actions Actions, logLines int, now func() time.Time) *DashboardModel {
	sub, snap := store.Subscribe(1 << 16)
	in := textinput.New()
	in.Prompt = ""
	return &DashboardModel{project: project, store: store, sub: sub, actions: actions, now: now,
		width: 80, height: 24, nodes: snap.Nodes, logs: NewLogBuffer(logLines), follow: true, match: -1, input: in}
}

// Close ends the subscription.
func (m *DashboardModel) Close() { m.sub.Cancel() }

func (m *DashboardModel) Init() tea.Cmd { return dashTickCmd() }

func dashTickCmd() tea.Cmd {
	return tea.Tick(100*time.Millisecond, func(t time.Time) tea.Msg { return dashTick(t) })
}

// Drain folds what the store delivered into the view: the dashboard's only input from the engine.
func (m *DashboardModel) Drain() {
	events, lost := m.sub.Next()
	m.dropped += lost
	changed := lost > 0
	for _, e := range events {
		switch e.Kind {
		case orchestrate.EvLog:
			m.logs.Add(e.Node, e.Time, m.mask(e.Message))
		case orchestrate.EvState, orchestrate.EvStats:
			changed = true
		case orchestrate.EvInfo:
			if e.Node != "" {
				m.logs.Add(e.Node, e.Time, "» "+m.mask(e.Message))
			}
		}
	}
	if changed || len(m.nodes) == 0 {
		m.nodes = m.store.Snapshot().Nodes
	}
	if m.focus >= len(m.nodes) {
		m.focus = max(0, len(m.nodes)-1)
	}
}

func (m *DashboardModel) mask(s string) string {
	if m.Mask == nil {
		return s
	}
	return m.Mask(s)
}

func (m *DashboardModel) focused() string {
	if m.focus < len(m.nodes) {
		return m.nodes[m.focus].Name
	}
	return ""
}

func (m *DashboardModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case dashTick:
		m.Drain()
		return m, dashTickCmd()
	case actionDone:
		if msg.err != nil {
			m.status = styleErr.Render(fmt.Sprintf("%s %s: %v", msg.verb, msg.node, msg.err))
		} else {
			m.status = styleOK.Render(fmt.Sprintf("%s %s: done", msg.verb, msg.node))
		}
	case tea.KeyMsg:
		if m.editing {
			return m.updateFilter(msg)
		}
		if m.quitPrompt {
			switch msg.String() {
			case "s":
				m.Choice = QuitStop
				return m, tea.Quit
			case "k":
				m.Choice = QuitKeep
				return m, tea.Quit
			case "esc", "c", "q":
				m.quitPrompt = false
			}
			return m, nil
		}
		return m.updateKeys(msg)
	}
	return m, nil
}

func (m *DashboardModel) updateKeys(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch k.String() {
	case "q", "ctrl+c":
		m.quitPrompt = true
	case "?":
		m.help = !m.help
	case "esc":
		m.help = false
	case "up", "k":
		if m.focus > 0 {
			m.focus--
		}
	case "down", "j":
		if m.focus < len(m.nodes)-1 {
			m.focus++
		}
	case "tab", "enter":
		m.onlyFocused = !m.onlyFocused
		m.match = -1
	case "f":
		m.follow = !m.follow
		m.offset = 0
	case "w":
		m.wrap = !m.wrap
	case "t":
		m.timestamps = !m.timestamps
	case "pgup", "ctrl+u":
		m.follow = false
		m.offset += m.logHeight() / 2
	case "pgdown", "ctrl+d":
		m.offset = max(0, m.offset-m.logHeight()/2)
		if m.offset == 0 {
			m.follow = true
		}
	case "/":
		m.editing = true
		m.input.SetValue(m.filter)
		m.input.Focus()
	case "n":
		m.jump(1)
	case "N":
		m.jump(-1)
	case "r":
		return m, m.act("restart", m.actions.Restart)
	case "b":
		return m, m.act("rebuild", m.actions.Rebuild)
	case "s":
		if m.focus < len(m.nodes) && (m.nodes[m.focus].State == orchestrate.StateStopped || m.nodes[m.focus].State == orchestrate.StateCrashed) {
			return m, m.act("start", m.actions.Start)
		}
		return m, m.act("stop", m.actions.Stop)
	}
	return m, nil
}

func (m *DashboardModel) act(verb string, f func(string) error) tea.Cmd {
	node := m.focused()
	if node == "" || m.actions == nil {
		return nil
	}
	m.status = fmt.Sprintf("%s %s…", verb, node)
	return func() tea.Msg { return actionDone{verb: verb, node: node, err: f(node)} }
}

func (m *DashboardModel) updateFilter(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch k.String() {
	case "enter":
		m.SetFilter(m.input.Value())
		m.editing = false
		m.input.Blur()
		return m, nil
	case "esc":
		m.editing = false
		m.input.Blur()
		return m, nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	return m, cmd
}

// SetFilter shows only lines containing s; /s/ is a regular expression.
func (m *DashboardModel) SetFilter(s string) {
	m.filter, m.re, m.match = s, nil, -1
	if len(s) > 2 && strings.HasPrefix(s, "/") && strings.HasSuffix(s, "/") {
		if re, err := regexp.Compile(s[1 : len(s)-1]); err == nil {
			m.re = re
		} else {
			m.status = styleErr.Render("bad regular expression: " + err.Error())
		}
	}
}

func (m *DashboardModel) matches(l LogLine) bool {
	switch {
	case m.filter == "":
		return true
	case m.re != nil:
		return m.re.MatchString(l.Text)
	}
	return strings.Contains(strings.ToLower(l.Text), strings.ToLower(m.filter))
}

// visible are the log lines the pane shows (filtered, focused or all), oldest first.
func (m *DashboardModel) visible() []LogLine {
	node := ""
	if m.onlyFocused {
		node = m.focused()
	}
	all := m.logs.Lines(node)
	if m.filter == "" {
		return all
	}
	out := all[:0:0]
	for _, l := range all {
		if m.matches(l) {
			out = append(out, l)
		}
	}
	return out
}

// jump moves the view to the next (dir 1) or previous (-1) filter match and stops following.
func (m *DashboardModel) jump(dir int) {
	lines := m.visible()
	if len(lines) == 0 || m.filter == "" {
		return
	}
	if m.match < 0 {
		m.match = len(lines)
	}
	m.match = (m.match + dir + len(lines)) % len(lines)
	m.follow = false
	m.offset = len(lines) - 1 - m.match
}

func (m *DashboardModel) tableHeight() int {
	return min(len(m.nodes)+1, max(3, m.height/2))
}

func (m *DashboardModel) logHeight() int {
	return max(1, m.height-m.tableHeight()-3)
}

func (m *DashboardModel) View() string {
	w, h := max(m.width, 20), max(m.height, 8)
	ready := 0
	for _, n := range m.nodes {
		if n.State == orchestrate.StateReady {
			ready++
		}
	}
	flags := []string{}
	if !m.follow {
		flags = append(flags, "paused")
	}
	if m.wrap {
		flags = append(flags, "wrap")
	}
	if m.timestamps {
		flags = append(flags, "time")
	}
	head := fmt.Sprintf("launcher — %s  %d/%d ready", m.project, ready, len(m.nodes))
	if m.dropped > 0 {
		head += fmt.Sprintf("  (%d events dropped)", m.dropped)
	}
	if len(flags) > 0 {
		head += "  [" + strings.Join(flags, " ") + "]"
	}
	lines := []string{clip(styleHeader.Render(head), w)}
	if m.help {
		lines = append(lines, helpLines(dashKeys, w)...)
	} else {
		lines = append(lines, m.tableLines(w)...)
		lines = append(lines, m.logLines(w, h-len(lines)-1)...)
	}
	for len(lines) < h-1 {
		lines = append(lines, "")
	}
	lines = lines[:h-1]
	return strings.Join(append(lines, clip(m.footer(), w)), "\n")
}

func (m *DashboardModel) footer() string {
	switch {
	case m.quitPrompt:
		return styleWarn.Render("quit: [s] stop the stack  [k] keep it running  [esc] cancel")
	case m.editing:
		return "filter (text, or /regex/): " + m.input.View()
	case m.status != "":
		return m.status
	}
	return styleDim.Render("↑↓ focus  tab logs  / filter  n/N match  f follow  w wrap  t time  r restart  b rebuild  s stop/start  ? help  q quit")
}

func (m *DashboardModel) tableLines(w int) []string {
	nameW := 8
	for _, n := range m.nodes {
		nameW = max(nameW, len(n.Name))
	}
	nameW = min(nameW, 18)
	portsW := min(24, max(10, w-nameW-60))
	row := func(mark, name, state, ports, restarts, up, cpu, mem, detail string) string {
		return fmt.Sprintf("%s%-*s %-11s %-*s %3s %7s %6s %7s %s", mark, nameW, name, state, portsW, cut(ports, portsW), restarts, up, cpu, mem, detail)
	}
	out := []string{clip(styleHeader.Render(row(" ", "NAME", "STATE", "PORTS", "RST", "UPTIME", "CPU", "MEM", "DETAIL")), w)}
	rows := m.tableHeight() - 1
	start := max(0, min(m.focus-rows+1, len(m.nodes)-rows))
	for i := start; i < len(m.nodes) && i < start+rows; i++ {
		n := m.nodes[i]
		up, cpu, mem := "", "", ""
		if !n.StartedAt.IsZero() && (n.State == orchestrate.StateReady || n.State == orchestrate.StateStarting) {
			up = shortDuration(m.now().Sub(n.StartedAt))
		}
		if n.MemBytes > 0 {
			cpu, mem = fmt.Sprintf("%.0f%%", n.CPUPercent), humanBytes(int(n.MemBytes))
		}
		mark := " "
		if i == m.focus {
			mark = "›"
		}
		line := row(mark, cut(n.Name, nameW), string(n.State), compactPorts(n.Ports), fmt.Sprint(n.Restarts), up, cpu, mem, m.mask(strings.ReplaceAll(n.Detail, "\n", " ")))
		line = clip(line, w)
		switch n.State {
		case orchestrate.StateReady:
		case orchestrate.StateCrashed, orchestrate.StateFailed, orchestrate.StateUnhealthy:
			line = styleErr.Render(line)
		default:
			line = styleWarn.Render(line)
		}
		if i == m.focus {
			line = styleSel.Render(line)
		}
		out = append(out, line)
	}
	return out
}

func (m *DashboardModel) logLines(w, h int) []string {
	title := "logs: all"
	if m.onlyFocused {
		title = "logs: " + m.focused()
	}
	if m.filter != "" {
		title += "  filter: " + m.filter
	}
	out := []string{styleDim.Render(clip("── "+title+" "+strings.Repeat("─", max(0, w-len(title)-4)), w))}
	h--
	if h <= 0 {
		return out
	}
	lines := m.visible()
	nameW := 0
	for _, n := range m.nodes {
		nameW = max(nameW, len(n.Name))
	}
	var rendered []string
	end := len(lines)
	if !m.follow {
		end = max(0, len(lines)-m.offset)
	}
	for i := end - 1; i >= 0 && len(rendered) < h; i-- {
		l := lines[i]
		prefix := Colorize(l.Node, fmt.Sprintf("%-*s", nameW, l.Node)) + " | "
		if m.timestamps {
			prefix = l.Time.Format("15:04:05.000") + " " + prefix
		}
		text := l.Text
		if m.match >= 0 && i == m.match {
			text = styleSel.Render(text)
		}
		full := prefix + text
		if m.wrap && lipgloss.Width(full) > w {
			parts := wrapText(full, w)
			for j := len(parts) - 1; j >= 0 && len(rendered) < h; j-- {
				rendered = append(rendered, parts[j])
			}
			continue
		}
		rendered = append(rendered, clip(full, w))
	}
	for i := len(rendered) - 1; i >= 0; i-- {
		out = append(out, rendered[i])
	}
	return out
}

// compactPorts shows "127.0.0.1:5432->5432" as 5432 and "127.0.0.1:15432->5432" as 15432→5432;
// other host addresses are kept.
func compactPorts(ports []string) string {
	out := make([]string, 0, len(ports))
	for _, p := range ports {
		host, cport, ok := strings.Cut(p, "->")
		if !ok {
			out = append(out, p)
			continue
		}
		ip, hport, _ := strings.Cut(host, ":")
		s := hport
		if hport != cport {
			s = hport + "→" + cport
		}
		if ip != "127.0.0.1" {
			s = ip + ":" + s
		}
		out = append(out, s)
	}
	return strings.Join(out, ",")
}

func wrapText(s string, w int) []string {
	var out []string
	r := []rune(s)
	for len(r) > w {
		out = append(out, string(r[:w]))
		r = r[w:]
	}
	return append(out, string(r))
}

var dashKeys = [][2]string{
	{"↑/↓ j/k", "focus a service or infra"},
	{"tab, enter", "logs of all services, or of the focused one only"},
	{"/", "filter the logs: text, or /regular expression/ (empty clears)"},
	{"n / N", "jump to the next / previous match"},
	{"f", "follow the newest lines, or hold the view"},
	{"pgup/pgdn", "scroll the logs"},
	{"w", "wrap long lines"},
	{"t", "show timestamps"},
	{"r", "restart the focused service"},
	{"b", "rebuild and recreate the focused service"},
	{"s", "stop the focused service, or start it when stopped"},
	{"?", "this help"},
	{"q, ctrl+c", "quit: choose to stop the stack or keep it running"},
}

// Colorize renders s in the colour that name always gets (the plain printer's too).
func Colorize(name, s string) string {
	return lipgloss.NewStyle().Foreground(lipgloss.Color(strconv.Itoa(output.ColorOf(name)))).Render(s)
}

func shortDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// RunDashboard shows the dashboard on the terminal until the user quits (returning their choice)
// or ctx ends (QuitStop: the stack stops, as Ctrl-C does without a dashboard).
func RunDashboard(ctx context.Context, m *DashboardModel) (QuitChoice, error) {
	_, err := tea.NewProgram(m, tea.WithAltScreen(), tea.WithContext(ctx)).Run()
	if ctx.Err() != nil {
		return QuitStop, nil
	}
	return m.Choice, err
}
