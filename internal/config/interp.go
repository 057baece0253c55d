package config

import (
	"fmt"
	"strings"

	"github.com/propital/launcher/internal/envfile"
	"go.yaml.in/yaml/v3"
)

// Environment resolves ${VAR} with compose's precedence: the process environment, then .env,
// then the template's declarations (so a fresh clone validates before `launcher env` has run).
type Environment struct {
	Process  func(string) (string, bool) // nil: none
	Dotenv   *envfile.File               // nil when .env does not exist
	Template *envfile.File               // nil when .env.template does not exist
	specs    map[string]envfile.Spec
}

// Source says where a variable's value comes from.
type Source int

const (
	Undefined Source = iota
	FromProcess
	FromDotenv
	FromTemplate // declared by the template; .env does not have it yet
)

// Lookup returns a variable's value and where it came from.
func (e *Environment) Lookup(name string) (string, Source) {
	if e == nil {
		return "", Undefined
	}
	if e.Process != nil {
		if v, ok := e.Process(name); ok {
			return v, FromProcess
		}
	}
	if v, ok := e.Dotenv.Lookup(name); ok {
		return v, FromDotenv
	}
	if e.Template != nil {
		if e.specs == nil {
			e.specs = map[string]envfile.Spec{}
			if specs, err := envfile.Specs(e.Template); err == nil {
				for _, s := range specs {
					e.specs[s.Key] = s
				}
			}
		}
		if s, ok := e.specs[name]; ok {
			return s.Default, FromTemplate
		}
	}
	return "", Undefined
}

// Secrets returns the secret values known to the environment, for the redactor.
func (e *Environment) Secrets() []string {
	if e == nil {
		return nil
	}
	vals := envfile.SecretValues(e.Template, e.Dotenv)
	if e.Process != nil && e.Template != nil {
		if specs, err := envfile.Specs(e.Template); err == nil {
			for _, s := range specs {
				if v, ok := e.Process(s.Key); ok && s.Secret {
					vals = append(vals, v)
				}
			}
		}
	}
	return vals
}

// interpolator substitutes variables in every scalar of a tree, collecting located errors.
type interpolator struct {
	env  *Environment
	errs *Errors
	used map[string][]Pos
}

func (in *interpolator) walk(n *node) {
	if n == nil {
		return
	}
	switch n.kind {
	case yaml.ScalarNode:
		if n.tag == "!!str" && strings.Contains(n.value, "$") {
			v, err := in.expand(n.value, n.pos, 0)
			if err != nil {
				in.errs.add(n.pos, "%v", err).Hint = hintFor(err)
				return
			}
			n.value = v
		}
	case yaml.MappingNode:
		for _, v := range n.vals {
			in.walk(v)
		}
	case yaml.SequenceNode:
		for _, it := range n.items {
			in.walk(it)
		}
	}
}

type varError struct {
	name, msg string
	undefined bool
}

func (e *varError) Error() string { return e.msg }

func hintFor(err error) string {
	if ve, ok := err.(*varError); ok && ve.undefined {
		return fmt.Sprintf("add %s to .env.template (and run `launcher env`), set it in the environment, or write ${%s:-default}", ve.name, ve.name)
	}
	return ""
}

// expand implements compose's syntax: $VAR ${VAR} ${VAR:-default} ${VAR-default} ${VAR:?error}
// ${VAR?error} ${VAR:+alt} ${VAR+alt}, and $$ for a literal $. Defaults may hold variables.
func (in *interpolator) expand(s string, pos Pos, depth int) (string, error) {
	if depth > 10 {
		return "", fmt.Errorf("variables nested too deeply in %q", clip(s))
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			b.WriteByte('$')
			continue
		}
		switch next := s[i+1]; {
		case next == '$':
			b.WriteByte('$')
			i++
		case next == '{':
			end := matchBrace(s, i+1)
			if end < 0 {
				return "", fmt.Errorf("unclosed ${ in %q", clip(s))
			}
			v, err := in.braced(s[i+2:end], pos, depth)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			i = end
		case isNameStart(next):
			j := i + 1
			for j < len(s) && isNameChar(s[j]) {
				j++
			}
			name := s[i+1 : j]
			v, src := in.lookup(name, pos)
			if src == Undefined {
				return "", undefinedErr(name)
			}
			b.WriteString(v)
			i = j - 1
		default:
			b.WriteByte('$')
		}
	}
	return b.String(), nil
}

func undefinedErr(name string) error {
	return &varError{name: name, undefined: true, msg: fmt.Sprintf("variable %s is not defined in .env, .env.template or the environment", name)}
}

func (in *interpolator) lookup(name string, pos Pos) (string, Source) {
	if in.used != nil {
		in.used[name] = append(in.used[name], pos)
	}
	return in.env.Lookup(name)
}

func (in *interpolator) braced(expr string, pos Pos, depth int) (string, error) {
	j := 0
	for j < len(expr) && isNameChar(expr[j]) {
		j++
	}
	name, rest := expr[:j], expr[j:]
	if name == "" || !isNameStart(name[0]) {
		return "", fmt.Errorf("bad variable reference ${%s}: a name starts with a letter or _", clip(expr))
	}
	val, src := in.lookup(name, pos)
	set := src != Undefined
	nonEmpty := set && val != ""
	if rest == "" {
		if !set {
			return "", undefinedErr(name)
		}
		return val, nil
	}
	op, arg := rest, ""
	for _, o := range []string{":-", ":?", ":+", "-", "?", "+"} {
		if strings.HasPrefix(rest, o) {
			op, arg = o, rest[len(o):]
			break
		}
	}
	switch op {
	case ":-", "-":
		if nonEmpty || (op == "-" && set) {
			return val, nil
		}
		return in.expand(arg, pos, depth+1)
	case ":+", "+":
		if nonEmpty || (op == "+" && set) {
			return in.expand(arg, pos, depth+1)
		}
		return "", nil
	case ":?", "?":
		if nonEmpty || (op == "?" && set) {
			return val, nil
		}
		msg, err := in.expand(arg, pos, depth+1)
		if err != nil {
			return "", err
		}
		if msg == "" {
			msg = "is required"
		}
		what := "not set"
		if set {
			what = "empty"
		}
		return "", &varError{name: name, msg: fmt.Sprintf("variable %s is %s: %s", name, what, msg)}
	}
	return "", fmt.Errorf("bad variable reference ${%s}: after the name write :-, -, :?, ?, :+ or +", clip(expr))
}

func matchBrace(s string, open int) int {
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

func isNameStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isNameChar(c byte) bool  { return isNameStart(c) || (c >= '0' && c <= '9') }

func clip(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
