package repos

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// git runs the real git CLI in dir.
func gitCLI(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// remote makes a bare repository with one commit on main (and a tag v1), and a work clone to
// push more from. Returns the bare path and the work path.
func remote(t testing.TB, root, name string) (bare, work string) {
	bare = filepath.Join(root, "remotes", name+".git")
	work = filepath.Join(root, "work", name)
	os.MkdirAll(bare, 0o755)
	gitCLI(t, bare, "init", "--bare", "-q", "-b", "main")
	gitCLI(t, root, "clone", "-q", bare, work)
	os.WriteFile(filepath.Join(work, "main.go"), []byte("package main\n"), 0o644)
	os.MkdirAll(filepath.Join(work, "scripts"), 0o755)
	os.WriteFile(filepath.Join(work, "scripts", "run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755)
	os.Symlink("../main.go", filepath.Join(work, "scripts", "main-link.go"))
	gitCLI(t, work, "add", ".")
	gitCLI(t, work, "commit", "-q", "-m", "first")
	gitCLI(t, work, "tag", "v1")
	gitCLI(t, work, "push", "-q", "origin", "main", "v1")
	return bare, work
}

func commit(t testing.TB, work, file, msg string) string {
	os.WriteFile(filepath.Join(work, file), []byte(msg+"\n"), 0o644)
	gitCLI(t, work, "add", ".")
	gitCLI(t, work, "commit", "-q", "-m", msg)
	gitCLI(t, work, "push", "-q", "origin", "main")
	return gitCLI(t, work, "rev-parse", "HEAD")[:12]
}

func byName(rs []Result) map[string]Result {
	m := map[string]Result{}
	for _, r := range rs {
		m[r.Name] = r
	}
	return m
}

// TestSyncClonesUpdatesAndLeavesAlone: a first run clones (branch, tag, commit, shallow); a second
// fast-forwards the clean clone, leaves the dirty one, and reports a vanished remote while the
// others go on.
func TestSyncClonesUpdatesAndLeavesAlone(t *testing.T) {
	root := t.TempDir()
	dest := filepath.Join(root, "ws")
	var specs []Spec
	works := map[string]string{}
	for _, n := range []string{"gateway", "auth", "assets", "notifications", "gone"} {
		bare, work := remote(t, root, n)
		works[n] = work
		specs = append(specs, Spec{Name: n, URL: "file://" + bare, Path: filepath.Join(dest, "services", n)})
	}
	specs[1].Ref = "v1"                                                 // a tag
	specs[2].Ref = gitCLI(t, works["assets"], "rev-parse", "HEAD")[:12] // a commit
	specs[3].Depth = 1
	var mu sync.Mutex
	var progress []string
	res := byName(Sync(context.Background(), specs, Options{Progress: func(n, l string) { // concurrent per repository
		mu.Lock()
		progress = append(progress, n+": "+l)
		mu.Unlock()
	}}))
	for _, n := range []string{"gateway", "auth", "assets", "notifications", "gone"} {
		if res[n].Action != Cloned || res[n].Commit == "" {
			t.Errorf("%s: %+v", n, res[n])
		}
	}
	gw := filepath.Join(dest, "services", "gateway")
	if fi, err := os.Stat(filepath.Join(gw, "scripts", "run.sh")); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("executable bit lost: %v %v", fi, err)
	}
	if target, err := os.Readlink(filepath.Join(gw, "scripts", "main-link.go")); err != nil || target != "../main.go" {
		t.Errorf("symlink: %q %v", target, err)
	}
	if st, err := ReadStatus(gw); err != nil || st.Dirty {
		t.Errorf("a fresh clone is not clean: %+v %v", st, err)
	}
	if out := gitCLI(t, gw, "status", "--porcelain"); out != "" {
		t.Errorf("git itself sees changes in a fresh clone:\n%s", out)
	}
	if res["gateway"].Branch != "main" || res["auth"].Branch != "" {
		t.Errorf("branches: gateway %q, auth %q (a tag is detached)", res["gateway"].Branch, res["auth"].Branch)
	}

	// the remote moves on; one clone has local edits; one remote disappears
	next := commit(t, works["gateway"], "new.go", "second")
	commit(t, works["notifications"], "n.go", "more")
	os.WriteFile(filepath.Join(dest, "services", "notifications", "local.txt"), []byte("mine"), 0o644)
	os.RemoveAll(filepath.Join(root, "remotes", "gone.git"))
	os.RemoveAll(filepath.Join(dest, "services", "gone"))
	res = byName(Sync(context.Background(), specs, Options{}))
	if r := res["gateway"]; r.Action != Updated || r.Commit != next {
		t.Errorf("gateway: %+v, want fast-forwarded to %s", r, next)
	}
	if r := res["notifications"]; r.Action != Dirty {
		t.Errorf("notifications: %+v", r)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "services", "notifications", "local.txt")); string(b) != "mine" {
		t.Error("a dirty clone was touched")
	}
	if r := res["auth"]; r.Action != Pinned {
		t.Errorf("auth: %+v", r)
	}
	if r := res["gone"]; r.Action != Failed || !strings.Contains(r.Err, "gone.git") {
		t.Errorf("gone: %+v", r)
	}
	res = byName(Sync(context.Background(), specs[:1], Options{}))
	if res["gateway"].Action != UpToDate {
		t.Errorf("third run: %+v", res["gateway"])
	}

	st, err := ReadStatus(filepath.Join(dest, "services", "notifications"))
	if err != nil || !st.Dirty || st.Branch != "main" {
		t.Errorf("status %+v %v", st, err)
	}
	if h := Head(filepath.Join(dest, "services", "notifications")); !strings.HasSuffix(h, "-dirty") {
		t.Errorf("head %q", h)
	}
}

// TestDivergedIsLeftAlone: local commits the remote does not have are never thrown away.
func TestDivergedIsLeftAlone(t *testing.T) {
	root := t.TempDir()
	bare, work := remote(t, root, "svc")
	path := filepath.Join(root, "ws", "svc")
	spec := []Spec{{Name: "svc", URL: "file://" + bare, Path: path}}
	Sync(context.Background(), spec, Options{})
	os.WriteFile(filepath.Join(path, "local.go"), []byte("package main\n"), 0o644)
	gitCLI(t, path, "add", ".")
	gitCLI(t, path, "commit", "-q", "-m", "local work")
	if r := Sync(context.Background(), spec, Options{})[0]; r.Action != Ahead {
		t.Errorf("ahead: %+v", r)
	}
	commit(t, work, "remote.go", "remote work")
	if r := Sync(context.Background(), spec, Options{})[0]; r.Action != Diverged {
		t.Errorf("diverged: %+v", r)
	}
	st, _ := ReadStatus(path)
	if st.Ahead != 1 || st.Behind != 1 {
		t.Errorf("ahead/behind %d/%d", st.Ahead, st.Behind)
	}
}

// TestHTTPSTokenAuth: an https remote (a private CA, trusted through GIT_SSL_CAINFO) that wants a
// token gets the one from GITHUB_TOKEN, and the token never shows in results.
func TestHTTPSTokenAuth(t *testing.T) {
	root := t.TempDir()
	remote(t, root, "private")
	const token = "ghp_testtoken_123456"
	execPath := gitCLI(t, root, "--exec-path") // where this git keeps git-http-backend
	backend := &cgi.Handler{Path: filepath.Join(execPath, "git-http-backend"), Root: "/git",
		Env: []string{"GIT_PROJECT_ROOT=" + filepath.Join(root, "remotes"), "GIT_HTTP_EXPORT_ALL=1"}}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, p, ok := r.BasicAuth(); !ok || p != token {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "token required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	defer srv.Close()
	url := srv.URL + "/git/private.git"
	spec := []Spec{{Name: "private", URL: url, Path: filepath.Join(root, "ws", "private")}}
	caFile := filepath.Join(root, "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	env := func(extra map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			if k == "GIT_SSL_CAINFO" {
				return caFile, true
			}
			v, ok := extra[k]
			return v, ok
		}
	}
	noToken := env(nil)
	if r := Sync(context.Background(), spec, Options{Getenv: noToken})[0]; r.Action != Failed || !strings.Contains(r.Err, "authentication required") {
		t.Errorf("without a token: %+v", r)
	}
	var told []string
	withToken := env(map[string]string{"GITHUB_TOKEN": token})
	if r := Sync(context.Background(), spec, Options{Getenv: func(k string) (string, bool) { return token, k == "GITHUB_TOKEN" }})[0]; r.Action != Failed || !strings.Contains(r.Err, "certificate") {
		t.Errorf("an untrusted certificate must fail: %+v", r)
	}
	r := Sync(context.Background(), spec, Options{Getenv: withToken, Secrets: func(s ...string) { told = append(told, s...) }})[0]
	if r.Action != Cloned {
		t.Fatalf("with a token: %+v", r)
	}
	if len(told) != 1 || told[0] != token {
		t.Errorf("the token was not reported for masking: %v", told)
	}
	bad := []Spec{{Name: "x", URL: strings.Replace(srv.URL, "https://", "https://u:"+token+"@", 1) + "/git/nope.git", Path: filepath.Join(root, "ws", "x")}}
	if r := Sync(context.Background(), bad, Options{Getenv: noToken})[0]; strings.Contains(r.Err, token) || r.Action != Failed {
		t.Errorf("credential leaked or no failure: %+v", r)
	}
}
