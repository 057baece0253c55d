package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/propital/launcher/internal/config"
	"github.com/propital/launcher/internal/envfile"
	"github.com/propital/launcher/internal/orchestrate"
	"github.com/spf13/cobra"
)

// Exit codes. Only Main maps errors to them.
const (
	exitOK          = 0
	exitFailure     = 1 // a runtime failure: Docker, the network, a drifted .env
	exitInvalid     = 2 // invalid configuration or command line
	exitInterrupted = 130
)

// exitError carries a specific exit code; its message, if any, is printed as usual.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// usageError marks a bad command line.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }

// Main runs launcher with os.Args and the process's standard streams, and returns the exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	f := newFactory(os.Stdin, os.Stdout, os.Stderr, os.LookupEnv)
	return run(ctx, f, os.Args[1:])
}

func run(ctx context.Context, f *factory, args []string) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(f.Err, "launcher: internal error: %v\nthis is a bug in launcher; please report it with the command you ran\n", r)
			code = exitFailure
		}
	}()
	root := newRootCmd(f)
	root.SetArgs(followFlag(args))
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code = exitFailure
	var ee *exitError
	var ce config.Errors
	var ue *usageError
	var envErrs envfile.Errors
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case errors.As(err, &ce), errors.As(err, &envErrs):
		code = exitInvalid
	case errors.As(err, &ue), errors.As(err, new(*orchestrate.UnknownNodeError)):
		code = exitInvalid
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		code = exitInterrupted
		err = errors.New("interrupted")
	}
	if msg := err.Error(); msg != "" {
		printError(f.Err, err)
	}
	return code
}

func printError(w io.Writer, err error) {
	var ce config.Errors
	if errors.As(err, &ce) {
		for _, e := range ce {
			fmt.Fprintln(w, e.Error())
		}
		fmt.Fprintf(w, "launcher: %d configuration %s\n", len(ce), plural(len(ce), "error", "errors"))
		return
	}
	fmt.Fprintf(w, "launcher: %v\n", err)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func newRootCmd(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "launcher",
		Short: "Run the whole microservices stack with one command",
		Long: `launcher turns a multi-repo microservices system into one command: it clones the
service repos, writes .env from .env.template, starts the infrastructure and the services in
dependency order, and tells you when each one really answers.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionString(),
	}
	cmd.SetOut(f.Out)
	cmd.SetErr(f.Err)
	cmd.SetIn(f.In)
	cmd.SetVersionTemplate("{{.Version}}\n")
	f.project.addFlags(cmd)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{fmt.Errorf("%w\nrun '%s --help' for usage", err, c.CommandPath())}
	})
	cmd.AddCommand(
		newVersionCmd(f),
		newConfigCmd(f),
		newSchemaCmd(f),
		newEnvCmd(f),
		newUpCmd(f),
		newDownCmd(f),
		newPsCmd(f),
		newLogsCmd(f),
		newRestartCmd(f),
		newTailCmd(f),
		newInitCmd(f),
		newDoctorCmd(f),
		newStatusCmd(f),
		newImportCmd(f),
		newDeployCmd(f),
	)
	return cmd
}

// globalValueFlags are the root flags that take a value, to find the subcommand word.
var globalValueFlags = map[string]bool{"-f": true, "--file": true, "--project-dir": true, "--env-file": true}

// followFlag lets `logs -f` mean --follow, as in compose, although -f before the subcommand is
// the global --file: a -f after the word "logs" is rewritten to --follow.
func followFlag(args []string) []string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if globalValueFlags[a] {
			i++
			continue
		}
		if strings.HasPrefix(a, "-") {
			continue
		}
		if a != "logs" {
			return args
		}
		out := append([]string(nil), args[:i+1]...)
		for _, rest := range args[i+1:] {
			if rest == "-f" {
				rest = "--follow"
			}
			out = append(out, rest)
		}
		return out
	}
	return args
}

// noArgs rejects positional arguments with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return &usageError{fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0])}
	}
	return nil
}
