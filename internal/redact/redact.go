// Package redact hides secret values at the output edge. One Redactor is built per command from
// the secret values launcher knows of (.env, derived credentials) and wraps every writer the
// program prints through, so no code path has to remember to hide a value.
package redact

import (
	"io"
	"sort"
	"strings"
	"sync"
)

// Mask replaces every secret value.
const Mask = "********"

// minLen: shorter values are too likely to match ordinary text to be masked usefully.
const minLen = 4

// Redactor masks a fixed set of values. Safe for concurrent use; a nil *Redactor masks nothing.
type Redactor struct {
	r *strings.Replacer
}

// New builds a Redactor for values; empty and very short values are ignored.
func New(values ...string) *Redactor {
	seen := map[string]bool{}
	var vs []string
	for _, v := range values {
		if len(v) >= minLen && !seen[v] {
			seen[v] = true
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return &Redactor{}
	}
	// longest first, so a secret that contains another is masked whole
	sort.Slice(vs, func(i, j int) bool { return len(vs[i]) > len(vs[j]) })
	pairs := make([]string, 0, 2*len(vs))
	for _, v := range vs {
		pairs = append(pairs, v, Mask)
	}
	return &Redactor{r: strings.NewReplacer(pairs...)}
}

// String masks s.
func (r *Redactor) String(s string) string {
	if r == nil || r.r == nil {
		return s
	}
	return r.r.Replace(s)
}

// Writer wraps w. Contract: each Write is masked on its own, so callers write whole lines (every
// printer in launcher does); a secret split across two Writes would not be seen.
func (r *Redactor) Writer(w io.Writer) io.Writer {
	if r == nil || r.r == nil {
		return w
	}
	return &writer{r: r, w: w}
}

type writer struct {
	mu sync.Mutex
	r  *Redactor
	w  io.Writer
}

func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := io.WriteString(w.w, w.r.String(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
