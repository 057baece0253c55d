package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"

	"github.com/propital/launcher/internal/envfile"
	"go.yaml.in/yaml/v3"
)

// File names launcher looks for in the project directory.
const (
	DefaultFile  = "launcher.yaml"
	OverrideFile = "launcher.override.yaml"
	EnvFile      = ".env"
	TemplateFile = ".env.template"
)

// Options say which files make up a project.
type Options struct {
	Dir     string                      // project directory; "" is the current one
	Files   []string                    // config files, later ones override; empty: launcher.yaml (+ launcher.override.yaml)
	EnvFile string                      // "" is DIR/.env
	Getenv  func(string) (string, bool) // the process environment; nil is none
}

// Paths resolves the options to absolute-or-relative file paths as the user would write them.
func (o Options) paths() (dir string, files []string, envPath, tmplPath string) {
	dir = o.Dir
	if dir == "" {
		dir = "."
	}
	files = o.Files
	if len(files) == 0 {
		files = []string{filepath.Join(dir, DefaultFile)}
		if _, err := os.Stat(filepath.Join(dir, OverrideFile)); err == nil {
			files = append(files, filepath.Join(dir, OverrideFile))
		}
	}
	envPath = o.EnvFile
	if envPath == "" {
		envPath = filepath.Join(dir, EnvFile)
	}
	tmplPath = filepath.Join(dir, TemplateFile)
	return dir, files, envPath, tmplPath
}

// EnvPaths returns the .env and .env.template paths the options name.
func (o Options) EnvPaths() (envPath, tmplPath string) {
	_, _, e, t := o.paths()
	return e, t
}

// Load reads, merges, interpolates, decodes and validates a project. Problems with the
// configuration (syntax, types, references, variables, unreadable files) come back together as
// Errors; any other error is returned as is.
func Load(opts Options) (*Project, error) {
	dir, files, envPath, tmplPath := opts.paths()
	var errs Errors

	env := &Environment{Process: opts.Getenv}
	for _, ef := range []struct {
		path string
		dst  **envfile.File
	}{{envPath, &env.Dotenv}, {tmplPath, &env.Template}} {
		f, err := envfile.ReadFile(ef.path)
		var pe envfile.Errors
		switch {
		case errors.As(err, &pe):
			for _, e := range pe {
				errs.add(Pos{File: e.File, Line: e.Line, Col: 1}, "%s", e.Msg)
			}
		case err != nil:
			errs.add(Pos{File: ef.path}, "cannot read: %v", unwrapPath(err))
		}
		*ef.dst = f
	}
	if env.Template != nil {
		if _, err := envfile.Specs(env.Template); err != nil {
			var pe envfile.Errors
			if errors.As(err, &pe) {
				for _, e := range pe {
					errs.add(Pos{File: e.File, Line: e.Line, Col: 1}, "%s", e.Msg)
				}
			}
		}
	}

	var root *node
	for _, f := range files {
		n := parseFile(f, &errs)
		if n != nil {
			root = merge(root, n)
		}
	}
	if root == nil {
		if len(errs) == 0 {
			errs.add(Pos{File: files[0]}, "no configuration found")
		}
		return nil, errs.sorted()
	}
	p := &Project{Dir: dir, Files: files, Env: env, pos: map[string]Pos{}}
	if root.kind != yaml.MappingNode {
		errs.add(root.pos, "the top level must be a mapping with name, infra and services, not a %s", kindName(root))
		return nil, errs.sorted()
	}
	applyDefaults(root, &errs)
	in := &interpolator{env: env, errs: &errs}
	in.walk(root)
	d := &decoder{errs: &errs, pos: p.pos}
	d.decode(root, reflect.ValueOf(p).Elem(), "")
	for name, s := range p.Services {
		s.Name = name
	}
	for name, i := range p.Infra {
		i.Name = name
	}
	validate(p, &errs)
	if len(errs) > 0 {
		return nil, errs.sorted().capped(maxErrors)
	}
	return p, nil
}

func parseFile(path string, errs *Errors) *node {
	data, err := os.ReadFile(path)
	if err != nil {
		e := errs.add(Pos{File: path}, "cannot read: %v", unwrapPath(err))
		if errors.Is(err, fs.ErrNotExist) {
			e.Hint = "run launcher in the folder that holds launcher.yaml, or name it with -f / --project-dir"
		}
		return nil
	}
	if len(bytes.TrimSpace(data)) == 0 {
		errs.add(Pos{File: path, Line: 1, Col: 1}, "the file is empty").Hint = "a launcher.yaml needs at least `name:`; see `launcher schema`"
		return nil
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			errs.add(Pos{File: path, Line: 1, Col: 1}, "the file holds no configuration").Hint = "a launcher.yaml needs at least `name:`; see `launcher schema`"
		} else {
			*errs = append(*errs, yamlError(path, err))
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		errs.add(Pos{File: path, Line: extra.Line, Col: extra.Column}, "the file holds more than one YAML document; keep one")
	}
	c := &converter{file: path, errs: errs}
	n := c.convert(&doc, 0)
	if n == nil || n.isNull() {
		errs.add(Pos{File: path, Line: 1, Col: 1}, "the file holds no configuration")
		return nil
	}
	return n
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// PosOf returns where the value at a dotted path (e.g. "services.gateway.uses[1]") was written.
func (p *Project) PosOf(path string) Pos {
	if pos, ok := p.pos[path]; ok {
		return pos
	}
	if len(p.Files) > 0 {
		return Pos{File: p.Files[0]}
	}
	return Pos{}
}

// kindDefaults is what each well-known kind gets unless the config says otherwise. Credentials are
// variables from .env, never values.
var kindDefaults = map[string]string{
	"nats": `
image: nats:2.10
command: ["-js", "-sd", "/data", "-m", "8222"]
ports: ["4222:4222", "8222:8222"]
volume: /data
`,
	"redis": `
image: redis:7
command: ["redis-server", "--appendonly", "yes"]
ports: ["6379:6379"]
volume: /data
`,
	"postgres": `
image: postgres:16
env:
  POSTGRES_USER: postgres
  POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}
ports: ["5432:5432"]
volume: /var/lib/postgresql/data
`,
	"mongo": `
image: mongo:7
env:
  MONGO_INITDB_ROOT_USERNAME: root
  MONGO_INITDB_ROOT_PASSWORD: ${MONGO_ROOT_PASSWORD}
ports: ["27017:27017"]
volume: /data/db
`,
}

// Kinds lists the well-known infra kinds.
var Kinds = []string{"nats", "redis", "postgres", "mongo"}

// applyDefaults lays each infra entry over its kind's defaults, positioned at the entry's name so
// that a problem with a default (a missing variable) points at the entry that pulled it in.
func applyDefaults(root *node, errs *Errors) {
	infra := root.get("infra")
	if infra == nil || infra.kind != yaml.MappingNode {
		return
	}
	for i, k := range infra.keys {
		entry := infra.vals[i]
		if entry.isNull() {
			entry = &node{kind: yaml.MappingNode, pos: k.pos}
			infra.vals[i] = entry
		}
		if entry.kind != yaml.MappingNode {
			continue // the decoder reports it
		}
		kind := k.value
		if kn := entry.get("kind"); kn != nil && kn.kind == yaml.ScalarNode {
			kind = kn.value
		}
		src, ok := kindDefaults[kind]
		if !ok {
			continue
		}
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
			panic(fmt.Sprintf("config: bad defaults for %s: %v", kind, err)) // a bug in launcher, caught by tests
		}
		c := &converter{file: k.pos.File, errs: errs}
		def := c.convert(&doc, 0)
		setPos(def, k.pos)
		infra.vals[i] = merge(def, entry)
	}
}

func setPos(n *node, p Pos) {
	if n == nil {
		return
	}
	n.pos = p
	for _, k := range n.keys {
		setPos(k, p)
	}
	for _, v := range n.vals {
		setPos(v, p)
	}
	for _, it := range n.items {
		setPos(it, p)
	}
}
