// Package envfile reads and writes dotenv files: the `.env.template` contract committed with the
// project and the developer's own `.env` generated from it.
//
// Grammar (one entry per line; compose-compatible for the common cases):
//
//	# comment                      blank lines and comments are kept verbatim
//	KEY=value                      unquoted: surrounding space trimmed, " #..." starts a comment
//	KEY="a \"quoted\" value\n"     double quotes: \n \t \r \" \\ \$ escapes
//	KEY='literal'                  single quotes: no escapes
//	export KEY=value               the export prefix is accepted and kept
//
// In a template, `KEY=` marks a value the user must supply, `KEY=${secret}` or `KEY=${secret:N}`
// a value launcher generates (N random alphanumerics, default 32), and a comment line containing
// `@secret` marks the next key as secret without generating it.
package envfile

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// LineKind tells what a physical line of a dotenv file holds.
type LineKind int

const (
	Blank LineKind = iota
	Comment
	Pair
)

// Line is one physical line. Raw is the line exactly as read, so files round-trip byte for byte.
type Line struct {
	Kind  LineKind
	Num   int // 1-based
	Raw   string
	Key   string
	Value string // unquoted, unescaped
}

// File is a parsed dotenv file. Keys are unique (a duplicate is a parse error).
type File struct {
	Name  string
	Lines []Line
	index map[string]int // key → index in Lines
}

// Error is a located parse error.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Errors is every parse error of one file, in line order.
type Errors []*Error

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

var keyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ValidKey reports whether k can name a variable.
func ValidKey(k string) bool { return keyRE.MatchString(k) }

// Parse reads a dotenv file. It reports every bad line at once, as Errors; it never panics.
func Parse(name string, data []byte) (*File, error) {
	f := &File{Name: name, index: map[string]int{}}
	var errs Errors
	bad := func(n int, format string, a ...any) {
		errs = append(errs, &Error{File: name, Line: n, Msg: fmt.Sprintf(format, a...)})
	}
	if !utf8.Valid(data) {
		return nil, Errors{{File: name, Line: 1, Msg: "file is not UTF-8 text"}}
	}
	text := strings.TrimPrefix(string(data), "\ufeff")
	raws := strings.Split(text, "\n")
	if len(raws) > 0 && raws[len(raws)-1] == "" {
		raws = raws[:len(raws)-1]
	}
	for i, raw := range raws {
		n := i + 1
		raw = strings.TrimSuffix(raw, "\r")
		if strings.ContainsRune(raw, 0) {
			bad(n, "line holds a NUL byte")
			continue
		}
		line := Line{Num: n, Raw: raw}
		s := strings.TrimSpace(raw)
		switch {
		case s == "":
			line.Kind = Blank
		case strings.HasPrefix(s, "#"):
			line.Kind = Comment
		default:
			key, value, err := parsePair(s)
			if err != "" {
				bad(n, "%s", err)
				continue
			}
			if prev, dup := f.index[key]; dup {
				bad(n, "%s is defined twice (first at line %d); keep one", key, f.Lines[prev].Num)
				continue
			}
			line.Kind, line.Key, line.Value = Pair, key, value
			f.index[key] = len(f.Lines)
		}
		f.Lines = append(f.Lines, line)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return f, nil
}

// parsePair parses a trimmed, non-comment line. It returns a message instead of an error so the
// caller can locate it.
func parsePair(s string) (key, value, msg string) {
	if rest, ok := strings.CutPrefix(s, "export "); ok {
		s = strings.TrimLeft(rest, " \t")
	}
	eq := strings.IndexByte(s, '=')
	if eq < 0 {
		return "", "", fmt.Sprintf("expected KEY=VALUE, found %q", clip(s))
	}
	key = strings.TrimSpace(s[:eq])
	if !ValidKey(key) {
		return "", "", fmt.Sprintf("%q is not a valid variable name (letters, digits and _; not starting with a digit)", clip(key))
	}
	v := strings.TrimLeft(s[eq+1:], " \t")
	switch {
	case strings.HasPrefix(v, `"`):
		val, rest, ok := unquoteDouble(v[1:])
		if !ok {
			return "", "", fmt.Sprintf("%s: unterminated double quote", key)
		}
		if !trailerOK(rest) {
			return "", "", fmt.Sprintf("%s: unexpected text after the closing quote: %q", key, clip(rest))
		}
		return key, val, ""
	case strings.HasPrefix(v, `'`):
		end := strings.IndexByte(v[1:], '\'')
		if end < 0 {
			return "", "", fmt.Sprintf("%s: unterminated single quote", key)
		}
		if rest := v[end+2:]; !trailerOK(rest) {
			return "", "", fmt.Sprintf("%s: unexpected text after the closing quote: %q", key, clip(rest))
		}
		return key, v[1 : end+1], ""
	default:
		if strings.HasPrefix(v, "#") { // KEY=   # a comment: an empty value
			return key, "", ""
		}
		if i := strings.Index(v, " #"); i >= 0 {
			v = v[:i]
		} else if i := strings.Index(v, "\t#"); i >= 0 {
			v = v[:i]
		}
		return key, strings.TrimSpace(v), ""
	}
}

func trailerOK(rest string) bool {
	rest = strings.TrimSpace(rest)
	return rest == "" || strings.HasPrefix(rest, "#")
}

func unquoteDouble(s string) (val, rest string, ok bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			return b.String(), s[i+1:], true
		case '\\':
			if i+1 >= len(s) {
				return "", "", false
			}
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			default: // \" \\ \$ and anything else: the character itself
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// Lookup returns the value of key.
func (f *File) Lookup(key string) (string, bool) {
	if f == nil {
		return "", false
	}
	i, ok := f.index[key]
	if !ok {
		return "", false
	}
	return f.Lines[i].Value, true
}

// Line returns the line number that defines key, or 0.
func (f *File) Line(key string) int {
	if f == nil {
		return 0
	}
	if i, ok := f.index[key]; ok {
		return f.Lines[i].Num
	}
	return 0
}

// Keys returns the keys in file order.
func (f *File) Keys() []string {
	if f == nil {
		return nil
	}
	var ks []string
	for _, l := range f.Lines {
		if l.Kind == Pair {
			ks = append(ks, l.Key)
		}
	}
	return ks
}

// Comments returns the comment lines directly above key (no blank line between), in order.
func (f *File) Comments(key string) []string {
	i, ok := f.index[key]
	if !ok {
		return nil
	}
	start := i
	for start > 0 && f.Lines[start-1].Kind == Comment {
		start--
	}
	var cs []string
	for _, l := range f.Lines[start:i] {
		cs = append(cs, l.Raw)
	}
	return cs
}

// Format renders key=value so that Parse reads value back unchanged.
func Format(key, value string) string {
	if value == "" || plainRE.MatchString(value) {
		return key + "=" + value
	}
	if !strings.ContainsAny(value, "'\n\r") {
		return key + "='" + value + "'"
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return key + `="` + r.Replace(value) + `"`
}

var plainRE = regexp.MustCompile(`^[A-Za-z0-9_./:@+,=%^-]+$`)
