package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

type versionInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
}

func buildInfo() versionInfo {
	v := versionInfo{Version: version, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v.Commit = s.Value[:12]
			}
		}
	}
	return v
}

func versionString() string {
	v := buildInfo()
	s := "launcher " + v.Version
	if v.Commit != "" {
		s += " (" + v.Commit + ")"
	}
	return fmt.Sprintf("%s %s %s/%s", s, v.Go, v.OS, v.Arch)
}

type versionOptions struct {
	outputOptions
}

func newVersionCmd(f *factory) *cobra.Command {
	opts := &versionOptions{}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print launcher's version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVersion(cmd.Context(), f, opts)
		},
	}
	opts.addOutputFlag(cmd, "text", "json")
	return cmd
}

func runVersion(_ context.Context, f *factory, opts *versionOptions) error {
	if opts.output == "json" {
		return writeJSON(f.Out, buildInfo())
	}
	_, err := fmt.Fprintln(f.Out, versionString())
	return err
}

// outputOptions is the --output flag group shared by commands with machine-readable output.
type outputOptions struct {
	output  string
	allowed []string
}

func (o *outputOptions) addOutputFlag(cmd *cobra.Command, def string, allowed ...string) {
	o.allowed = append([]string{def}, allowed...)
	cmd.Flags().StringVarP(&o.output, "output", "o", def, fmt.Sprintf("output format: %v", o.allowed))
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		for _, a := range o.allowed {
			if o.output == a {
				if prev != nil {
					return prev(c, args)
				}
				return nil
			}
		}
		return &usageError{fmt.Errorf("--output %q: use one of %v", o.output, o.allowed)}
	}
}

func writeJSON(w interface{ Write([]byte) (int, error) }, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
