package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"

	"github.com/propital/launcher/internal/config"
	"github.com/spf13/cobra"
)

type doctorOptions struct {
	outputOptions
}

// check is one doctor finding.
type check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

func newDoctorCmd(f *factory) *cobra.Command {
	opts := &doctorOptions{}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check this machine for the stack: Docker, Go, disk, host ports; each problem with its fix",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDoctor(cmd.Context(), f, opts)
		},
	}
	opts.addOutputFlag(cmd, "text", "json")
	return cmd
}

func runDoctor(ctx context.Context, f *factory, opts *doctorOptions) error {
	p, err := f.loadProject()
	if err != nil {
		return err
	}
	checks := doctorChecks(ctx, f, p)
	return printChecks(f, checks, opts.output == "json")
}

func printChecks(f *factory, checks []check, asJSON bool) error {
	failed := 0
	for _, c := range checks {
		if !c.OK {
			failed++
		}
	}
	if asJSON {
		if err := writeJSON(f.Out, checks); err != nil {
			return err
		}
	} else {
		for _, c := range checks {
			mark := "ok  "
			if !c.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(f.Out, "%s %-7s %s\n", mark, c.Name, c.Detail)
			if c.Fix != "" {
				fmt.Fprintf(f.Out, "             fix: %s\n", c.Fix)
			}
		}
	}
	if failed > 0 {
		return &exitError{code: exitFailure, err: fmt.Errorf("%d %s failed", failed, plural(failed, "check", "checks"))}
	}
	return nil
}

// doctorChecks runs every check; none stops the others.
func doctorChecks(ctx context.Context, f *factory, p *config.Project) []check {
	var out []check
	eng, engErr := f.engine()
	dockerOK := false
	if engErr == nil {
		rt, _ := f.runtime()
		if info, err := rt.Ping(ctx); err == nil {
			dockerOK = true
			out = append(out, check{Name: "docker", OK: true, Detail: fmt.Sprintf("Docker %s (API %s, %s/%s)", info.Version, info.APIVersion, info.OS, info.Arch)})
		} else {
			engErr = err
		}
	}
	if !dockerOK {
		out = append(out, check{Name: "docker", Detail: firstLine(engErr.Error()), Fix: "start Docker (Docker Desktop, or `sudo systemctl start docker`), or point DOCKER_HOST at a running engine"})
	}

	needGo := false
	for _, s := range p.Services {
		if s.Build != nil && s.Build.Go != "" {
			needGo = true
		}
	}
	if needGo {
		if out2, err := exec.CommandContext(ctx, "go", "version").Output(); err == nil {
			out = append(out, check{Name: "go", OK: true, Detail: strings.TrimSpace(string(out2)) + " (Go services are built on this machine)"})
		} else {
			out = append(out, check{Name: "go", Detail: "the Go toolchain is not installed; launcher builds Go services with it", Fix: "install Go from https://go.dev/dl"})
		}
	}

	var st syscall.Statfs_t
	dir := p.Dir
	if err := syscall.Statfs(dir, &st); err == nil {
		free := st.Bavail * uint64(st.Bsize)
		c := check{Name: "disk", OK: free >= 2<<30, Detail: fmt.Sprintf("%.1f GB free in %s", float64(free)/(1<<30), dir)}
		if !c.OK {
			c.Fix = "free some space: images, volumes and Go's build cache need a few GB (`docker system prune` helps)"
		}
		out = append(out, c)
	}

	if dockerOK {
		conflicts, err := eng.PortConflicts(ctx, newPlan(p))
		switch {
		case err != nil:
			out = append(out, check{Name: "ports", Detail: err.Error()})
		case len(conflicts) > 0:
			out = append(out, check{Name: "ports", Detail: strings.Join(conflicts, "; "), Fix: "stop what holds the port, or publish another host port in launcher.override.yaml (e.g. ports: [\"15432:5432\"])"})
		default:
			out = append(out, check{Name: "ports", OK: true, Detail: "the stack's host ports are free (or already the stack's)"})
		}
	}
	return out
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
