package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/propital/launcher/internal/config"
	"github.com/propital/launcher/internal/importer"
	"github.com/spf13/cobra"
)

type importOptions struct {
	outputOptions
	out   string
	force bool
	dir   string
}

func newImportCmd(f *factory) *cobra.Command {
	opts := &importOptions{}
	cmd := &cobra.Command{
		Use:   "import [DIR]",
		Short: "Turn a .gitmodules + docker-compose.yml repo into launcher.yaml and .env.template",
		Long: `Read DIR (default: the current folder), a repo like the platform's old launcher: submodules
in .gitmodules, a docker-compose.yml, an env template (.env.template, .env.templated or
.env.example). Write launcher.yaml and .env.template:

  - submodules become services with repo and path; build services become services;
  - nats, redis, postgres and mongo images become infra; other images plain containers;
  - depends_on on infra becomes uses; environment variables become template keys;
  - every variable used but defined nowhere is reported with its file and line.

Lines a human must decide on are marked TODO(launcher import). The output passes
` + "`launcher config validate`" + `.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.dir = "."
			if len(args) == 1 {
				opts.dir = args[0]
			}
			return runImport(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.out, "out", "O", "", "folder to write into (default: DIR)")
	cmd.Flags().BoolVar(&opts.force, "force", false, "overwrite an existing launcher.yaml and .env.template")
	opts.addOutputFlag(cmd, "text", "json")
	return cmd
}

func runImport(ctx context.Context, f *factory, opts *importOptions) error {
	res, err := importer.Import(ctx, opts.dir)
	if err != nil {
		return err
	}
	out := opts.out
	if out == "" {
		out = opts.dir
	}
	files := map[string]string{config.DefaultFile: res.LauncherYAML, config.TemplateFile: res.EnvTemplate}
	if !opts.force {
		for name := range files {
			if _, err := os.Stat(filepath.Join(out, name)); err == nil {
				return &usageError{fmt.Errorf("%s already exists: use --force to overwrite it, or -O to write elsewhere", filepath.Join(out, name))}
			}
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(out, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	_, verr := config.Load(config.Options{Dir: out})
	if opts.output == "json" {
		missing := []string{}
		for _, m := range res.Missing {
			missing = append(missing, m.String())
		}
		rep := map[string]any{"written": []string{filepath.Join(out, config.DefaultFile), filepath.Join(out, config.TemplateFile)},
			"missing": missing, "notes": res.Notes, "valid": verr == nil}
		if err := writeJSON(f.Out, rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(f.Out, "wrote %s and %s from %s\n", filepath.Join(out, config.DefaultFile), filepath.Join(out, config.TemplateFile), res.ComposeFile)
		for _, m := range res.Missing {
			fmt.Fprintf(f.Out, "missing: %s (it is in .env.template now, empty: supply a value)\n", m)
		}
		for _, n := range res.Notes {
			fmt.Fprintf(f.Out, "decide: %s\n", n)
		}
	}
	var ce config.Errors
	if errors.As(verr, &ce) {
		return fmt.Errorf("the imported configuration does not validate yet:\n%w", verr)
	}
	return verr
}
