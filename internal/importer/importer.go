// Package importer turns a repo shaped like the platform's old launcher (a .gitmodules plus a
// docker-compose.yml and a hand-kept env template) into a launcher.yaml and a .env.template.
// Compose files are read with compose-go, compose's own library.
package importer

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/propital/launcher/internal/envfile"
	"github.com/sirupsen/logrus"
)

// Result is what an import produced and found.
type Result struct {
	LauncherYAML string
	EnvTemplate  string
	ComposeFile  string
	TemplateFile string    // the old template read, "" if none
	Missing      []Missing // variables used but defined nowhere
	Notes        []string  // decisions left to a human
}

// Missing is a variable the compose file uses that no template or .env defines.
type Missing struct {
	Name string
	File string
	Line int
}

func (m Missing) String() string {
	return fmt.Sprintf("%s:%d: %s is used but defined nowhere", m.File, m.Line, m.Name)
}

// Submodule is one entry of .gitmodules.
type Submodule struct {
	Name, Path, URL, Branch string
}

var composeNames = []string{"compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"}
var templateNames = []string{".env.template", ".env.templated", ".env.example", ".env.sample", ".env.dist"}

// Import reads dir.
func Import(ctx context.Context, dir string) (*Result, error) {
	res := &Result{}
	for _, n := range composeNames {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			res.ComposeFile = n
			break
		}
	}
	if res.ComposeFile == "" {
		return nil, fmt.Errorf("no compose file in %s (looked for %s)", dir, strings.Join(composeNames, ", "))
	}
	subs, err := ReadGitmodules(filepath.Join(dir, ".gitmodules"))
	if err != nil {
		return nil, err
	}
	known := map[string]string{} // defined variables → default
	var tmpl *envfile.File
	for _, n := range templateNames {
		f, err := envfile.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", n, err)
		}
		if f != nil {
			tmpl, res.TemplateFile = f, n
			break
		}
	}
	for _, k := range tmpl.Keys() {
		known[k], _ = tmpl.Lookup(k)
	}
	if dot, _ := envfile.ReadFile(filepath.Join(dir, ".env")); dot != nil {
		for _, k := range dot.Keys() {
			if _, ok := known[k]; !ok {
				known[k] = "" // the value is the user's; only its name is imported
			}
		}
	}
	// compose-go logs warnings (an obsolete `version:`) through logrus; launcher reports its own
	logrus.SetLevel(logrus.ErrorLevel)
	composePath := filepath.Join(dir, res.ComposeFile)
	project, err := loader.LoadWithContext(ctx, types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: composePath}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) {
		o.SkipInterpolation = true // keep ${VAR} as written: launcher.yaml interpolates them itself
		o.SkipResolveEnvironment = true
		o.SkipConsistencyCheck = true
		o.ResolvePaths = false
		o.SetProjectName(sanitize(filepath.Base(dir)), true)
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", res.ComposeFile, err)
	}
	uses, err := scanVariables(composePath)
	if err != nil {
		return nil, err
	}
	var usedNames []string
	for name := range uses {
		usedNames = append(usedNames, name)
	}
	sort.Strings(usedNames)
	for _, name := range usedNames {
		if _, ok := known[name]; !ok {
			res.Missing = append(res.Missing, Missing{Name: name, File: res.ComposeFile, Line: uses[name]})
		}
	}
	res.LauncherYAML, res.EnvTemplate = render(project, subs, known, usedNames, res)
	return res, nil
}

// ReadGitmodules parses a .gitmodules file; a missing one is no submodules.
func ReadGitmodules(p string) ([]Submodule, error) {
	f, err := os.Open(p)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var subs []Submodule
	var cur *Submodule
	sc := bufio.NewScanner(f)
	head := regexp.MustCompile(`^\[submodule\s+"([^"]+)"\]$`)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if m := head.FindStringSubmatch(l); m != nil {
			subs = append(subs, Submodule{Name: m[1]})
			cur = &subs[len(subs)-1]
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok || cur == nil {
			continue
		}
		switch strings.TrimSpace(k) {
		case "path":
			cur.Path = strings.TrimSpace(v)
		case "url":
			cur.URL = strings.TrimSpace(v)
		case "branch":
			cur.Branch = strings.TrimSpace(v)
		}
	}
	return subs, sc.Err()
}

var varRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)|\$([A-Za-z_][A-Za-z0-9_]*)`)

// scanVariables finds each variable the file uses and the first line it is used on ($$ escapes
// are skipped).
func scanVariables(p string) (map[string]int, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for i, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		line = strings.ReplaceAll(line, "$$", "")
		for _, m := range varRE.FindAllStringSubmatch(line, -1) {
			name := m[1] + m[2]
			if _, seen := out[name]; !seen {
				out[name] = i + 1
			}
		}
	}
	return out, nil
}

// kindOf maps an image to a well-known infra kind, or "".
func kindOf(image string) string {
	name := image
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	name, _, _ = strings.Cut(name, ":")
	name, _, _ = strings.Cut(name, "@")
	switch name {
	case "nats":
		return "nats"
	case "redis", "redis-stack-server":
		return "redis"
	case "postgres", "postgis":
		return "postgres"
	case "mongo", "mongodb", "mongodb-community-server":
		return "mongo"
	}
	return ""
}

var nameRE = regexp.MustCompile(`[^a-z0-9-]+`)

func sanitize(s string) string {
	s = strings.Trim(nameRE.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		s = "p-" + s
	}
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}

func q(s string) string {
	if s == "" || strings.ContainsAny(s, ":{}[],&*#?|-<>=!%@`\"' ") || strings.ContainsAny(s[:1], "$0123456789") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

func render(p *types.Project, subs []Submodule, known map[string]string, used []string, res *Result) (string, string) {
	var names []string
	for n := range p.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	infraName := map[string]string{} // compose service → launcher infra name
	kindCount := map[string]int{}
	for _, n := range names {
		s := p.Services[n]
		if s.Build == nil && s.Image != "" {
			if k := kindOf(s.Image); k != "" {
				kindCount[k]++
			}
		}
	}
	var infra, svcs strings.Builder
	var secretKeys []string
	for _, n := range names {
		s := p.Services[n]
		name := sanitize(n)
		if s.Build != nil {
			continue
		}
		kind := kindOf(s.Image)
		infraName[n] = name
		if kind != "" && kindCount[kind] == 1 && name != kind {
			res.Notes = append(res.Notes, fmt.Sprintf("%s became infra %q (services reach it by that name now)", n, name))
		}
		fmt.Fprintf(&infra, "  %s:\n", name)
		if kind == "" {
			fmt.Fprintf(&infra, "    # TODO(launcher import): %s is not a kind launcher knows; it runs as a plain container.\n", s.Image)
			fmt.Fprintf(&infra, "    # Decide how to tell it is ready (health: tcp/http/log) and whether a service should use it.\n")
			fmt.Fprintf(&infra, "    kind: container\n")
			res.Notes = append(res.Notes, fmt.Sprintf("%s (%s) runs as a plain container: check its health check", n, s.Image))
		} else if name != kind {
			fmt.Fprintf(&infra, "    kind: %s\n", kind)
		}
		fmt.Fprintf(&infra, "    image: %s\n", q(s.Image))
		writePorts(&infra, s.Ports)
		if kind == "" {
			if len(s.Command) > 0 {
				fmt.Fprintf(&infra, "    command: [%s]\n", joinQuoted(s.Command))
			}
			writeEnv(&infra, s.Environment, "    ")
			for _, v := range s.Volumes {
				if v.Type == types.VolumeTypeVolume {
					fmt.Fprintf(&infra, "    volume: %s\n", q(v.Target))
					break
				}
			}
			if len(s.Ports) > 0 {
				fmt.Fprintf(&infra, "    health: {tcp: %d}\n", s.Ports[0].Target)
			}
		} else {
			switch kind {
			case "postgres":
				secretKeys = append(secretKeys, "POSTGRES_PASSWORD")
				infra.WriteString("    # credentials: POSTGRES_PASSWORD from .env; each service that uses it gets its own role and database\n")
			case "mongo":
				secretKeys = append(secretKeys, "MONGO_ROOT_PASSWORD")
				infra.WriteString("    # credentials: MONGO_ROOT_PASSWORD from .env (user root)\n")
			}
		}
	}
	subByPath := map[string]Submodule{}
	for _, sm := range subs {
		subByPath[path.Clean(sm.Path)] = sm
	}
	for _, n := range names {
		s := p.Services[n]
		if s.Build == nil {
			continue
		}
		name := sanitize(n)
		ctxDir := path.Clean(strings.TrimPrefix(filepath.ToSlash(s.Build.Context), "./"))
		fmt.Fprintf(&svcs, "  %s:\n", name)
		fmt.Fprintf(&svcs, "    path: %s\n", q(ctxDir))
		if sm, ok := subByPath[ctxDir]; ok {
			fmt.Fprintf(&svcs, "    repo: %s\n", q(sm.URL))
			if sm.Branch != "" {
				fmt.Fprintf(&svcs, "    ref: %s\n", q(sm.Branch))
			}
		} else {
			svcs.WriteString("    # TODO(launcher import): no submodule holds this path; add repo: if it lives in its own repository\n")
		}
		df := s.Build.Dockerfile
		if df == "" {
			df = "Dockerfile"
		}
		fmt.Fprintf(&svcs, "    build: {dockerfile: %s}\n", q(df))
		if len(s.Command) > 0 {
			fmt.Fprintf(&svcs, "    command: [%s]\n", joinQuoted(s.Command))
		}
		writePorts(&svcs, s.Ports)
		var usesL, deps []string
		for d := range s.DependsOn {
			if in, ok := infraName[d]; ok {
				usesL = append(usesL, in)
			} else {
				deps = append(deps, sanitize(d))
			}
		}
		sort.Strings(usesL)
		sort.Strings(deps)
		if len(usesL) > 0 {
			fmt.Fprintf(&svcs, "    uses: [%s]\n", strings.Join(usesL, ", "))
		}
		if len(deps) > 0 {
			fmt.Fprintf(&svcs, "    depends_on: [%s]\n", strings.Join(deps, ", "))
		}
		if len(s.Environment) > 0 {
			if len(usesL) > 0 {
				svcs.WriteString("    # launcher injects NATS_URL, REDIS_URL, DATABASE_URL, MONGO_URI for `uses`; the values below win.\n")
				svcs.WriteString("    # TODO(launcher import): delete the hand-written connection strings to use the injected ones.\n")
			}
			writeEnv(&svcs, s.Environment, "    ")
		}
	}

	var y strings.Builder
	y.WriteString("# Imported by `launcher import` from " + res.ComposeFile)
	if len(subs) > 0 {
		y.WriteString(" and .gitmodules")
	}
	y.WriteString(".\n# Lines marked TODO(launcher import) need a human decision. Check with: launcher config validate\n")
	fmt.Fprintf(&y, "name: %s\n", sanitize(p.Name))
	if infra.Len() > 0 {
		y.WriteString("\ninfra:\n")
		y.WriteString(infra.String())
	}
	if svcs.Len() > 0 {
		y.WriteString("\nservices:\n")
		y.WriteString(svcs.String())
	}

	var t strings.Builder
	t.WriteString("# The environment contract, imported by `launcher import`")
	if res.TemplateFile != "" {
		t.WriteString(" from " + res.TemplateFile)
	}
	t.WriteString(".\n# `launcher env` writes .env from it: KEY= must be supplied, ${secret} values are generated.\n")
	written := map[string]bool{}
	for _, k := range secretKeys {
		if written[k] {
			continue
		}
		written[k] = true
		fmt.Fprintf(&t, "\n# Infra credential launcher needs; generated.\n%s=${secret}\n", k)
	}
	missing := map[string]int{}
	for _, m := range res.Missing {
		missing[m.Name] = m.Line
	}
	for _, k := range used {
		if written[k] {
			continue
		}
		written[k] = true
		if line, ok := missing[k]; ok {
			fmt.Fprintf(&t, "\n# TODO(launcher import): used at %s:%d but defined in no template: supply a value.\n%s=\n", res.ComposeFile, line, k)
			continue
		}
		v := known[k]
		if v == "" || envfile.LooksSecret(k) {
			if envfile.LooksSecret(k) {
				fmt.Fprintf(&t, "\n# A credential: generated here; replace it if it must match an external system.\n%s=${secret}\n", k)
				continue
			}
			fmt.Fprintf(&t, "\n%s=\n", k)
			continue
		}
		t.WriteString("\n" + envfile.Format(k, v) + "\n")
	}
	return y.String(), t.String()
}

func writePorts(b *strings.Builder, ports []types.ServicePortConfig) {
	if len(ports) == 0 {
		return
	}
	var ps []string
	for _, p := range ports {
		s := fmt.Sprint(p.Target)
		if p.Published != "" {
			s = p.Published + ":" + s
		}
		if p.HostIP != "" {
			s = p.HostIP + ":" + s
		}
		ps = append(ps, fmt.Sprintf("%q", s))
	}
	fmt.Fprintf(b, "    ports: [%s]\n", strings.Join(ps, ", "))
}

func writeEnv(b *strings.Builder, env types.MappingWithEquals, indent string) {
	if len(env) == 0 {
		return
	}
	var keys []string
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteString(indent + "env:\n")
	for _, k := range keys {
		v := ""
		if env[k] != nil {
			v = *env[k]
		} else {
			v = "${" + k + "}" // `- KEY` passes the variable through
		}
		fmt.Fprintf(b, "%s  %s: %q\n", indent, k, v)
	}
}

func joinQuoted(ss []string) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(out, ", ")
}
