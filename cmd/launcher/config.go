package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/propital/launcher/internal/config"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

func newConfigCmd(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check and show the stack definition",
		Args:  noArgs,
	}
	cmd.AddCommand(newConfigValidateCmd(f), newConfigPrintCmd(f))
	return cmd
}

type configValidateOptions struct {
	outputOptions
	quiet bool
}

func newConfigValidateCmd(f *factory) *cobra.Command {
	opts := &configValidateOptions{}
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check launcher.yaml, its override files and .env; exit 2 with every located error",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runConfigValidate(cmd.Context(), f, opts)
		},
	}
	opts.addOutputFlag(cmd, "text", "json")
	cmd.Flags().BoolVarP(&opts.quiet, "quiet", "q", false, "print nothing when valid")
	return cmd
}

// validationReport is the JSON form of config validate, for editors and scripts.
type validationReport struct {
	Valid    bool              `json:"valid"`
	Files    []string          `json:"files,omitempty"`
	Services int               `json:"services"`
	Infra    int               `json:"infra"`
	Errors   []validationError `json:"errors,omitempty"`
}

type validationError struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

func runConfigValidate(_ context.Context, f *factory, opts *configValidateOptions) error {
	p, err := f.loadProject()
	var ce config.Errors
	if err != nil && !errors.As(err, &ce) {
		return err
	}
	if opts.output == "json" {
		rep := validationReport{Valid: err == nil}
		if p != nil {
			rep.Files, rep.Services, rep.Infra = p.Files, len(p.Services), len(p.Infra)
		}
		for _, e := range ce {
			rep.Errors = append(rep.Errors, validationError{File: e.Pos.File, Line: e.Pos.Line, Column: e.Pos.Col, Message: e.Msg, Hint: e.Hint})
		}
		if werr := writeJSON(f.Out, rep); werr != nil {
			return werr
		}
		if err != nil {
			return &exitError{code: exitInvalid}
		}
		return nil
	}
	if err != nil {
		return err
	}
	if !opts.quiet {
		fmt.Fprintf(f.Out, "%s: valid: project %s, %d %s, %d infra\n",
			joinFiles(p.Files), p.Name, len(p.Services), plural(len(p.Services), "service", "services"), len(p.Infra))
	}
	return nil
}

func joinFiles(files []string) string {
	var b bytes.Buffer
	for i, f := range files {
		if i > 0 {
			b.WriteString(" + ")
		}
		b.WriteString(f)
	}
	return b.String()
}

type configPrintOptions struct {
	outputOptions
	showSecrets bool
}

func newConfigPrintCmd(f *factory) *cobra.Command {
	opts := &configPrintOptions{}
	cmd := &cobra.Command{
		Use:   "print",
		Short: "Print the merged, interpolated configuration (secrets masked)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runConfigPrint(cmd.Context(), f, opts)
		},
	}
	opts.addOutputFlag(cmd, "yaml", "json")
	cmd.Flags().BoolVar(&opts.showSecrets, "show-secrets", false, "print secret values instead of masking them")
	return cmd
}

func runConfigPrint(_ context.Context, f *factory, opts *configPrintOptions) error {
	p, err := f.loadProject()
	if err != nil {
		return err
	}
	out := f.Out
	if opts.showSecrets {
		out = f.rawOut
	}
	if opts.output == "json" {
		return writeJSON(out, p)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	_, err = out.Write(buf.Bytes())
	return err
}

type schemaOptions struct{}

func newSchemaCmd(f *factory) *cobra.Command {
	opts := &schemaOptions{}
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of launcher.yaml, for editors' YAML language servers",
		Long: `Print the JSON Schema of launcher.yaml. Save it and point your editor at it, e.g. with
a first line in launcher.yaml:  # yaml-language-server: $schema=./launcher.schema.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSchema(cmd.Context(), f, opts)
		},
	}
}

func runSchema(_ context.Context, f *factory, _ *schemaOptions) error {
	b, err := json.MarshalIndent(config.Schema(), "", "  ")
	if err != nil {
		return err
	}
	_, err = f.Out.Write(append(b, '\n'))
	return err
}
