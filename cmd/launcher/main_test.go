package main

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/propital/launcher/internal/envfile"
	"github.com/propital/launcher/internal/testenv"
	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "rewrite testscript golden output (cmp) in place")

func TestMain(m *testing.M) {
	if os.Getenv("LAUNCHER_TEST_MAIN") == "1" { // the test binary re-executed as launcher
		os.Exit(Main())
	}
	testscript.Main(m, map[string]func(){
		"launcher": func() { os.Exit(Main()) },
	})
}

// TestScripts runs the CLI end-to-end scripts in testdata/script. Scripts that need a Docker
// engine carry [docker]; it is true when one answers.
func TestScripts(t *testing.T) {
	testscript.Run(t, scriptParams(t, "testdata/script"))
}

// TestDockerScripts runs the end-to-end scripts that drive a real Docker engine.
func TestDockerScripts(t *testing.T) {
	testenv.RequireDocker(t)
	p := scriptParams(t, "testdata/docker")
	p.Setup = func(e *testscript.Env) error {
		project := testenv.ProjectName("ts")
		e.Setenv("PROJECT", project)
		e.Defer(func() { testenv.RemoveProject(project) })
		return nil
	}
	testscript.Run(t, p)
}

func scriptParams(t *testing.T, dir string) testscript.Params {
	return testscript.Params{
		Dir:                 dir,
		UpdateScripts:       *update,
		RequireExplicitExec: false,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":     cmdExits,
			"perm":      cmdPerm,
			"nosecrets": cmdNoSecrets,
			"override":  cmdOverride,
		},
	}
}

// exits CODE PROG [ARGS...]: run PROG and require exactly that exit code.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// perm FILE MODE: require the file's permission bits, in octal.
func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: perm FILE MODE")
	}
	st, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	if got := st.Mode().Perm(); (uint64(got) == want) == neg {
		ts.Fatalf("%s has mode %o, want %s%o", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// nosecrets ENVFILE: no secret value of ENVFILE (as .env.template beside it marks them, or as
// the key's name says) appears in the last command's stdout or stderr.
func cmdNoSecrets(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: nosecrets ENVFILE")
	}
	out := ts.ReadFile("stdout") + ts.ReadFile("stderr")
	env, err := envfile.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	tmpl, err := envfile.ReadFile(filepath.Join(filepath.Dir(ts.MkAbs(args[0])), ".env.template"))
	ts.Check(err)
	vals := envfile.SecretValues(tmpl, env)
	if len(vals) == 0 {
		ts.Fatalf("nosecrets: %s holds no secret to look for", args[0])
	}
	for _, v := range vals {
		if strings.Contains(out, v) {
			ts.Fatalf("a secret value from %s was printed", args[0])
		}
	}
}

// override KIND...: write launcher.override.yaml naming the project $PROJECT and pointing those
// infra at the test images on free host ports (the same file a user would write).
func cmdOverride(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: override KIND...")
	}
	ts.Check(os.WriteFile(ts.MkAbs("launcher.override.yaml"), []byte(testenv.InfraOverride(ts.Getenv("PROJECT"), args...)), 0o644))
}
