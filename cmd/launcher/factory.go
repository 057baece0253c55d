package main

import (
	"bufio"
	"io"
	"os"
	"sync"

	"github.com/propital/launcher/internal/config"
	"github.com/propital/launcher/internal/envfile"
	"github.com/propital/launcher/internal/orchestrate"
	"github.com/propital/launcher/internal/orchestrate/docker"
	"github.com/propital/launcher/internal/redact"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// factory holds the process's streams and builds dependencies lazily, so that --help and
// config validate need no Docker daemon. Commands get it; nothing else does.
type factory struct {
	In     io.Reader
	Out    io.Writer // redacted
	Err    io.Writer // redacted
	Getenv func(string) (string, bool)

	rawOut, rawErr io.Writer
	stdin          *bufio.Reader // shared by every prompt, so no typed-ahead input is lost
	project        projectOptions

	mu       sync.Mutex
	secrets  []string
	redactor *redact.Redactor

	// newRuntime connects to the container engine; built on first use so that --help and
	// config commands never need a daemon. Tests may replace it.
	newRuntime func() (orchestrate.Daemon, error)
	rt         orchestrate.Daemon
}

// runtime returns the container engine client, connecting on first use.
func (f *factory) runtime() (orchestrate.Daemon, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rt == nil {
		rt, err := f.newRuntime()
		if err != nil {
			return nil, err
		}
		f.rt = rt
	}
	return f.rt, nil
}

// projectEngine loads the project, then connects: a bad config is reported before any daemon
// is needed.
func (f *factory) projectEngine() (*config.Project, *orchestrate.Engine, error) {
	p, err := f.loadProject()
	if err != nil {
		return nil, nil, err
	}
	eng, err := f.engine()
	if err != nil {
		return nil, nil, err
	}
	return p, eng, nil
}

// engine returns a new engine over the runtime, with a fresh store.
func (f *factory) engine() (*orchestrate.Engine, error) {
	rt, err := f.runtime()
	if err != nil {
		return nil, err
	}
	return orchestrate.NewEngine(rt, orchestrate.NewStore()), nil
}

func newFactory(in io.Reader, out, errw io.Writer, getenv func(string) (string, bool)) *factory {
	f := &factory{In: in, rawOut: out, rawErr: errw, Getenv: getenv}
	f.newRuntime = func() (orchestrate.Daemon, error) { return docker.New() }
	f.Out = &edgeWriter{f: f, w: out}
	f.Err = &edgeWriter{f: f, w: errw}
	return f
}

// projectOptions are the global flags that say which files make up the project.
type projectOptions struct {
	files      []string
	projectDir string
	envFile    string
}

func (o *projectOptions) addFlags(cmd *cobra.Command) {
	fl := cmd.PersistentFlags()
	fl.StringArrayVarP(&o.files, "file", "f", nil, "config file (repeatable; later files override earlier ones)\n(default: launcher.yaml, plus launcher.override.yaml when present)")
	fl.StringVar(&o.projectDir, "project-dir", "", "project directory (default: the current directory)")
	fl.StringVar(&o.envFile, "env-file", "", "the .env file (default: PROJECT_DIR/.env)")
}

func (f *factory) loadOptions() config.Options {
	return config.Options{Dir: f.project.projectDir, Files: f.project.files, EnvFile: f.project.envFile, Getenv: f.Getenv}
}

// loadProject loads the configuration and teaches the output edge its secrets.
func (f *factory) loadProject() (*config.Project, error) {
	p, err := config.Load(f.loadOptions())
	if err != nil {
		return nil, err
	}
	f.addSecrets(p.Secrets()...)
	return p, nil
}

func (f *factory) addSecrets(vals ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets = append(f.secrets, vals...)
	f.redactor = nil
}

// currentRedactor masks every secret known so far: those of .env (read on first use, even when
// the configuration does not load) and those added by loadProject.
func (f *factory) currentRedactor() *redact.Redactor {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.redactor == nil {
		envPath, tmplPath := f.loadOptions().EnvPaths()
		dot, _ := envfile.ReadFile(envPath)
		tmpl, _ := envfile.ReadFile(tmplPath)
		vals := append(envfile.SecretValues(tmpl, dot), f.secrets...)
		f.redactor = redact.New(vals...)
	}
	return f.redactor
}

// edgeWriter masks secrets in everything printed. Contract: writers above it write whole lines.
type edgeWriter struct {
	f *factory
	w io.Writer
}

func (e *edgeWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(e.w, e.f.currentRedactor().String(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

func isTerminal(v any) bool {
	if fl, ok := v.(*os.File); ok {
		return term.IsTerminal(int(fl.Fd()))
	}
	return false
}

// stdinTTY and stdoutTTY tell whether the user can be asked and shown live output.
func (f *factory) stdinTTY() bool  { return isTerminal(f.In) }
func (f *factory) stdoutTTY() bool { return isTerminal(f.rawOut) }
