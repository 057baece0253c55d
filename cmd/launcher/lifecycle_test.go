package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/propital/launcher/internal/testenv"
)

// launcherProc is the test binary re-executed as launcher in a project folder.
type launcherProc struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan string
}

func startLauncher(t *testing.T, dir string, args ...string) *launcherProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"--project-dir", dir}, args...)...)
	cmd.Env = append(os.Environ(), "LAUNCHER_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &launcherProc{t: t, cmd: cmd, lines: make(chan string, 1024)}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	return p
}

// waitLine reads output until a line matches, or fails the test at the deadline.
func (p *launcherProc) waitLine(re string, within time.Duration) {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(within)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("launcher ended before printing a line matching %q", re)
			}
			if rx.MatchString(l) {
				return
			}
		case <-deadline:
			p.t.Fatalf("no line matching %q within %s", re, within)
		}
	}
}

func projectDir(t *testing.T, project string, kinds ...string) string {
	dir := t.TempDir()
	infra := ""
	for _, k := range kinds {
		infra += "  " + k + ": {}\n"
	}
	testenv.WriteFiles(t, dir, map[string]string{
		"launcher.yaml":          "name: placeholder\ninfra:\n" + infra,
		"launcher.override.yaml": testenv.InfraOverride(project, kinds...),
		".env.template":          "POSTGRES_PASSWORD=${secret}\nMONGO_ROOT_PASSWORD=${secret}\n",
	})
	t.Cleanup(func() { testenv.RemoveProject(project) })
	return dir
}

// containers lists the project's containers as "name state", and any container whose name has
// the project's prefix but not its label (an orphan launcher lost track of).
func containers(t *testing.T, project string) (labelled []string, unlabelled []string) {
	out, err := exec.Command("docker", "ps", "-a", "--format", `{{.Names}} {{.State}} {{.Label "dev.launcher.project"}}`).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || !strings.HasPrefix(f[0], project+"-") {
			continue
		}
		if len(f) == 3 && f[2] == project {
			labelled = append(labelled, f[0]+" "+f[1])
		} else {
			unlabelled = append(unlabelled, f[0])
		}
	}
	return labelled, unlabelled
}

// TestSIGKILLDuringUpConverges kills launcher at several points of `up`, then runs
// `up --wait` again: the stack converges with one running container per node, none orphaned.
func TestSIGKILLDuringUpConverges(t *testing.T) {
	testenv.RequireDocker(t)
	kinds := []string{"nats", "postgres", "mongo", "redis"}
	points := []struct{ name, after string }{
		{"at start", ""},
		{"while starting", `starting`},
		{"after the first ready", `ready`},
		{"after provisioning", `postgres +ready`},
	}
	for _, pt := range points {
		t.Run(pt.name, func(t *testing.T) {
			project := testenv.ProjectName("kill")
			dir := projectDir(t, project, kinds...)
			p := startLauncher(t, dir, "up", "--wait")
			if pt.after != "" {
				p.waitLine(pt.after, 60*time.Second)
			}
			p.cmd.Process.Signal(syscall.SIGKILL)
			p.cmd.Wait()

			again := exec.Command(os.Args[0], "--project-dir", dir, "up", "--wait")
			again.Env = append(os.Environ(), "LAUNCHER_TEST_MAIN=1")
			out, err := again.CombinedOutput()
			if err != nil {
				t.Fatalf("up --wait after SIGKILL: %v\n%s", err, out)
			}
			got, orphans := containers(t, project)
			if len(orphans) > 0 {
				t.Errorf("orphans: %v", orphans)
			}
			want := []string{}
			for _, k := range []string{"mongo", "nats", "postgres", "redis"} {
				want = append(want, fmt.Sprintf("%s-%s-1 running", project, k))
			}
			if strings.Join(sorted(got), ",") != strings.Join(want, ",") {
				t.Errorf("containers after convergence:\n%v\nwant\n%v", sorted(got), want)
			}
		})
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// TestAttachedUpStopsOnInterrupt: attached `up` shows logs until Ctrl-C, then stops the
// containers gracefully and keeps them (down removes them).
func TestAttachedUpStopsOnInterrupt(t *testing.T) {
	testenv.RequireDocker(t)
	project := testenv.ProjectName("attach")
	dir := projectDir(t, project, "redis", "nats")
	p := startLauncher(t, dir, "up")
	p.waitLine(`is ready\. Showing logs`, 60*time.Second)
	p.cmd.Process.Signal(os.Interrupt)
	p.waitLine(`stopping`, 10*time.Second)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("launcher up ended with %v after Ctrl-C", err)
		}
	case <-time.After(60 * time.Second):
		p.cmd.Process.Kill()
		t.Fatal("launcher up did not stop within 60s of Ctrl-C")
	}
	got, _ := containers(t, project)
	if len(got) != 2 {
		t.Fatalf("containers after Ctrl-C: %v", got)
	}
	for _, c := range got {
		if !strings.HasSuffix(c, " exited") {
			t.Errorf("%s: want exited (stopped, kept)", c)
		}
	}
}
