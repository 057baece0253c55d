package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func gitRun(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// bareRemote makes a bare repo with one commit of a Go file.
func bareRemote(t *testing.T, root, name string) string {
	bare := filepath.Join(root, "remotes", name+".git")
	work := filepath.Join(root, "src", name)
	os.MkdirAll(bare, 0o755)
	os.MkdirAll(work, 0o755)
	gitRun(t, bare, "init", "--bare", "-q", "-b", "main")
	gitRun(t, work, "init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(work, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
	gitRun(t, work, "add", ".")
	gitRun(t, work, "commit", "-q", "-m", "init")
	gitRun(t, work, "push", "-q", bare, "main")
	return bare
}

func launch(t *testing.T, dir string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	f := newFactory(strings.NewReader(""), &out, &errb, noEnv)
	code := run(context.Background(), f, append([]string{"--project-dir", dir}, args...))
	return code, out.String(), errb.String()
}

// TestInitClonesEnvAndReruns: init clones every repo in parallel and writes .env; a re-run is
// safe; a dirty clone is not touched; a remote that vanished is reported while the others sync.
func TestInitClonesEnvAndReruns(t *testing.T) {
	root := t.TempDir()
	yaml := "name: ws\nservices:\n"
	for _, n := range []string{"gateway", "auth", "assets"} {
		bare := bareRemote(t, root, n)
		yaml += fmt.Sprintf("  %s: {repo: \"file://%s\", path: services/%s, build: {go: .}}\n", n, bare, n)
	}
	ws := filepath.Join(root, "ws")
	os.MkdirAll(ws, 0o755)
	os.WriteFile(filepath.Join(ws, "launcher.yaml"), []byte(yaml), 0o644)
	os.WriteFile(filepath.Join(ws, ".env.template"), []byte("JWT_SECRET=${secret}\n"), 0o644)

	code, out, errs := launch(t, ws, "init", "--no-doctor")
	if code != 0 {
		t.Fatalf("init: %d\n%s\n%s", code, out, errs)
	}
	for _, n := range []string{"gateway", "auth", "assets"} {
		if !strings.Contains(out, n) || !strings.Contains(out, "cloned (main @ ") {
			t.Errorf("output lacks %s cloned:\n%s", n, out)
		}
		if _, err := os.Stat(filepath.Join(ws, "services", n, "main.go")); err != nil {
			t.Error(err)
		}
	}
	if st, err := os.Stat(filepath.Join(ws, ".env")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf(".env: %v %v", st, err)
	}
	if code, _, _ := launch(t, ws, "config", "validate"); code != 0 {
		t.Error("the cloned workspace does not validate")
	}

	os.WriteFile(filepath.Join(ws, "services", "auth", "main.go"), []byte("package main // edited\n"), 0o644)
	os.RemoveAll(filepath.Join(root, "remotes", "assets.git"))
	code, out, errs = launch(t, ws, "init", "--no-doctor")
	if code != 1 || !strings.Contains(errs, "1 of 3 repositories failed") {
		t.Fatalf("re-run: %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"gateway        up to date", "auth           left alone: uncommitted changes", "assets         failed: "} {
		if !strings.Contains(out, want) {
			t.Errorf("re-run output lacks %q:\n%s", want, out)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "services", "auth", "main.go")); !strings.Contains(string(b), "edited") {
		t.Error("a dirty clone was touched")
	}

	code, out, _ = launch(t, ws, "status", "-o", "json")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil || code != 0 || len(rows) != 3 {
		t.Fatalf("status: %d %v\n%s", code, err, out)
	}
	for _, r := range rows {
		if r["branch"] != "main" || (r["service"] == "auth") != (r["dirty"] == true) {
			t.Errorf("status row %v", r)
		}
	}
}

// TestInitFrom clones the launcher repo itself first, then its services.
func TestInitFrom(t *testing.T) {
	root := t.TempDir()
	svc := bareRemote(t, root, "svc")
	src := filepath.Join(root, "src", "platform")
	os.MkdirAll(src, 0o755)
	gitRun(t, src, "init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(src, "launcher.yaml"), []byte(fmt.Sprintf("name: platform\nservices:\n  svc: {repo: \"file://%s\", path: services/svc, image: x}\n", svc)), 0o644)
	gitRun(t, src, "add", ".")
	gitRun(t, src, "commit", "-q", "-m", "stack")
	dest := filepath.Join(root, "checkout")
	var out, errb bytes.Buffer
	f := newFactory(strings.NewReader(""), &out, &errb, noEnv)
	if code := run(context.Background(), f, []string{"--project-dir", dest, "init", "--from", src, "--no-doctor"}); code != 0 {
		t.Fatalf("init --from: %d\n%s\n%s", code, out.String(), errb.String())
	}
	if _, err := os.Stat(filepath.Join(dest, "services", "svc", "main.go")); err != nil {
		t.Error(err)
	}
}

// TestImportCommand: the old launcher repo is imported into a folder that then validates, the
// forgotten MONGO_URI is reported with its line, and nothing is overwritten without --force.
func TestImportCommand(t *testing.T) {
	out := t.TempDir()
	src, _ := filepath.Abs("../../internal/importer/testdata/oldlauncher")
	code, stdout, errs := launch(t, ".", "import", src, "-O", out)
	if code != 0 {
		t.Fatalf("import: %d\n%s\n%s", code, stdout, errs)
	}
	if !strings.Contains(stdout, "missing: docker-compose.yml:50: MONGO_URI is used but defined nowhere") || !strings.Contains(stdout, "decide: mysql") {
		t.Errorf("output:\n%s", stdout)
	}
	if code, _, _ := launch(t, out, "config", "validate"); code != 0 {
		t.Error("the imported folder does not validate")
	}
	if code, _, errs := launch(t, ".", "import", src, "-O", out); code != 2 || !strings.Contains(errs, "already exists") {
		t.Errorf("second import: %d %s", code, errs)
	}
}
