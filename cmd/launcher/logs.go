package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/propital/launcher/internal/orchestrate"
	"github.com/propital/launcher/internal/output"
	"github.com/spf13/cobra"
)

type logsOptions struct {
	follow     bool
	tail       int
	since      time.Duration
	timestamps bool
	services   []string
}

func newLogsCmd(f *factory) *cobra.Command {
	opts := &logsOptions{}
	cmd := &cobra.Command{
		Use:   "logs [SERVICE...]",
		Short: "Show the output of the stack's containers, each line prefixed with its name",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.services = args
			return runLogs(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.follow, "follow", false, "keep printing new output (-f after `logs` means --follow)")
	fl.IntVarP(&opts.tail, "tail", "n", -1, "only the last N lines of each (default: all)")
	fl.DurationVar(&opts.since, "since", 0, "only output newer than this (e.g. 10m)")
	fl.BoolVarP(&opts.timestamps, "timestamps", "t", false, "prefix each line with its time")
	return cmd
}

func runLogs(ctx context.Context, f *factory, opts *logsOptions) error {
	p, eng, err := f.projectEngine()
	if err != nil {
		return err
	}
	lo := orchestrate.LogOptions{Follow: opts.follow, Tail: opts.tail}
	if opts.since > 0 {
		lo.Since = time.Now().Add(-opts.since)
	}
	color := isTerminal(f.rawOut)
	width := 0
	for _, n := range p.ServiceNames() {
		width = max(width, len(n))
	}
	for _, n := range p.InfraNames() {
		width = max(width, len(n))
	}
	var mu sync.Mutex
	err = eng.Logs(ctx, p.Name, orchestrate.LogsOptions{Services: opts.services, LogOptions: lo}, func(node string, l orchestrate.LogLine) {
		name := fmt.Sprintf("%-*s", width, node)
		if color {
			name = output.Colorize(node, name)
		}
		ts := ""
		if opts.timestamps {
			ts = l.Time.Format(time.RFC3339Nano) + " "
		}
		mu.Lock()
		fmt.Fprintf(f.Out, "%s | %s%s\n", name, ts, l.Text)
		mu.Unlock()
	})
	if ctx.Err() != nil {
		return nil
	}
	return err
}
