package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/propital/launcher/internal/envfile"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

type envOptions struct {
	outputOptions
	check bool
}

func newEnvCmd(f *factory) *cobra.Command {
	opts := &envOptions{}
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Create or update .env from .env.template; --check reports drift",
		Long: `Create .env from .env.template, or bring an existing one up to date.

Every value already in .env is kept; keys the template added are appended with their comments;
keys the template no longer has are reported and kept. Values marked ${secret} or ${secret:N}
in the template are generated; a key with no value (KEY=) is asked for on a terminal, or taken
from the environment. Only key names are printed, never values. .env is written with mode 0600.

With --check, nothing is written: the exit code is 1 when .env is missing, lacks keys, leaves a
required key empty, or has keys the template no longer has.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runEnv(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.check, "check", false, "report drift between .env and .env.template; write nothing")
	opts.addOutputFlag(cmd, "text", "json")
	return cmd
}

func runEnv(_ context.Context, f *factory, opts *envOptions) error {
	envPath, tmplPath := f.loadOptions().EnvPaths()
	tmpl, err := envfile.ReadFile(tmplPath)
	if err != nil {
		return err
	}
	if tmpl == nil {
		return fmt.Errorf("no %s: it is the environment contract `launcher env` generates .env from; create one with a KEY=default line per variable", tmplPath)
	}
	current, err := envfile.ReadFile(envPath)
	if err != nil {
		return err
	}
	if opts.check {
		return envCheck(f, opts, envPath, tmpl, current)
	}
	syncOpts := envfile.SyncOptions{Getenv: f.Getenv}
	if f.stdinTTY() {
		syncOpts.Prompt = f.promptValue
	}
	data, rep, err := envfile.Sync(tmpl, current, syncOpts)
	if err != nil {
		return err
	}
	changed := rep.Created || len(rep.Added) > 0
	if changed {
		if err := envfile.WriteAtomic(envPath, data); err != nil {
			return fmt.Errorf("write %s: %w", envPath, err)
		}
	} else if st, err := os.Stat(envPath); err == nil && st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(envPath, 0o600); err != nil {
			return fmt.Errorf("restrict %s to its owner: %w", envPath, err)
		}
		fmt.Fprintf(f.Err, "%s was readable by others (mode %o); it holds secrets, so it is now 0600\n", envPath, st.Mode().Perm())
	}
	if opts.output == "json" {
		return writeJSON(f.Out, envReport{File: envPath, Created: rep.Created, Added: nz(rep.Added), Generated: nz(rep.Generated), Stale: nz(rep.Stale)})
	}
	keys := len(tmpl.Keys())
	switch {
	case rep.Created:
		fmt.Fprintf(f.Out, "created %s (mode 0600) from %s: %d %s, %d generated\n", envPath, tmplPath, keys, plural(keys, "key", "keys"), len(rep.Generated))
	case changed:
		fmt.Fprintf(f.Out, "updated %s: added %s\n", envPath, describeKeys(rep.Added, rep.Generated))
	default:
		fmt.Fprintf(f.Out, "%s is up to date with %s (%d %s)\n", envPath, tmplPath, keys, plural(keys, "key", "keys"))
	}
	if len(rep.Stale) > 0 {
		fmt.Fprintf(f.Out, "not in %s any more (kept; delete them by hand if unused): %s\n", tmplPath, strings.Join(rep.Stale, ", "))
	}
	return nil
}

type envReport struct {
	File      string   `json:"file"`
	Created   bool     `json:"created"`
	Added     []string `json:"added"`
	Generated []string `json:"generated"`
	Stale     []string `json:"stale"`
}

type driftReport struct {
	File    string   `json:"file"`
	InSync  bool     `json:"in_sync"`
	NoFile  bool     `json:"missing_file"`
	Missing []string `json:"missing"`
	Empty   []string `json:"empty"`
	Stale   []string `json:"stale"`
}

func nz(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func describeKeys(keys, generated []string) string {
	gen := map[string]bool{}
	for _, g := range generated {
		gen[g] = true
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k
		if gen[k] {
			parts[i] += " (generated)"
		}
	}
	return strings.Join(parts, ", ")
}

func envCheck(f *factory, opts *envOptions, envPath string, tmpl, current *envfile.File) error {
	d, err := envfile.Check(tmpl, current)
	if err != nil {
		return err
	}
	if opts.output == "json" {
		if err := writeJSON(f.Out, driftReport{File: envPath, InSync: d.Clean(), NoFile: d.NoFile, Missing: nz(d.Missing), Empty: nz(d.Empty), Stale: nz(d.Stale)}); err != nil {
			return err
		}
		if !d.Clean() {
			return &exitError{code: exitFailure}
		}
		return nil
	}
	if d.Clean() {
		fmt.Fprintf(f.Out, "%s is in sync with the template\n", envPath)
		return nil
	}
	var lines []string
	if d.NoFile {
		lines = append(lines, fmt.Sprintf("%s does not exist", envPath))
	} else {
		if len(d.Missing) > 0 {
			lines = append(lines, "missing from "+envPath+": "+strings.Join(d.Missing, ", "))
		}
		if len(d.Empty) > 0 {
			lines = append(lines, "empty in "+envPath+": "+strings.Join(d.Empty, ", "))
		}
		if len(d.Stale) > 0 {
			lines = append(lines, "not in the template: "+strings.Join(d.Stale, ", "))
		}
	}
	return &exitError{code: exitFailure, err: errors.New(strings.Join(lines, "\n") + "\nrun `launcher env` to bring it up to date")}
}

// promptValue asks for a required value on the terminal; secret ones are read without echo.
func (f *factory) promptValue(s envfile.Spec) (string, error) {
	for _, c := range s.Comments {
		fmt.Fprintln(f.Err, c)
	}
	fmt.Fprintf(f.Err, "%s: ", s.Key)
	if fl, ok := f.In.(*os.File); ok && s.Secret {
		b, err := term.ReadPassword(int(fl.Fd()))
		fmt.Fprintln(f.Err)
		return strings.TrimSpace(string(b)), err
	}
	if f.stdin == nil {
		f.stdin = bufio.NewReader(f.In)
	}
	line, err := f.stdin.ReadString('\n')
	if err != nil && line == "" {
		return "", err
	}
	return strings.TrimSpace(line), nil
}
