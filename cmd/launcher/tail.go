package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/propital/launcher/internal/natstap"
	"github.com/propital/launcher/internal/tui"
	"github.com/spf13/cobra"
)

type tailNatsOptions struct {
	server   string
	monitor  string
	plain    bool
	json     bool
	exclude  []string
	buffer   int
	count    bool
	subjects []string
}

func newTailCmd(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Watch what flows between the services",
		Args:  noArgs,
	}
	cmd.AddCommand(newTailNatsCmd(f))
	return cmd
}

func newTailNatsCmd(f *factory) *cobra.Command {
	opts := &tailNatsOptions{}
	cmd := &cobra.Command{
		Use:   "nats [SUBJECT...]",
		Short: "Show the live NATS traffic of the stack: requests paired with replies, rates, payloads",
		Long: `Subscribe to SUBJECTs (default ">") on the stack's NATS, or --server, and show every message:
time, subject, size, reply subject and the publishing connection's name (from the server's
monitoring endpoint). Requests are paired with their replies, with the latency.

On a terminal it is a live view (? shows its keys). With --plain, or outside a terminal, one
line per message; with --json, one JSON object per message.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.subjects = args
			return runTailNats(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.server, "server", "", "NATS URL (default: the stack's nats)")
	fl.StringVar(&opts.monitor, "monitor", "", "monitoring URL for connection names (default: the stack's nats on 8222)")
	fl.BoolVar(&opts.plain, "plain", false, "one line per message, even on a terminal")
	fl.BoolVar(&opts.json, "json", false, "one JSON object per message (NDJSON)")
	fl.StringSliceVar(&opts.exclude, "exclude", nil, "subjects to leave out (NATS wildcards; repeatable)")
	fl.IntVar(&opts.buffer, "buffer", 10000, "messages kept for the live view")
	fl.BoolVar(&opts.count, "count", false, "only count: ingest as the live view does and print a summary at the end (for benchmarks)")
	fl.MarkHidden("count")
	return cmd
}

// natsAddrs finds the stack's NATS client and monitoring addresses on the host.
func natsAddrs(ctx context.Context, f *factory) (string, string, error) {
	p, eng, err := f.projectEngine()
	if err != nil {
		return "", "", err
	}
	name := ""
	for _, n := range p.InfraNames() {
		if p.Infra[n].Kind == "nats" {
			name = n
			break
		}
	}
	if name == "" {
		return "", "", fmt.Errorf("%s has no nats infra: name a server with --server nats://HOST:PORT", p.Name)
	}
	sts, err := eng.Status(ctx, newPlan(p))
	if err != nil {
		return "", "", err
	}
	var client, mon string
	for _, st := range sts {
		if st.Name != name {
			continue
		}
		for _, port := range st.Ports {
			hostPort, cport, _ := strings.Cut(port, "->")
			switch cport {
			case "4222":
				client = "nats://" + hostPort
			case "8222":
				mon = "http://" + hostPort
			}
		}
	}
	if client == "" {
		return "", "", fmt.Errorf("%s is not running: start it with `launcher up %s`, or name a server with --server", name, name)
	}
	return client, mon, nil
}

func runTailNats(ctx context.Context, f *factory, opts *tailNatsOptions) error {
	server, monitor := opts.server, opts.monitor
	if server == "" {
		s, m, err := natsAddrs(ctx, f)
		if err != nil {
			return err
		}
		server = s
		if monitor == "" {
			monitor = m
		}
	}
	filter := natstap.Filter{Exclude: opts.exclude}
	live := !opts.plain && !opts.json && f.stdoutTTY() && f.stdinTTY()
	tapOpts := natstap.Options{URL: server, Subjects: opts.subjects, Monitor: monitor, Buffer: opts.buffer}
	var lp *linePrinter
	if opts.count {
		live = false
	}
	if !live {
		lp = &linePrinter{out: f.Out, json: opts.json, filter: filter}
		if !opts.count {
			tapOpts.OnMessage = lp.print
		}
	}
	tap, err := natstap.Start(ctx, tapOpts)
	if err != nil {
		return err
	}
	defer tap.Close()
	if live {
		return tui.RunTail(ctx, tap, filter, func(s string) string { return f.currentRedactor().String(s) })
	}
	lp.tap = tap
	fmt.Fprintf(f.Err, "listening on %s for %s (Ctrl-C to stop)\n", server, strings.Join(orDefault(opts.subjects, ">"), ", "))
	start := time.Now()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			lp.flush()
			st := tap.Stats()
			el := time.Since(start)
			fmt.Fprintf(f.Err, "%d messages in %s (%.0f msg/s), %d dropped\n", st.Received, el.Round(time.Millisecond), float64(st.Received)/el.Seconds(), st.Dropped)
			return nil
		case <-t.C:
			lp.flush()
		}
	}
}

func orDefault(s []string, d string) []string {
	if len(s) == 0 {
		return []string{d}
	}
	return s
}

// linePrinter writes one line (or JSON object) per message. It runs on the tap's ingest
// goroutine; lines gather in a buffer that the command's ticker flushes in one write of whole
// lines, which the redacting output edge needs (it masks each write on its own).
type linePrinter struct {
	mu     sync.Mutex
	w      bytes.Buffer
	out    io.Writer
	json   bool
	filter natstap.Filter
	tap    *natstap.Tap
}

// tailJSON is the --json shape of a message.
type tailJSON struct {
	natstap.Message
	Conn      string  `json:"conn,omitempty"`
	LatencyMS float64 `json:"latency_ms,omitempty"`
	Payload   string  `json:"payload,omitempty"`
	Encoding  string  `json:"encoding,omitempty"` // "base64" when the payload is not UTF-8
	Format    string  `json:"format,omitempty"`
}

func (p *linePrinter) print(m natstap.Message) {
	if !p.filter.Match(m.Subject) {
		return
	}
	conn := ""
	if p.tap != nil {
		conn = p.tap.ConnName(m)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		j := tailJSON{Message: m, Conn: conn, Format: natstap.Decode(m.Data).Format}
		if m.Latency > 0 {
			j.LatencyMS = float64(m.Latency.Microseconds()) / 1000
		}
		if utf8.Valid(m.Data) {
			j.Payload = string(m.Data)
		} else {
			j.Payload, j.Encoding = base64.StdEncoding.EncodeToString(m.Data), "base64"
		}
		b, _ := json.Marshal(j)
		p.w.Write(append(b, '\n'))
	} else {
		p.w.WriteString(tui.TailLine(m, conn))
		p.w.WriteByte('\n')
	}
	if p.w.Len() > 4<<20 { // flush early rather than grow without bound
		p.out.Write(p.w.Bytes())
		p.w.Reset()
	}
}

func (p *linePrinter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w.Len() > 0 {
		p.out.Write(p.w.Bytes())
		p.w.Reset()
	}
}
