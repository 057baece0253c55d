package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/propital/launcher/internal/config"
	"github.com/propital/launcher/internal/repos"
	"github.com/spf13/cobra"
)

type initOptions struct {
	outputOptions
	from     string
	depth    int
	jobs     int
	noDoctor bool
}

func newInitCmd(f *factory) *cobra.Command {
	opts := &initOptions{}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Clone every service repo of launcher.yaml (in parallel), write .env, and check the machine",
		Long: `Clone every service that has a repo: into its path, several at once, with live progress.
Re-running is safe: a clean clone on its branch is fetched and fast-forwarded; a dirty or
diverged one is left alone and reported. One failing repo does not stop the others.

--from clones the launcher repo itself first (a URL or a local path) into the current folder's
subfolder of the same name, and works there.

Credentials: the SSH agent or ~/.ssh keys for ssh URLs; GITHUB_TOKEN or GIT_TOKEN, else git's
credential helpers, for https. They never appear in output.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInit(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.from, "from", "", "clone the launcher repo from this URL or path first")
	fl.IntVar(&opts.depth, "depth", 0, "shallow clones of this depth")
	fl.IntVarP(&opts.jobs, "jobs", "j", 4, "repositories cloned at once")
	fl.BoolVar(&opts.noDoctor, "no-doctor", false, "skip the machine checks")
	opts.addOutputFlag(cmd, "text", "json")
	return cmd
}

type initReport struct {
	Repos  []repos.Result `json:"repos"`
	Env    *envReport     `json:"env,omitempty"`
	Doctor []check        `json:"doctor,omitempty"`
}

func runInit(ctx context.Context, f *factory, opts *initOptions) error {
	text := opts.output != "json"
	if opts.from != "" {
		if err := cloneLauncherRepo(ctx, f, opts, text); err != nil {
			return err
		}
	}
	p, err := f.loadProject()
	if err != nil {
		return err
	}
	specs := serviceRepos(p, opts.depth)
	rep := initReport{}
	if len(specs) > 0 {
		rep.Repos = syncRepos(ctx, f, specs, opts.jobs, text)
	} else if text {
		fmt.Fprintln(f.Err, "no service has a repo: nothing to clone")
	}
	envPath, tmplPath := f.loadOptions().EnvPaths()
	if _, err := os.Stat(tmplPath); err == nil {
		if err := ensureEnv(f); err != nil {
			return err
		}
		if text {
			fmt.Fprintf(f.Err, "%s is in sync with %s\n", envPath, tmplPath)
		}
	}
	failed := 0
	for _, r := range rep.Repos {
		if r.Action == repos.Failed || r.Action == repos.NotAClone {
			failed++
		}
	}
	if !opts.noDoctor {
		rep.Doctor = doctorChecks(ctx, f, p)
	}
	if !text {
		if err := writeJSON(f.Out, rep); err != nil {
			return err
		}
	} else if !opts.noDoctor {
		fmt.Fprintln(f.Out, "")
		printChecks(f, rep.Doctor, false)
	}
	if failed > 0 {
		return &exitError{code: exitFailure, err: fmt.Errorf("%d of %d repositories failed (see above); the others are ready", failed, len(rep.Repos))}
	}
	return nil
}

// serviceRepos lists the services that have a repo, with absolute paths.
func serviceRepos(p *config.Project, depth int) []repos.Spec {
	var specs []repos.Spec
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if s.Repo == "" {
			continue
		}
		path := s.Path
		if path == "" {
			path = filepath.Join("services", name)
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(p.Dir, path)
		}
		url := s.Repo
		if isLocalPath(url) && !filepath.IsAbs(url) {
			url = filepath.Join(p.Dir, url)
		}
		specs = append(specs, repos.Spec{Name: name, URL: url, Path: path, Ref: s.Ref, Depth: depth})
	}
	return specs
}

func isLocalPath(u string) bool {
	return !strings.Contains(u, "://") && !strings.Contains(u, "@")
}

// syncRepos clones or updates, printing progress (throttled per repository) and a summary.
func syncRepos(ctx context.Context, f *factory, specs []repos.Spec, jobs int, text bool) []repos.Result {
	var mu sync.Mutex
	last := map[string]time.Time{}
	progress := func(name, line string) {
		if !text {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last[name]) < 500*time.Millisecond {
			return
		}
		last[name] = time.Now()
		fmt.Fprintf(f.Err, "%-14s %s\n", name, line)
	}
	if text {
		fmt.Fprintf(f.Err, "syncing %d %s, %d at a time\n", len(specs), plural(len(specs), "repository", "repositories"), max(1, jobs))
	}
	results := repos.Sync(ctx, specs, repos.Options{Concurrency: jobs, Progress: progress, Getenv: f.Getenv, Secrets: f.addSecrets})
	if text {
		for _, r := range results {
			line := fmt.Sprintf("%-14s %s", r.Name, r.Action)
			if r.Branch != "" || r.Commit != "" {
				line += fmt.Sprintf(" (%s @ %s)", orDetached(r.Branch), r.Commit)
			}
			if r.Err != "" {
				line += ": " + r.Err
			}
			fmt.Fprintln(f.Out, line)
		}
	}
	return results
}

func orDetached(b string) string {
	if b == "" {
		return "detached"
	}
	return b
}

// cloneLauncherRepo clones --from into ./<name> (or updates it) and makes it the project dir.
func cloneLauncherRepo(ctx context.Context, f *factory, opts *initOptions, text bool) error {
	src := opts.from
	if isLocalPath(src) {
		abs, err := filepath.Abs(src)
		if err != nil {
			return err
		}
		src = abs
	}
	name := strings.TrimSuffix(filepath.Base(strings.TrimRight(src, "/")), ".git")
	dir := f.project.projectDir
	if dir == "" {
		dir = name
	}
	abs, _ := filepath.Abs(dir)
	res := syncRepos(ctx, f, []repos.Spec{{Name: name, URL: src, Path: abs, Depth: opts.depth}}, 1, text)
	if r := res[0]; r.Action == repos.Failed || r.Action == repos.NotAClone {
		return fmt.Errorf("clone the launcher repo %s: %s", opts.from, r.Err)
	}
	f.project.projectDir = abs
	if _, err := os.Stat(filepath.Join(abs, config.DefaultFile)); err != nil {
		return fmt.Errorf("%s has no %s: is it a launcher repo?", opts.from, config.DefaultFile)
	}
	return nil
}
