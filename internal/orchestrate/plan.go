package orchestrate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/propital/launcher/internal/config"
)

// Node is one service or infra in the plan: what to run and what it waits for.
type Node struct {
	Name     string
	Role     string // "infra" or "service"
	Kind     string // nats, redis, postgres, mongo, container, service
	Deps     []string
	Image    string     // what runs; for built services, the tag launcher builds
	Build    *BuildSpec // nil: the image is pulled when missing
	Cmd      []string
	Env      map[string]string
	Ports    []PortBinding
	Mounts   []Mount
	Replicas int
	Restart  string
	Health   *config.Health
	Timeout  time.Duration // readiness deadline
	Users    []string      // for postgres and mongo: services that use it (to provision)
	Commit   string        // the source's git commit, labelled on built images; set by the caller
}

// BuildSpec says how launcher makes a service's image.
type BuildSpec struct {
	Dir        string // service folder
	Go         string // main package, relative to Dir
	Dockerfile string
	Context    string
	Args       map[string]string
}

// Plan is a project as a graph of nodes.
type Plan struct {
	Project *config.Project
	Nodes   map[string]*Node
	Order   []string // dependencies before dependents; ties by name
}

// DefaultTimeout is how long a node may take to become ready unless its health says otherwise.
const DefaultTimeout = 90 * time.Second

// NewPlan builds the graph. The project is already validated, so it has no cycles.
func NewPlan(p *config.Project) *Plan {
	pl := &Plan{Project: p, Nodes: map[string]*Node{}}
	for _, name := range p.InfraNames() {
		in := p.Infra[name]
		n := &Node{Name: name, Role: "infra", Kind: in.Kind, Image: in.Image, Cmd: in.Command, Env: map[string]string{},
			Replicas: 1, Restart: "on-failure", Health: in.Health, Timeout: timeoutOf(in.Health)}
		for k, v := range in.Env {
			n.Env[k] = v
		}
		n.Ports = bindings(in.Ports)
		if main := in.Port(); main != 0 {
			n.Ports = ensurePublished(n.Ports, main)
		}
		if in.Volume != "" {
			n.Mounts = []Mount{{Volume: p.VolumeName(name), Target: in.Volume}}
		}
		pl.Nodes[name] = n
	}
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		n := &Node{Name: name, Role: "service", Kind: "service", Deps: p.Deps(name), Image: s.Image, Cmd: s.Command,
			Env: p.ServiceEnv(name), Replicas: s.Replicas, Restart: s.Restart, Health: s.Health, Timeout: timeoutOf(s.Health)}
		n.Ports = bindings(s.Ports)
		if h := s.Health; h != nil && (h.HTTP != "" || h.TCP != 0) {
			n.Ports = ensurePublished(n.Ports, healthPort(s))
		}
		if s.Build != nil {
			dir := s.Path
			if !filepath.IsAbs(dir) {
				dir = filepath.Join(p.Dir, dir)
			}
			n.Build = &BuildSpec{Dir: dir, Go: s.Build.Go, Dockerfile: s.Build.Dockerfile, Context: s.Build.Context, Args: s.Build.Args}
			n.Image = fmt.Sprintf("launcher/%s-%s:dev", p.Name, name)
		}
		for _, u := range s.Uses {
			if in := pl.Nodes[u]; in != nil && (in.Kind == "postgres" || in.Kind == "mongo") {
				in.Users = append(in.Users, name)
			}
		}
		pl.Nodes[name] = n
	}
	pl.Order = topoOrder(pl.Nodes)
	return pl
}

func timeoutOf(h *config.Health) time.Duration {
	if h != nil && h.Timeout > 0 {
		return time.Duration(h.Timeout)
	}
	return DefaultTimeout
}

// healthPort is the container port an http or tcp probe asks.
func healthPort(s *config.Service) int {
	h := s.Health
	switch {
	case h.TCP != 0:
		return h.TCP
	case h.Port != 0:
		return h.Port
	case len(s.Ports) > 0:
		return s.Ports[0].Container
	}
	return 8080
}

func bindings(ports []config.Port) []PortBinding {
	var out []PortBinding
	for _, p := range ports {
		out = append(out, PortBinding{HostIP: p.HostIP, HostPort: p.Host, ContainerPort: p.Container, Protocol: p.Protocol})
	}
	return out
}

// ensurePublished publishes a container port on 127.0.0.1 (a free host port) when the config
// does not, so that launcher can probe it from the host.
func ensurePublished(ports []PortBinding, port int) []PortBinding {
	for _, p := range ports {
		if p.ContainerPort == port && p.Protocol != "udp" {
			return ports
		}
	}
	return append(ports, PortBinding{HostIP: config.DefaultHostIP, ContainerPort: port, Protocol: "tcp"})
}

func topoOrder(nodes map[string]*Node) []string {
	var names []string
	for n := range nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	seen := map[string]bool{}
	var order []string
	var visit func(string)
	visit = func(n string) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, d := range nodes[n].Deps {
			if nodes[d] != nil {
				visit(d)
			}
		}
		order = append(order, n)
	}
	for _, n := range names {
		visit(n)
	}
	return order
}

// Select returns the named nodes and everything they depend on; no names selects all.
func (pl *Plan) Select(names []string) (map[string]bool, error) {
	sel := map[string]bool{}
	if len(names) == 0 {
		for n := range pl.Nodes {
			sel[n] = true
		}
		return sel, nil
	}
	var add func(string)
	add = func(n string) {
		if sel[n] {
			return
		}
		sel[n] = true
		for _, d := range pl.Nodes[n].Deps {
			add(d)
		}
	}
	for _, n := range names {
		if pl.Nodes[n] == nil {
			var known []string
			for k := range pl.Nodes {
				known = append(known, k)
			}
			sort.Strings(known)
			return nil, &UnknownNodeError{Name: n, Project: pl.Project.Name, Known: known}
		}
		add(n)
	}
	return sel, nil
}

// Dependents returns the nodes that depend on name, directly.
func (pl *Plan) Dependents(name string) []string {
	var out []string
	for _, n := range pl.Order {
		for _, d := range pl.Nodes[n].Deps {
			if d == name {
				out = append(out, n)
			}
		}
	}
	return out
}

// Spec is the container spec of one replica; imageID pins the exact image into the config hash,
// so a rebuilt image recreates the container while an unchanged one keeps it.
func (pl *Plan) Spec(n *Node, replica int, imageID string) ContainerSpec {
	p := pl.Project
	env := make([]string, 0, len(n.Env))
	for k, v := range n.Env {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	spec := ContainerSpec{
		Name: p.ContainerName(n.Name, replica), Image: n.Image, Cmd: n.Cmd, Env: env,
		Network: p.NetworkName(), Aliases: []string{n.Name}, Ports: n.Ports, Mounts: n.Mounts, Restart: n.Restart,
		Labels: map[string]string{
			config.LabelProject: p.Name, config.LabelService: n.Name, config.LabelRole: n.Role,
			config.LabelReplica: strconv.Itoa(replica),
		},
	}
	if n.Kind == "postgres" {
		spec.StopSignal = "SIGINT" // fast shutdown, as the official image does
	}
	h := sha256.New()
	json.NewEncoder(h).Encode(struct {
		S       ContainerSpec
		ImageID string
	}{spec, imageID})
	spec.Labels[config.LabelHash] = hex.EncodeToString(h.Sum(nil))[:16]
	return spec
}

// ProjectLabels select everything of the project.
func (pl *Plan) ProjectLabels() map[string]string {
	return map[string]string{config.LabelProject: pl.Project.Name}
}

// UnknownNodeError is a command-line name that the project does not have.
type UnknownNodeError struct {
	Name, Project string
	Known         []string
}

func (e *UnknownNodeError) Error() string {
	return fmt.Sprintf("no service or infra named %q in %s (there are: %s)", e.Name, e.Project, strings.Join(e.Known, ", "))
}
