package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/propital/launcher/internal/config"
	"github.com/propital/launcher/internal/repos"
	"github.com/spf13/cobra"
)

type statusOptions struct {
	outputOptions
}

// repoStatus is one row of `launcher status`.
type repoStatus struct {
	Service string `json:"service"`
	repos.Status
	Error   string `json:"error,omitempty"`
	Running string `json:"running,omitempty"` // commit the running container was built from
	Current *bool  `json:"running_current,omitempty"`
}

func newStatusCmd(f *factory) *cobra.Command {
	opts := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each service's clone: branch, commit, dirty, ahead/behind, and whether what runs was built from it",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), f, opts)
		},
	}
	opts.addOutputFlag(cmd, "text", "json")
	return cmd
}

func runStatus(ctx context.Context, f *factory, opts *statusOptions) error {
	p, err := f.loadProject()
	if err != nil {
		return err
	}
	running := runningCommits(ctx, f, p)
	var rows []repoStatus
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if s.Path == "" {
			continue
		}
		dir := s.Path
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(p.Dir, dir)
		}
		row := repoStatus{Service: name}
		st, err := repos.ReadStatus(dir)
		row.Status = st
		if err != nil {
			row.Error = "not cloned: run `launcher init`"
		}
		if c, ok := running[name]; ok {
			row.Running = c
			cur := c != "" && c == repos.Head(dir)
			row.Current = &cur
		}
		rows = append(rows, row)
	}
	if opts.output == "json" {
		return writeJSON(f.Out, rows)
	}
	tw := tabwriter.NewWriter(f.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tBRANCH\tCOMMIT\tDIRTY\tUPSTREAM\tAHEAD/BEHIND\tRUNNING")
	for _, r := range rows {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t\t\t\t\t\t%s\n", r.Service, r.Error)
			continue
		}
		dirty := ""
		if r.Dirty {
			dirty = "yes"
		}
		branch := r.Branch
		if branch == "" {
			branch = "(detached)"
		}
		ab := ""
		if r.Upstream != "" {
			ab = fmt.Sprintf("+%d/-%d", r.Ahead, r.Behind)
		}
		run := "not running"
		if r.Current != nil {
			if *r.Current {
				run = "this commit"
			} else {
				run = "built from " + orDash(r.Running)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Service, branch, r.Commit, dirty, r.Upstream, ab, run)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "an unknown commit"
	}
	return strings.TrimSpace(s)
}

// runningCommits maps each running service to the commit its image was built from; empty when
// Docker does not answer.
func runningCommits(ctx context.Context, f *factory, p *config.Project) map[string]string {
	out := map[string]string{}
	rt, err := f.runtime()
	if err != nil {
		return out
	}
	if _, err := rt.Ping(ctx); err != nil {
		return out
	}
	cs, err := rt.ListContainers(ctx, map[string]string{config.LabelProject: p.Name})
	if err != nil {
		return out
	}
	for _, c := range cs {
		if c.State != "running" {
			continue
		}
		name := c.Labels[config.LabelService]
		if _, isSvc := p.Services[name]; !isSvc {
			continue
		}
		commit, _ := rt.ImageLabel(ctx, c.Image, config.LabelCommit)
		out[name] = commit
	}
	return out
}
