package main

import (
	"context"
	"fmt"

	"github.com/propital/launcher/internal/orchestrate"
	"github.com/spf13/cobra"
)

type downOptions struct {
	outputOptions
	volumes bool
}

func newDownCmd(f *factory) *cobra.Command {
	opts := &downOptions{}
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop and remove the stack's containers and network (volumes stay unless --volumes)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDown(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.volumes, "volumes", "v", false, "also remove the named volumes: the databases' data")
	opts.addOutputFlag(cmd, "text", "json")
	return cmd
}

func runDown(ctx context.Context, f *factory, opts *downOptions) error {
	p, eng, err := f.projectEngine()
	if err != nil {
		return err
	}
	stop := startPrinter(f, eng.Store(), opts.output == "json", false)
	err = eng.Down(ctx, p.Name, orchestrate.DownOptions{Volumes: opts.volumes})
	stop()
	if err == nil && opts.output != "json" {
		msg := p.Name + " is down"
		if !opts.volumes {
			msg += " (volumes kept; --volumes removes the data)"
		}
		fmt.Fprintln(f.Err, msg)
	}
	return err
}
