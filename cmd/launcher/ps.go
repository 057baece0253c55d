package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

type psOptions struct {
	outputOptions
}

func newPsCmd(f *factory) *cobra.Command {
	opts := &psOptions{}
	cmd := &cobra.Command{
		Use:   "ps",
		Short: "Show each service and infra: state, readiness, ports, uptime, restarts, image",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPs(cmd.Context(), f, opts)
		},
	}
	opts.addOutputFlag(cmd, "text", "json")
	return cmd
}

func runPs(ctx context.Context, f *factory, opts *psOptions) error {
	p, eng, err := f.projectEngine()
	if err != nil {
		return err
	}
	sts, err := eng.Status(ctx, newPlan(p))
	if err != nil {
		return err
	}
	if opts.output == "json" {
		return writeJSON(f.Out, sts)
	}
	tw := tabwriter.NewWriter(f.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tSTATE\tPORTS\tUPTIME\tRESTARTS\tIMAGE")
	for _, s := range sts {
		up := ""
		if !s.StartedAt.IsZero() {
			up = time.Since(s.StartedAt).Round(time.Second).String()
		}
		state := string(s.State)
		if s.Detail != "" {
			state += " (" + clipString(s.Detail, 50) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", s.Name, s.Role, state, strings.Join(s.Ports, ","), up, s.Restarts, s.Image)
	}
	return tw.Flush()
}

func clipString(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}
