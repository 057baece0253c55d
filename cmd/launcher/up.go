package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/propital/launcher/internal/config"
	"github.com/propital/launcher/internal/envfile"
	"github.com/propital/launcher/internal/orchestrate"
	"github.com/propital/launcher/internal/output"
	"github.com/propital/launcher/internal/repos"
	"github.com/propital/launcher/internal/tui"
	"github.com/spf13/cobra"
)

type upOptions struct {
	outputOptions
	noTUI    bool
	logLines int
	detach   bool
	wait     bool
	timeout  time.Duration
	services []string
}

func newUpCmd(f *factory) *cobra.Command {
	opts := &upOptions{}
	cmd := &cobra.Command{
		Use:   "up [SERVICE...]",
		Short: "Start the stack (or SERVICEs and their dependencies) and show its logs",
		Long: `Start the infrastructure and the services in dependency order; each starts once what it
uses is ready, as its own client tells (NATS, Redis, PostgreSQL, MongoDB) or its health check.
Unchanged containers keep running; changed ones are recreated. Go services are built first.

Attached by default: progress, then every container's output, until Ctrl-C, which stops the
stack's containers. With -d it returns once started; with --wait once everything is ready, or
non-zero naming what is not, with its probe error and last log lines.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.services = args
			return runUp(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.detach, "detach", "d", false, "start in the background and return")
	fl.BoolVar(&opts.wait, "wait", false, "return when every service is ready (implies --detach)")
	fl.DurationVar(&opts.timeout, "timeout", 5*time.Minute, "give up on --wait after this long")
	fl.BoolVar(&opts.noTUI, "no-tui", false, "plain lines instead of the dashboard on a terminal")
	fl.IntVar(&opts.logLines, "log-lines", 2000, "lines of output the dashboard keeps per service")
	opts.addOutputFlag(cmd, "text", "json")
	return cmd
}

func runUp(ctx context.Context, f *factory, opts *upOptions) error {
	if err := ensureEnv(f); err != nil {
		return err
	}
	p, eng, err := f.projectEngine()
	if err != nil {
		return err
	}
	pl := newPlan(p)
	detached := opts.detach || opts.wait
	if !detached && !opts.noTUI && opts.output == "text" && f.stdoutTTY() && f.stdinTTY() {
		return runDashboard(ctx, f, p.Name, pl, eng, opts)
	}
	stopPrinter := startPrinter(f, eng.Store(), opts.output == "json", !detached)
	upCtx, cancel := context.WithTimeout(ctx, opts.timeout)
	err = eng.Up(upCtx, pl, orchestrate.UpOptions{Services: opts.services, WaitAll: opts.wait || !detached})
	cancel()
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		err = notReadyFromStore(eng.Store(), opts.timeout)
	}
	if err != nil || detached {
		stopPrinter()
		if err == nil && opts.output != "json" {
			fmt.Fprintf(f.Err, "%s is up: `launcher ps` shows it, `launcher logs -f` follows it, `launcher down` stops it\n", p.Name)
		}
		return err
	}

	// attached: crashes and logs until Ctrl-C, then a graceful stop
	if opts.output != "json" {
		fmt.Fprintf(f.Err, "%s is ready. Showing logs; Ctrl-C stops the stack (its containers stay, `launcher down` removes them).\n", p.Name)
	}
	go eng.Watch(ctx, pl)
	go eng.Logs(ctx, p.Name, orchestrate.LogsOptions{Services: nil, LogOptions: orchestrate.LogOptions{Follow: true, Tail: 0}}, nil)
	<-ctx.Done()
	fmt.Fprintln(f.Err, "stopping (Ctrl-C again to leave them running)...")
	stopCtx, cancel := signalContext(context.Background())
	defer cancel()
	err = eng.Stop(stopCtx, p.Name, nil)
	stopPrinter()
	return err
}

// runDashboard shows the live dashboard while the engine brings the stack up, then follows its
// crashes, logs and resource use; quitting asks whether the stack stops or keeps running.
func runDashboard(ctx context.Context, f *factory, project string, pl *orchestrate.Plan, eng *orchestrate.Engine, opts *upOptions) error {
	model := tui.NewDashboard(project, eng.Store(), &engineActions{ctx: ctx, eng: eng, pl: pl}, opts.logLines, time.Now)
	model.Mask = f.currentRedactor().String // the terminal is written to directly, not through the output edge
	defer model.Close()
	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	upErr := make(chan error, 1)
	go func() {
		err := eng.Up(bg, pl, orchestrate.UpOptions{Services: opts.services, WaitAll: true})
		upErr <- err
		if bg.Err() == nil {
			go eng.Logs(bg, project, orchestrate.LogsOptions{LogOptions: orchestrate.LogOptions{Follow: true, Tail: 200}}, nil)
		}
	}()
	go eng.Watch(bg, pl)
	go eng.SampleStats(bg, pl, 2*time.Second)
	choice, err := tui.RunDashboard(ctx, model)
	stopBG()
	if err != nil {
		return err
	}
	var startErr error
	select {
	case startErr = <-upErr:
	default:
	}
	if choice == tui.QuitKeep {
		fmt.Fprintf(f.Err, "%s keeps running: `launcher ps` shows it, `launcher down` removes it\n", project)
		return startErr
	}
	fmt.Fprintf(f.Err, "stopping %s...\n", project)
	stopCtx, cancel := signalContext(context.Background())
	defer cancel()
	if err := eng.Stop(stopCtx, project, nil); err != nil {
		return err
	}
	fmt.Fprintf(f.Err, "%s stopped (containers kept; `launcher down` removes them)\n", project)
	return startErr
}

// engineActions carries out the dashboard's keys.
type engineActions struct {
	ctx context.Context
	eng *orchestrate.Engine
	pl  *orchestrate.Plan
}

func (a *engineActions) Restart(name string) error {
	return a.eng.Restart(a.ctx, a.pl, []string{name})
}

// Rebuild builds the service's image again (Go: only when the binary changed) and recreates it
// when the image did change.
func (a *engineActions) Rebuild(name string) error {
	return a.eng.Up(a.ctx, a.pl, orchestrate.UpOptions{Services: []string{name}, WaitAll: true})
}

func (a *engineActions) Stop(name string) error {
	return a.eng.Stop(a.ctx, a.pl.Project.Name, []string{name})
}

func (a *engineActions) Start(name string) error {
	return a.eng.Up(a.ctx, a.pl, orchestrate.UpOptions{Services: []string{name}, WaitAll: true})
}

// startPrinter subscribes a plain or JSON printer to the store; the returned func waits until
// everything published so far is printed.
func startPrinter(f *factory, store *orchestrate.Store, json, logs bool) func() {
	sub, _ := store.Subscribe(8192)
	pr := &output.Printer{W: f.Err, JSON: json, Logs: logs, Color: !json && isTerminal(f.rawErr)}
	if json {
		pr.W = f.Out
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		pr.Run(sub, done)
		close(finished)
	}()
	return func() {
		close(done)
		<-finished
		sub.Cancel()
	}
}

func notReadyFromStore(s *orchestrate.Store, timeout time.Duration) error {
	var nr orchestrate.NotReadyError
	for _, n := range s.Snapshot().Nodes {
		if n.State != orchestrate.StateReady {
			detail := n.Detail
			if detail == "" {
				detail = string(n.State)
			}
			nr.Nodes = append(nr.Nodes, orchestrate.NodeFailure{Node: n.Name, Err: fmt.Errorf("not ready within %s: %s", timeout, detail)})
		}
	}
	if len(nr.Nodes) == 0 {
		return fmt.Errorf("not ready within %s", timeout)
	}
	return &nr
}

// ensureEnv brings .env up to date with the template before anything runs, so that a fresh
// clone needs no manual step; it never prints a value.
func ensureEnv(f *factory) error {
	envPath, tmplPath := f.loadOptions().EnvPaths()
	tmpl, err := envfile.ReadFile(tmplPath)
	if err != nil || tmpl == nil {
		return err
	}
	cur, err := envfile.ReadFile(envPath)
	if err != nil {
		return err
	}
	if d, err := envfile.Check(tmpl, cur); err != nil || (!d.NoFile && len(d.Missing) == 0) {
		return err
	}
	opts := envfile.SyncOptions{Getenv: f.Getenv}
	if f.stdinTTY() {
		opts.Prompt = f.promptValue
	}
	data, rep, err := envfile.Sync(tmpl, cur, opts)
	if err != nil {
		return err
	}
	if err := envfile.WriteAtomic(envPath, data); err != nil {
		return fmt.Errorf("write %s: %w", envPath, err)
	}
	fmt.Fprintf(f.Err, "wrote %s from %s: added %s\n", envPath, tmplPath, strings.Join(rep.Added, ", "))
	return nil
}

func signalContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(parent, 30*time.Second)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	return ctx, func() { stop(); cancel() }
}

// newPlan is the one place commands turn a project into a plan; built services carry the commit
// of their source, which their image is labelled with (`launcher status` compares it).
func newPlan(p *config.Project) *orchestrate.Plan {
	pl := orchestrate.NewPlan(p)
	for _, n := range pl.Nodes {
		if n.Build != nil {
			n.Commit = repos.Head(n.Build.Dir)
		}
	}
	return pl
}
