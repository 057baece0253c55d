package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

type restartOptions struct {
	outputOptions
	services []string
}

func newRestartCmd(f *factory) *cobra.Command {
	opts := &restartOptions{}
	cmd := &cobra.Command{
		Use:   "restart SERVICE...",
		Short: "Restart services or infra and wait until they are ready again",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &usageError{fmt.Errorf("name at least one service to restart")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.services = args
			return runRestart(cmd.Context(), f, opts)
		},
	}
	opts.addOutputFlag(cmd, "text", "json")
	return cmd
}

func runRestart(ctx context.Context, f *factory, opts *restartOptions) error {
	p, eng, err := f.projectEngine()
	if err != nil {
		return err
	}
	stop := startPrinter(f, eng.Store(), opts.output == "json", false)
	err = eng.Restart(ctx, newPlan(p), opts.services)
	stop()
	return err
}
