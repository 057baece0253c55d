// Package repos clones and updates the services' git repositories with go-git, several at once,
// and reads their state. Re-running is safe: a clean clone on its tracked branch is fetched and
// fast-forwarded; a dirty or diverged one is left alone and reported. Credentials never appear
// in its messages.
package repos

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// Spec is one repository to have at a path.
type Spec struct {
	Name  string
	URL   string
	Path  string // absolute
	Ref   string // branch, tag or commit; "" is the remote's default branch
	Depth int    // > 0: a shallow clone
}

// Action says what Sync did to a repository.
type Action string

const (
	Cloned    Action = "cloned"
	Updated   Action = "fast-forwarded"
	UpToDate  Action = "up to date"
	Dirty     Action = "left alone: uncommitted changes"
	Diverged  Action = "left alone: diverged from its upstream"
	Ahead     Action = "left alone: ahead of its upstream"
	Pinned    Action = "pinned"
	Failed    Action = "failed"
	NotAClone Action = "failed: path exists and is not a clone"
)

// Result is what happened to one repository.
type Result struct {
	Name     string        `json:"name"`
	Path     string        `json:"path"`
	Action   Action        `json:"action"`
	Branch   string        `json:"branch,omitempty"`
	Commit   string        `json:"commit,omitempty"`
	Err      string        `json:"error,omitempty"`
	Duration time.Duration `json:"-"`
}

// Options tune Sync.
type Options struct {
	Concurrency int                     // default 4
	Progress    func(name, line string) // git's progress lines, per repository; may be nil
	Getenv      func(string) (string, bool)
	Secrets     func(...string) // told every credential found, so output can mask it
}

// Sync brings every spec to its path, in parallel. One failure does not stop the others.
func Sync(ctx context.Context, specs []Spec, opts Options) []Result {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	results := make([]Result, len(specs))
	sem := make(chan struct{}, opts.Concurrency)
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			start := time.Now()
			r := syncOne(ctx, s, opts)
			r.Name, r.Path, r.Duration = s.Name, s.Path, time.Since(start)
			results[i] = r
		}()
	}
	wg.Wait()
	return results
}

func syncOne(ctx context.Context, s Spec, opts Options) Result {
	auth, err := authFor(s.URL, opts)
	if err != nil {
		return fail(s, err)
	}
	ca, err := caBundle(opts)
	if err != nil {
		return fail(s, err)
	}
	progress := &lineWriter{emit: func(l string) {
		if opts.Progress != nil {
			opts.Progress(s.Name, l)
		}
	}}
	if _, err := os.Stat(filepath.Join(s.Path, ".git")); err == nil {
		return update(ctx, s, auth, ca, progress)
	}
	if entries, err := os.ReadDir(s.Path); err == nil && len(entries) > 0 {
		return Result{Action: NotAClone, Err: fmt.Sprintf("%s holds files but no .git: move them away, or point path elsewhere", s.Path)}
	}
	return clone(ctx, s, auth, ca, progress)
}

// caBundle reads the certificates git itself would trust in addition to the system's
// (GIT_SSL_CAINFO), for servers with a private CA.
func caBundle(opts Options) ([]byte, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	p, ok := getenv("GIT_SSL_CAINFO")
	if !ok || p == "" {
		return nil, nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("GIT_SSL_CAINFO: %w", err)
	}
	return b, nil
}

func fail(s Spec, err error) Result {
	return Result{Action: Failed, Err: Redact(err.Error(), s.URL)}
}

var hexRE = regexp.MustCompile(`^[0-9a-f]{7,40}$`)

func clone(ctx context.Context, s Spec, auth transport.AuthMethod, ca []byte, progress *lineWriter) Result {
	o := &git.CloneOptions{URL: s.URL, Auth: auth, Progress: progress, Depth: s.Depth, CABundle: ca, NoCheckout: true}
	isCommit := hexRE.MatchString(s.Ref)
	if s.Ref != "" && !isCommit {
		o.ReferenceName = plumbing.NewBranchReferenceName(s.Ref)
		o.SingleBranch = s.Depth > 0
	}
	r, err := git.PlainCloneContext(ctx, s.Path, false, o)
	if err != nil && s.Ref != "" && !isCommit && (errors.Is(err, plumbing.ErrReferenceNotFound) || strings.Contains(err.Error(), "reference not found")) {
		os.RemoveAll(s.Path)
		o.ReferenceName = plumbing.NewTagReferenceName(s.Ref) // not a branch: a tag
		r, err = git.PlainCloneContext(ctx, s.Path, false, o)
	}
	if err != nil {
		os.RemoveAll(s.Path)
		return fail(s, fmt.Errorf("clone %s: %w", s.URL, err))
	}
	target, err := r.Head()
	if err != nil {
		os.RemoveAll(s.Path)
		return fail(s, fmt.Errorf("clone %s: %w", s.URL, err))
	}
	hash := target.Hash()
	if isCommit {
		h, err := r.ResolveRevision(plumbing.Revision(s.Ref))
		if err != nil {
			os.RemoveAll(s.Path)
			return fail(s, fmt.Errorf("commit %s is not in %s: %w", s.Ref, s.URL, err))
		}
		hash = *h
		if err := r.Storer.SetReference(plumbing.NewHashReference(plumbing.HEAD, hash)); err != nil {
			return fail(s, err)
		}
	}
	if err := checkout(s.Path, hash); err != nil {
		os.RemoveAll(s.Path)
		return fail(s, fmt.Errorf("check out %s: %w", s.URL, err))
	}
	res := Result{Action: Cloned}
	res.Branch, res.Commit = head(r)
	return res
}

func update(ctx context.Context, s Spec, auth transport.AuthMethod, ca []byte, progress *lineWriter) Result {
	r, err := git.PlainOpen(s.Path)
	if err != nil {
		return fail(s, err)
	}
	branch, commit := head(r)
	res := Result{Branch: branch, Commit: commit}
	wt, err := r.Worktree()
	if err != nil {
		return fail(s, err)
	}
	st, err := wt.Status()
	if err != nil {
		return fail(s, err)
	}
	if !st.IsClean() {
		res.Action = Dirty
		return res
	}
	if branch == "" { // detached: a pinned tag or commit stays where it is
		res.Action = Pinned
		return res
	}
	err = r.FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", Auth: auth, Progress: progress, CABundle: ca,
		RefSpecs: []gitconfig.RefSpec{gitconfig.RefSpec(fmt.Sprintf("+refs/heads/%s:refs/remotes/origin/%s", branch, branch))}})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fail(s, fmt.Errorf("fetch %s: %w", s.URL, err))
	}
	remote, err := r.Reference(plumbing.NewRemoteReferenceName("origin", branch), true)
	if err != nil {
		res.Action = UpToDate // no upstream branch: nothing to fast-forward to
		return res
	}
	local, _ := r.Head()
	if local.Hash() == remote.Hash() {
		res.Action = UpToDate
		return res
	}
	lc, err1 := r.CommitObject(local.Hash())
	rc, err2 := r.CommitObject(remote.Hash())
	if err1 != nil || err2 != nil {
		return fail(s, errors.Join(err1, err2))
	}
	if ok, _ := lc.IsAncestor(rc); ok {
		if err := wt.Reset(&git.ResetOptions{Commit: rc.Hash, Mode: git.HardReset}); err != nil {
			return fail(s, err)
		}
		res.Action, res.Commit = Updated, short(rc.Hash)
		return res
	}
	if ok, _ := rc.IsAncestor(lc); ok {
		res.Action = Ahead
	} else {
		res.Action = Diverged
	}
	return res
}

func head(r *git.Repository) (branch, commit string) {
	h, err := r.Head()
	if err != nil {
		return "", ""
	}
	if h.Name().IsBranch() {
		branch = h.Name().Short()
	}
	return branch, short(h.Hash())
}

func short(h plumbing.Hash) string { return h.String()[:12] }

// Status is a clone's state.
type Status struct {
	Path     string `json:"path"`
	Branch   string `json:"branch,omitempty"`
	Commit   string `json:"commit,omitempty"`
	Dirty    bool   `json:"dirty"`
	Upstream string `json:"upstream,omitempty"`
	Ahead    int    `json:"ahead"`
	Behind   int    `json:"behind"`
}

// ReadStatus reads a clone's branch, commit, dirtiness and distance from its upstream (as last
// fetched; it does not touch the network).
func ReadStatus(path string) (Status, error) {
	st := Status{Path: path}
	r, err := git.PlainOpenWithOptions(path, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return st, fmt.Errorf("%s is not a git clone: %w", path, err)
	}
	st.Branch, st.Commit = head(r)
	if wt, err := r.Worktree(); err == nil {
		if ws, err := wt.Status(); err == nil {
			st.Dirty = !ws.IsClean()
		}
	}
	if st.Branch == "" {
		return st, nil
	}
	remote, err := r.Reference(plumbing.NewRemoteReferenceName("origin", st.Branch), true)
	if err != nil {
		return st, nil
	}
	st.Upstream = "origin/" + st.Branch
	local, _ := r.Head()
	st.Ahead, st.Behind = distance(r, local.Hash(), remote.Hash())
	return st, nil
}

// distance counts commits reachable from a but not b, and from b but not a (bounded walk).
func distance(r *git.Repository, a, b plumbing.Hash) (int, int) {
	reach := func(h plumbing.Hash) map[plumbing.Hash]bool {
		seen := map[plumbing.Hash]bool{}
		c, err := r.CommitObject(h)
		if err != nil {
			return seen
		}
		iter := object.NewCommitPreorderIter(c, nil, nil)
		iter.ForEach(func(c *object.Commit) error {
			seen[c.Hash] = true
			if len(seen) > 10000 {
				return errors.New("stop")
			}
			return nil
		})
		return seen
	}
	ra, rb := reach(a), reach(b)
	ahead, behind := 0, 0
	for h := range ra {
		if !rb[h] {
			ahead++
		}
	}
	for h := range rb {
		if !ra[h] {
			behind++
		}
	}
	return ahead, behind
}

// Head returns a folder's commit (12 hex digits, "-dirty" when it has changes), or "" when it is
// not in a git clone.
func Head(path string) string {
	st, err := ReadStatus(path)
	if err != nil || st.Commit == "" {
		return ""
	}
	if st.Dirty {
		return st.Commit + "-dirty"
	}
	return st.Commit
}

// authFor picks credentials for a URL: the SSH agent or ~/.ssh keys for ssh; a token from
// GITHUB_TOKEN or GIT_TOKEN, else git's credential helpers, for https; none for file://.
func authFor(raw string, opts Options) (transport.AuthMethod, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	ep, err := transport.NewEndpoint(raw)
	if err != nil {
		return nil, fmt.Errorf("bad repository URL %s: %w", Redact(raw, raw), err)
	}
	switch ep.Protocol {
	case "ssh":
		if _, ok := getenv("SSH_AUTH_SOCK"); ok {
			if a, err := gitssh.NewSSHAgentAuth(ep.User); err == nil {
				return a, nil
			}
		}
		home, _ := os.UserHomeDir()
		for _, k := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			if a, err := gitssh.NewPublicKeysFromFile(ep.User, filepath.Join(home, ".ssh", k), ""); err == nil {
				return a, nil
			}
		}
		return nil, fmt.Errorf("no SSH credentials for %s: start an ssh-agent with your key, or put one in ~/.ssh", ep.Host)
	case "http", "https":
		if ep.User != "" && ep.Password != "" {
			report(opts, ep.Password)
			return &githttp.BasicAuth{Username: ep.User, Password: ep.Password}, nil
		}
		for _, v := range []string{"GITHUB_TOKEN", "GIT_TOKEN"} {
			if tok, ok := getenv(v); ok && tok != "" {
				report(opts, tok)
				return &githttp.BasicAuth{Username: "x-access-token", Password: tok}, nil
			}
		}
		if user, pass := credentialHelper(ep); pass != "" {
			report(opts, pass)
			return &githttp.BasicAuth{Username: user, Password: pass}, nil
		}
	}
	return nil, nil
}

func report(opts Options, secret string) {
	if opts.Secrets != nil {
		opts.Secrets(secret)
	}
}

// credentialHelper asks `git credential fill` (the user's configured helpers), without prompting.
func credentialHelper(ep *transport.Endpoint) (string, string) {
	if _, err := exec.LookPath("git"); err != nil {
		return "", ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "credential", "fill")
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GCM_INTERACTIVE=never")
	cmd.Stdin = strings.NewReader(fmt.Sprintf("protocol=%s\nhost=%s\npath=%s\n\n", ep.Protocol, hostPort(ep), strings.TrimPrefix(ep.Path, "/")))
	out, err := cmd.Output()
	if err != nil {
		return "", ""
	}
	var user, pass string
	for _, l := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(l, "=")
		switch k {
		case "username":
			user = v
		case "password":
			pass = v
		}
	}
	return user, pass
}

func hostPort(ep *transport.Endpoint) string {
	if ep.Port != 0 && ep.Port != 443 && ep.Port != 80 {
		return fmt.Sprintf("%s:%d", ep.Host, ep.Port)
	}
	return ep.Host
}

// Redact removes credentials of url (user:password@) from s.
func Redact(s, raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return s
	}
	clean := *u
	clean.User = nil
	s = strings.ReplaceAll(s, raw, clean.String())
	if p, ok := u.User.Password(); ok && p != "" {
		s = strings.ReplaceAll(s, p, "********")
	}
	return s
}

// lineWriter turns git's progress stream (lines ended by \r or \n) into lines.
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	emit func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range p {
		if c == '\r' || c == '\n' {
			if len(w.buf) > 0 {
				w.emit(strings.TrimSpace(string(w.buf)))
				w.buf = w.buf[:0]
			}
			continue
		}
		w.buf = append(w.buf, c)
	}
	return len(p), nil
}
