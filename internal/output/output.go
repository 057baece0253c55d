// Package output prints engine events for people (plain lines, coloured on a terminal) and for
// scripts (NDJSON). Printers are subscribers of the engine's Store: they never call the engine
// and a slow terminal never blocks it.
package output

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"strings"
	"time"

	"github.com/propital/launcher/internal/orchestrate"
)

// Printer writes events to W. Contract: W receives whole lines, one Write per line.
type Printer struct {
	W     io.Writer
	JSON  bool // NDJSON, one event per line
	Color bool // ANSI colours for node names
	Logs  bool // print container log lines
	width int
	last  map[string]orchestrate.State
	since map[string]time.Time
}

// Run prints what sub delivers until done is closed, then prints what is still queued.
func (p *Printer) Run(sub *orchestrate.Subscription, done <-chan struct{}) {
	p.last, p.since = map[string]orchestrate.State{}, map[string]time.Time{}
	for {
		select {
		case <-sub.Ready():
			p.drain(sub)
		case <-done:
			p.drain(sub)
			return
		}
	}
}

func (p *Printer) drain(sub *orchestrate.Subscription) {
	events, lost := sub.Next()
	if lost > 0 {
		p.line("", fmt.Sprintf("(%d events dropped: output could not keep up)", lost))
	}
	for _, e := range events {
		p.Print(e)
	}
}

// Print writes one event.
func (p *Printer) Print(e orchestrate.Event) {
	if p.JSON {
		if e.Kind == orchestrate.EvLog && !p.Logs {
			return
		}
		b, _ := json.Marshal(e)
		p.W.Write(append(b, '\n'))
		return
	}
	switch e.Kind {
	case orchestrate.EvLog:
		if p.Logs {
			p.logLine(e.Node, e.Message)
		}
	case orchestrate.EvProgress:
		if !noisy(e.Message) {
			p.line(e.Node, e.Message)
		}
	case orchestrate.EvInfo:
		p.line(e.Node, e.Message)
	case orchestrate.EvState:
		if p.last == nil {
			p.last, p.since = map[string]orchestrate.State{}, map[string]time.Time{}
		}
		prev, seen := p.last[e.Node]
		if seen && prev == e.State && e.Message == "" && e.Error == "" {
			return
		}
		if seen && prev == e.State && e.State == orchestrate.StateStarting && e.Error != "" {
			return // a failed probe attempt: the dashboard shows it live, lines would flood
		}
		p.last[e.Node] = e.State
		msg := string(e.State)
		switch e.State {
		case orchestrate.StateStarting:
			p.since[e.Node] = e.Time
		case orchestrate.StateReady:
			if t, ok := p.since[e.Node]; ok {
				msg += fmt.Sprintf(" (%s)", e.Time.Sub(t).Round(time.Millisecond))
			}
		}
		if e.Message != "" && e.State != orchestrate.StateReady {
			msg += ": " + e.Message
		}
		if e.Error != "" {
			msg += ": " + e.Error
		}
		p.line(e.Node, msg)
	}
}

// noisy progress lines are per-layer download ticks.
func noisy(s string) bool {
	for _, w := range []string{"Downloading", "Extracting", "Waiting", "Verifying", "Pulling fs layer"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

func (p *Printer) name(node string) string {
	if len(node) > p.width {
		p.width = min(len(node), 16)
	}
	s := fmt.Sprintf("%-*s", p.width, node)
	if p.Color && node != "" {
		return Colorize(node, s)
	}
	return s
}

func (p *Printer) line(node, msg string) {
	for _, l := range strings.Split(msg, "\n") {
		fmt.Fprintf(p.W, "%s %s  %s\n", time.Now().Format("15:04:05"), p.name(node), l)
	}
}

func (p *Printer) logLine(node, msg string) {
	fmt.Fprintf(p.W, "%s | %s\n", p.name(node), msg)
}

// palette are the ANSI colours (0-15) that names are shown in; both the plain printer and the
// dashboard use ColorOf, so a service has one colour everywhere.
var palette = []int{6, 2, 3, 5, 4, 9, 10, 11, 12, 13, 14}

// ColorOf is the ANSI colour (0-15) that name always gets.
func ColorOf(name string) int {
	h := fnv.New32a()
	h.Write([]byte(name))
	return palette[h.Sum32()%uint32(len(palette))]
}

// Colorize wraps s in the colour that name always gets.
func Colorize(name, s string) string {
	c := ColorOf(name)
	code := 30 + c
	if c >= 8 {
		code = 90 + c - 8
	}
	return fmt.Sprintf("\x1b[%dm%s\x1b[0m", code, s)
}
