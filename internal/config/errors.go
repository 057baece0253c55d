package config

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one located configuration problem.
type Error struct {
	Pos  Pos
	Msg  string
	Hint string // what to do, when launcher knows
}

func (e *Error) Error() string {
	s := e.Pos.String() + ": " + e.Msg
	if e.Hint != "" {
		s += "\n\thint: " + e.Hint
	}
	return s
}

// Errors is every problem found in a configuration, sorted by position. Commands map it to exit
// code 2 ("invalid configuration"), distinct from runtime failures.
type Errors []*Error

func (es *Errors) add(p Pos, format string, a ...any) *Error {
	e := &Error{Pos: p, Msg: fmt.Sprintf(format, a...)}
	*es = append(*es, e)
	return e
}

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

func (es Errors) sorted() Errors {
	out := append(Errors(nil), es...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Pos, out[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	// the same message at the same place once (a default merged into several entries, say)
	var dedup Errors
	for i, e := range out {
		if i > 0 && e.Pos == out[i-1].Pos && e.Msg == out[i-1].Msg {
			continue
		}
		dedup = append(dedup, e)
	}
	return dedup
}

// maxErrors is how many errors a load reports; past that, one more line says how many were left.
const maxErrors = 100

func (es Errors) capped(n int) Errors {
	if len(es) <= n {
		return es
	}
	last := es[n-1]
	out := append(Errors(nil), es[:n]...)
	out = append(out, &Error{Pos: last.Pos, Msg: fmt.Sprintf("... and %d more errors; fix these first", len(es)-n)})
	return out
}

// suggest returns the candidate closest to s, if it is close enough to be a likely typo.
func suggest(s string, candidates []string) string {
	norm := func(x string) string {
		return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(x))
	}
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if norm(c) == norm(s) {
			return c
		}
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	limit := 2
	if len(s) <= 4 {
		limit = 1
	}
	if bestD <= limit {
		return best
	}
	return ""
}

// editDistance is the optimal string alignment distance: insertions, deletions, substitutions
// and swaps of neighbours ("nast" → "nats") each count one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

func didYouMean(s string, candidates []string) string {
	if m := suggest(s, candidates); m != "" {
		return fmt.Sprintf(" (did you mean %q?)", m)
	}
	return ""
}
