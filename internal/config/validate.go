package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)

// validate checks what the decoder cannot: names, references, cycles, host ports, paths. It fills
// defaults (project name, infra kind, replicas, restart) as it goes.
func validate(p *Project, errs *Errors) {
	if p.Name == "" {
		abs, _ := filepath.Abs(p.Dir)
		p.Name = sanitizeName(filepath.Base(abs))
	}
	if !nameRE.MatchString(p.Name) {
		errs.add(p.PosOf("name"), "project name %q is not valid", p.Name).Hint = nameHint
	}

	for _, name := range sortedKeys(p.Infra) {
		in := p.Infra[name]
		path := "infra." + name
		at := p.PosOf(path)
		checkName(errs, at, "infra", name)
		if _, clash := p.Services[name]; clash {
			errs.add(p.PosOf("services."+name), "%q is both an infra and a service; names share one network, rename one", name)
		}
		if in.Kind == "" {
			if slices.Contains(Kinds, name) {
				in.Kind = name
			} else {
				errs.add(at, "infra %q needs a kind: one of %s, or container%s", name, strings.Join(Kinds, ", "), didYouMean(name, Kinds))
				continue
			}
		}
		if !slices.Contains(Kinds, in.Kind) && in.Kind != "container" {
			errs.add(p.PosOf(path+".kind"), "infra %q: unknown kind %q%s", name, in.Kind, didYouMean(in.Kind, append(slices.Clone(Kinds), "container"))).Hint =
				"well-known kinds are " + strings.Join(Kinds, ", ") + "; any other image is kind: container"
		}
		if in.Image == "" {
			errs.add(at, "infra %q needs an image", name)
		}
		if in.Kind != "container" && in.Health != nil {
			errs.add(p.PosOf(path+".health"), "infra %q: a %s is checked with its own client; health is for kind: container", name, in.Kind)
		}
		checkHealth(p, errs, path, in.Health)
	}

	for _, name := range sortedKeys(p.Services) {
		s := p.Services[name]
		path := "services." + name
		at := p.PosOf(path)
		checkName(errs, at, "service", name)
		switch {
		case s.Build == nil && s.Image == "":
			errs.add(at, "service %q needs build (go or dockerfile) or image", name)
		case s.Build != nil && s.Image != "":
			errs.add(p.PosOf(path+".image"), "service %q has both build and image; keep one", name)
		case s.Build != nil && (s.Build.Go == "") == (s.Build.Dockerfile == ""):
			errs.add(p.PosOf(path+".build"), "service %q: build needs exactly one of go and dockerfile", name)
		}
		if s.Build != nil && s.Path == "" && s.Repo == "" {
			errs.add(p.PosOf(path+".build"), "service %q builds from source but has no path", name).Hint = "add path: services/" + name
		}
		if s.Path != "" && s.Repo == "" {
			dir := s.Path
			if !filepath.IsAbs(dir) {
				dir = filepath.Join(p.Dir, dir)
			}
			if st, err := os.Stat(dir); err != nil {
				errs.add(p.PosOf(path+".path"), "service %q: path %s does not exist", name, s.Path).Hint = "fix the path, or add repo: so that `launcher init` clones it there"
			} else if !st.IsDir() {
				errs.add(p.PosOf(path+".path"), "service %q: path %s is not a folder", name, s.Path)
			}
		}
		if s.Ref != "" && s.Repo == "" {
			errs.add(p.PosOf(path+".ref"), "service %q: ref needs repo", name)
		}
		if s.Replicas < 0 {
			errs.add(p.PosOf(path+".replicas"), "service %q: replicas must be 1 or more", name)
		}
		if s.Replicas == 0 {
			s.Replicas = 1
		}
		if s.Restart == "" {
			s.Restart = "on-failure"
		}
		if !slices.Contains([]string{"no", "on-failure", "always"}, s.Restart) {
			errs.add(p.PosOf(path+".restart"), "service %q: restart must be no, on-failure or always, not %q", name, s.Restart)
		}
		usesSeen := map[string]bool{}
		for i, u := range s.Uses {
			at := p.PosOf(fmt.Sprintf("%s.uses[%d]", path, i))
			switch {
			case p.Infra[u] != nil:
			case p.Services[u] != nil:
				errs.add(at, "service %q uses %q, which is a service; uses names infra", name, u).Hint = "write it under depends_on"
			default:
				errs.add(at, "service %q uses unknown infra %q%s", name, u, didYouMean(u, sortedKeys(p.Infra)))
			}
			if usesSeen[u] {
				errs.add(at, "service %q lists %q twice in uses", name, u)
			}
			usesSeen[u] = true
		}
		for i, dep := range s.DependsOn {
			at := p.PosOf(fmt.Sprintf("%s.depends_on[%d]", path, i))
			switch {
			case dep == name:
				errs.add(at, "service %q depends on itself", name)
			case p.Infra[dep] == nil && p.Services[dep] == nil:
				errs.add(at, "service %q depends on unknown %q%s", name, dep, didYouMean(dep, append(sortedKeys(p.Services), sortedKeys(p.Infra)...)))
			}
		}
		checkHealth(p, errs, path, s.Health)
	}
	checkPorts(p, errs)
	checkCycles(p, errs)
	checkDeploy(p, errs)
}

var quantityRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$`)

// checkDeploy validates the deploy environments against the stack they ship.
func checkDeploy(p *Project, errs *Errors) {
	for _, env := range sortedKeys(p.Deploy) {
		d := p.Deploy[env]
		if d == nil {
			d = &DeployEnv{}
			p.Deploy[env] = d
		}
		d.Name = env
		path := "deploy." + env
		checkName(errs, p.PosOf(path), "deploy environment", env)
		if d.Cluster != "" && (d.Project == "" || d.Region == "") {
			errs.add(p.PosOf(path+".cluster"), "%s names GKE cluster %q: it also needs project and region (its location)", path, d.Cluster)
		}
		if d.Namespace == "" {
			d.Namespace = p.Name
		} else if !nameRE.MatchString(d.Namespace) {
			errs.add(p.PosOf(path+".namespace"), "namespace %q is not valid", d.Namespace).Hint = nameHint
		}
		for _, name := range sortedKeys(d.Services) {
			ds := d.Services[name]
			at := p.PosOf(path + ".services." + name)
			svc := p.Services[name]
			if svc == nil {
				errs.add(at, "%s deploys unknown service %q%s", path, name, didYouMean(name, p.ServiceNames()))
				continue
			}
			if ds == nil {
				continue
			}
			for field, v := range map[string]string{"cpu": ds.CPU, "memory": ds.Memory} {
				if v != "" && !quantityRE.MatchString(v) {
					errs.add(p.PosOf(path+".services."+name+"."+field), "%s.services.%s.%s: %q is not a Kubernetes quantity (like 250m or 256Mi)", path, name, field, v)
				}
			}
			if ds.Host != "" && len(svc.Ports) == 0 {
				errs.add(p.PosOf(path+".services."+name+".host"), "service %q has a host but publishes no port to route it to", name)
			}
		}
		for _, name := range sortedKeys(d.Infra) {
			di := d.Infra[name]
			at := p.PosOf(path + ".infra." + name)
			if p.Infra[name] == nil {
				errs.add(at, "%s places unknown infra %q%s", path, name, didYouMean(name, p.InfraNames()))
				continue
			}
			if di != nil && di.External != "" && !strings.Contains(di.External, "://") {
				errs.add(p.PosOf(path+".infra."+name+".external"), "%s.infra.%s.external must be a URL like postgres://host:5432/db", path, name)
			}
			if di != nil && di.Storage != "" && !quantityRE.MatchString(di.Storage) {
				errs.add(p.PosOf(path+".infra."+name+".storage"), "%s.infra.%s.storage: %q is not a size like 10Gi", path, name, di.Storage)
			}
		}
	}
}

const nameHint = "names are lower-case letters, digits and dashes, start with a letter, at most 40 characters"

func checkName(errs *Errors, at Pos, what, name string) {
	if !nameRE.MatchString(name) {
		errs.add(at, "%s name %q is not valid", what, name).Hint = nameHint
	}
}

func sanitizeName(s string) string {
	s = strings.ToLower(s)
	s = regexp.MustCompile(`[^a-z0-9-]+`).ReplaceAllString(s, "-")
	s = strings.Trim(s, "-")
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		s = "p-" + s
	}
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}

func checkHealth(p *Project, errs *Errors, path string, h *Health) {
	if h == nil {
		return
	}
	at := p.PosOf(path + ".health")
	set := 0
	for _, b := range []bool{h.HTTP != "", h.TCP != 0, h.Log != ""} {
		if b {
			set++
		}
	}
	if set > 1 {
		errs.add(at, "%s.health: set one of http, tcp and log", path)
	}
	if h.HTTP != "" && !strings.HasPrefix(h.HTTP, "/") {
		errs.add(p.PosOf(path+".health.http"), "%s.health.http must be a path starting with /, like /readyz", path)
	}
	if h.Log != "" {
		if _, err := regexp.Compile(h.Log); err != nil {
			errs.add(p.PosOf(path+".health.log"), "%s.health.log is not a valid regular expression: %v", path, err)
		}
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"port", h.Port}, {"tcp", h.TCP}} {
		if f.v < 0 || f.v > 65535 {
			errs.add(p.PosOf(path+".health."+f.name), "%s.health.%s must be a port from 1 to 65535", path, f.name)
		}
	}
}

// checkPorts reports two things publishing the same host port (on overlapping addresses).
func checkPorts(p *Project, errs *Errors) {
	type use struct {
		who  string
		pos  Pos
		port Port
	}
	var uses []use
	collect := func(kind, name string, ports []Port, replicas int) {
		for i, pt := range ports {
			if pt.Host == 0 {
				continue
			}
			at := p.PosOf(fmt.Sprintf("%s.%s.ports[%d]", kind, name, i))
			if replicas > 1 {
				errs.add(at, "%s %q has %d replicas, which cannot share host port %d", strings.TrimSuffix(kind, "s"), name, replicas, pt.Host).Hint = "publish only the container port (\"" + fmt.Sprint(pt.Container) + "\") to get a free host port per replica"
			}
			uses = append(uses, use{who: strings.TrimSuffix(kind, "s") + " " + name, pos: at, port: pt})
		}
	}
	for _, n := range sortedKeys(p.Infra) {
		collect("infra", n, p.Infra[n].Ports, 1)
	}
	for _, n := range sortedKeys(p.Services) {
		collect("services", n, p.Services[n].Ports, p.Services[n].Replicas)
	}
	overlap := func(a, b string) bool {
		any := func(ip string) bool { return ip == "" || ip == "0.0.0.0" || ip == "::" }
		return a == b || any(a) || any(b)
	}
	// grouped by port, so a huge (alias-expanded) list stays linear
	byPort := map[string][]use{}
	for _, b := range uses {
		key := fmt.Sprintf("%d/%s", b.port.Host, b.port.Protocol)
		for _, a := range byPort[key] {
			if overlap(a.port.HostIP, b.port.HostIP) {
				errs.add(b.pos, "host port %d is published twice: by %s (%s) and by %s", b.port.Host, a.who, a.pos, b.who).Hint = "give one of them another host port"
				break
			}
		}
		if len(byPort[key]) < 4 {
			byPort[key] = append(byPort[key], b)
		}
	}
}

// Deps returns the names a node waits for: its uses and depends_on (infra have none).
func (p *Project) Deps(name string) []string {
	s := p.Services[name]
	if s == nil {
		return nil
	}
	var out []string
	for _, d := range append(slices.Clone(s.Uses), s.DependsOn...) {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

func checkCycles(p *Project, errs *Errors) {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	reported := map[string]bool{}
	var visit func(n string)
	visit = func(n string) {
		color[n] = grey
		stack = append(stack, n)
		for _, d := range p.Deps(n) {
			if p.Services[d] == nil && p.Infra[d] == nil {
				continue
			}
			switch color[d] {
			case white:
				visit(d)
			case grey:
				i := slices.Index(stack, d)
				cycle := append(slices.Clone(stack[i:]), d)
				key := cycleKey(cycle)
				if !reported[key] {
					reported[key] = true
					idx := slices.Index(p.Services[n].DependsOn, d)
					at := p.PosOf(fmt.Sprintf("services.%s.depends_on[%d]", n, idx))
					if idx < 0 {
						at = p.PosOf("services." + n)
					}
					errs.add(at, "dependency cycle: %s", strings.Join(cycle, " → ")).Hint = "remove one of these depends_on entries"
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
	}
	for _, n := range sortedKeys(p.Services) {
		if color[n] == white {
			visit(n)
		}
	}
}

func cycleKey(c []string) string {
	m := slices.Clone(c[:len(c)-1])
	sort.Strings(m)
	return strings.Join(m, ",")
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// ServiceNames returns the services' names, sorted.
func (p *Project) ServiceNames() []string { return sortedKeys(p.Services) }

// InfraNames returns the infra names, sorted.
func (p *Project) InfraNames() []string { return sortedKeys(p.Infra) }
