package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Project is a loaded, merged, interpolated and validated stack definition.
// Field tags drive the strict decoder, the JSON Schema (`launcher schema`) and `config print`.
type Project struct {
	Name     string                `yaml:"name" json:"name" desc:"Project name: prefixes containers, networks and volumes. Lower-case letters, digits and dashes."`
	Infra    map[string]*Infra     `yaml:"infra,omitempty" json:"infra,omitempty" desc:"Infrastructure the services use. A well-known kind by name (nats, redis, postgres, mongo) or any image with kind: container."`
	Services map[string]*Service   `yaml:"services,omitempty" json:"services,omitempty" desc:"The project's own services, built from source or run from an image."`
	Deploy   map[string]*DeployEnv `yaml:"deploy,omitempty" json:"deploy,omitempty" desc:"Kubernetes environments (launcher deploy): where the same stack ships."`

	Dir   string         `yaml:"-" json:"-"` // the project directory; relative paths resolve against it
	Files []string       `yaml:"-" json:"-"` // the config files merged, in order
	Env   *Environment   `yaml:"-" json:"-"` // where ${VAR} values came from
	pos   map[string]Pos // dotted path → where it was written; see PosOf
}

// Infra is one piece of infrastructure.
type Infra struct {
	Kind    string            `yaml:"kind,omitempty" json:"kind,omitempty" enum:"nats,redis,postgres,mongo,container" desc:"What it is. Defaults to the entry's name when that is a well-known kind."`
	Image   string            `yaml:"image,omitempty" json:"image,omitempty" desc:"Container image. Well-known kinds default to the official image."`
	Command StringList        `yaml:"command,omitempty" json:"command,omitempty" desc:"Arguments given to the image's entrypoint."`
	Ports   []Port            `yaml:"ports,omitempty" json:"ports,omitempty" desc:"Published ports, [HOST_IP:][HOST:]CONTAINER[/PROTO]. HOST_IP defaults to 127.0.0.1; no HOST picks a free port."`
	Env     map[string]string `yaml:"env,omitempty" json:"env,omitempty" desc:"Container environment."`
	Volume  string            `yaml:"volume,omitempty" json:"volume,omitempty" desc:"Container path kept in a named volume across launcher down/up."`
	Health  *Health           `yaml:"health,omitempty" json:"health,omitempty" desc:"Readiness check, for kind: container (well-known kinds are asked with their own client)."`

	Name string `yaml:"-" json:"-"`
}

// Service is one of the project's own services.
type Service struct {
	Path      string            `yaml:"path,omitempty" json:"path,omitempty" desc:"Source folder, relative to the project. With repo: where it is cloned."`
	Repo      string            `yaml:"repo,omitempty" json:"repo,omitempty" desc:"Git URL that launcher init clones into path."`
	Ref       string            `yaml:"ref,omitempty" json:"ref,omitempty" desc:"Branch, tag or commit of repo."`
	Build     *Build            `yaml:"build,omitempty" json:"build,omitempty" desc:"How to build the image: go or dockerfile."`
	Image     string            `yaml:"image,omitempty" json:"image,omitempty" desc:"A prebuilt image, instead of build."`
	Command   StringList        `yaml:"command,omitempty" json:"command,omitempty" desc:"Arguments given to the entrypoint."`
	Ports     []Port            `yaml:"ports,omitempty" json:"ports,omitempty" desc:"Published ports, [HOST_IP:][HOST:]CONTAINER[/PROTO]. HOST_IP defaults to 127.0.0.1."`
	Uses      []string          `yaml:"uses,omitempty" json:"uses,omitempty" desc:"Infra this service uses: launcher injects its connection variables and waits for it."`
	DependsOn []string          `yaml:"depends_on,omitempty" json:"depends_on,omitempty" desc:"Services or infra that must be ready first."`
	Env       map[string]string `yaml:"env,omitempty" json:"env,omitempty" desc:"Environment; wins over injected connection variables."`
	Health    *Health           `yaml:"health,omitempty" json:"health,omitempty" desc:"Readiness check."`
	Replicas  int               `yaml:"replicas,omitempty" json:"replicas,omitempty" desc:"Number of containers (default 1)."`
	Restart   string            `yaml:"restart,omitempty" json:"restart,omitempty" enum:"no,on-failure,always" desc:"Restart policy (default on-failure)."`

	Name string `yaml:"-" json:"-"`
}

// DeployEnv is one Kubernetes environment (staging, production...).
type DeployEnv struct {
	Project   string                    `yaml:"project,omitempty" json:"project,omitempty" desc:"GCP project."`
	Region    string                    `yaml:"region,omitempty" json:"region,omitempty" desc:"GCP region or zone of the cluster."`
	Cluster   string                    `yaml:"cluster,omitempty" json:"cluster,omitempty" desc:"GKE cluster name; credentials then come from application default credentials."`
	Context   string                    `yaml:"context,omitempty" json:"context,omitempty" desc:"kubeconfig context to use instead of cluster."`
	Registry  string                    `yaml:"registry,omitempty" json:"registry,omitempty" desc:"Image registry, e.g. europe-west1-docker.pkg.dev/PROJECT/REPO."`
	Namespace string                    `yaml:"namespace,omitempty" json:"namespace,omitempty" desc:"Namespace (default: the project name)."`
	Services  map[string]*DeployService `yaml:"services,omitempty" json:"services,omitempty" desc:"Per service: replicas, resources, ingress host."`
	Infra     map[string]*DeployInfra   `yaml:"infra,omitempty" json:"infra,omitempty" desc:"Per infra: in the cluster (default) or an external URL."`

	Name string `yaml:"-" json:"-"`
}

// DeployService tunes one service in an environment.
type DeployService struct {
	Replicas int    `yaml:"replicas,omitempty" json:"replicas,omitempty" desc:"Pods (default: the service's replicas)."`
	CPU      string `yaml:"cpu,omitempty" json:"cpu,omitempty" desc:"CPU request, e.g. 250m."`
	Memory   string `yaml:"memory,omitempty" json:"memory,omitempty" desc:"Memory request and limit, e.g. 256Mi."`
	Host     string `yaml:"host,omitempty" json:"host,omitempty" desc:"Public host name: an Ingress routes it to the service's first port."`
}

// DeployInfra places one infra in an environment.
type DeployInfra struct {
	External string `yaml:"external,omitempty" json:"external,omitempty" desc:"URL of a managed service (Cloud SQL, Memorystore, Atlas, a NATS cluster); the services' connection variable points at it."`
	Storage  string `yaml:"storage,omitempty" json:"storage,omitempty" desc:"Size of the persistent volume when in the cluster (default 10Gi)."`
}

// Build says how a service's image is made. Exactly one of Go and Dockerfile is set.
type Build struct {
	Go         string            `yaml:"go,omitempty" json:"go,omitempty" desc:"Go main package, relative to path (e.g. ./cmd/gateway): built on the host, packed into a minimal image."`
	Dockerfile string            `yaml:"dockerfile,omitempty" json:"dockerfile,omitempty" desc:"Dockerfile, relative to context."`
	Context    string            `yaml:"context,omitempty" json:"context,omitempty" desc:"Build context for dockerfile, relative to path (default .)."`
	Args       map[string]string `yaml:"args,omitempty" json:"args,omitempty" desc:"Build arguments for dockerfile."`
}

// Health is a readiness check. At most one of HTTP, TCP and Log is set.
type Health struct {
	HTTP    string   `yaml:"http,omitempty" json:"http,omitempty" desc:"HTTP path that answers 2xx when ready, e.g. /readyz."`
	Port    int      `yaml:"port,omitempty" json:"port,omitempty" desc:"Container port for http (default: the first published port)."`
	TCP     int      `yaml:"tcp,omitempty" json:"tcp,omitempty" desc:"Container port that accepts connections when ready."`
	Log     string   `yaml:"log,omitempty" json:"log,omitempty" desc:"Regular expression a log line matches when ready."`
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty" desc:"How long to wait for readiness (default 60s)."`
}

// Port is a published port.
type Port struct {
	HostIP    string
	Host      int // 0: a free port chosen at start
	Container int
	Protocol  string // tcp or udp
}

func (p Port) String() string {
	s := strconv.Itoa(p.Container)
	if p.Host != 0 {
		s = strconv.Itoa(p.Host) + ":" + s
	}
	if p.HostIP != "" && p.HostIP != DefaultHostIP {
		if p.Host == 0 {
			s = ":" + s
		}
		ip := p.HostIP
		if strings.Contains(ip, ":") {
			ip = "[" + ip + "]"
		}
		s = ip + ":" + s
	}
	if p.Protocol != "" && p.Protocol != "tcp" {
		s += "/" + p.Protocol
	}
	return s
}

// DefaultHostIP is where ports are published unless the config says otherwise.
const DefaultHostIP = "127.0.0.1"

func (p Port) MarshalYAML() (any, error)    { return p.String(), nil }
func (p Port) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(p.String())), nil }

// ParsePort reads [HOST_IP:][HOST:]CONTAINER[/PROTO].
func ParsePort(s string) (Port, error) {
	p := Port{HostIP: DefaultHostIP, Protocol: "tcp"}
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		p.Protocol = s[i+1:]
		s = s[:i]
		if p.Protocol != "tcp" && p.Protocol != "udp" {
			return p, fmt.Errorf("protocol %q must be tcp or udp", p.Protocol)
		}
	}
	var parts []string
	if strings.HasPrefix(s, "[") { // [::1]:80:80
		end := strings.Index(s, "]")
		if end < 0 {
			return p, fmt.Errorf("unclosed [ in host address")
		}
		p.HostIP = s[1:end]
		rest := strings.TrimPrefix(s[end+1:], ":")
		parts = append([]string{p.HostIP}, strings.Split(rest, ":")...)
	} else {
		parts = strings.Split(s, ":")
	}
	num := func(v, what string, zeroOK bool) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 65535 || (n == 0 && !zeroOK) {
			return 0, fmt.Errorf("%s port %q must be a number from 1 to 65535", what, v)
		}
		return n, nil
	}
	var err error
	switch len(parts) {
	case 1:
		p.Container, err = num(parts[0], "container", false)
	case 2:
		if p.Host, err = num(parts[0], "host", true); err == nil {
			p.Container, err = num(parts[1], "container", false)
		}
	case 3:
		p.HostIP = parts[0]
		if parts[1] != "" {
			p.Host, err = num(parts[1], "host", true)
		}
		if err == nil {
			p.Container, err = num(parts[2], "container", false)
		}
	default:
		err = fmt.Errorf("expected [HOST_IP:][HOST:]CONTAINER[/PROTO]")
	}
	return p, err
}

func (p *Port) unmarshalNode(n *node) string {
	if n.kind != yaml.ScalarNode || n.isNull() {
		return fmt.Sprintf("a port must be a string like \"3000:3000\", not a %s", kindName(n))
	}
	v, err := ParsePort(n.value)
	if err != nil {
		return fmt.Sprintf("bad port %q: %v", n.value, err)
	}
	*p = v
	return ""
}

func (Port) jsonSchema() map[string]any {
	return map[string]any{
		"description": "[HOST_IP:][HOST:]CONTAINER[/PROTO]",
		"anyOf": []any{
			map[string]any{"type": "string", "pattern": `^(\[[0-9a-fA-F:]+\]:|[0-9.]+:)?([0-9]{1,5}:)?[0-9]{1,5}(/(tcp|udp))?$`},
			map[string]any{"type": "integer", "minimum": 1, "maximum": 65535},
		},
	}
}

// StringList is a list of strings that may be written as one string, split on white space.
type StringList []string

func (l *StringList) unmarshalNode(n *node) string {
	switch n.kind {
	case yaml.ScalarNode:
		*l = strings.Fields(n.value)
		return ""
	case yaml.SequenceNode:
		var out []string
		for _, it := range n.items {
			if it.kind != yaml.ScalarNode || it.isNull() {
				return fmt.Sprintf("list items must be strings, found a %s", kindName(it))
			}
			out = append(out, it.value)
		}
		*l = out
		return ""
	}
	return fmt.Sprintf("expected a string or a list of strings, found a %s", kindName(n))
}

func (StringList) jsonSchema() map[string]any {
	return map[string]any{"anyOf": []any{
		map[string]any{"type": "string"},
		map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
	}}
}

// Duration is a time.Duration written as "30s" or a number of seconds.
type Duration time.Duration

func (d *Duration) unmarshalNode(n *node) string {
	if n.kind != yaml.ScalarNode {
		return fmt.Sprintf("expected a duration like \"30s\", found a %s", kindName(n))
	}
	if secs, err := strconv.ParseFloat(n.value, 64); err == nil && secs >= 0 {
		*d = Duration(secs * float64(time.Second))
		return ""
	}
	v, err := time.ParseDuration(n.value)
	if err != nil || v < 0 {
		return fmt.Sprintf("bad duration %q: write it like 500ms, 30s or 2m", n.value)
	}
	*d = Duration(v)
	return ""
}

func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(time.Duration(d).String())), nil
}

func (Duration) jsonSchema() map[string]any {
	return map[string]any{"anyOf": []any{
		map[string]any{"type": "string", "pattern": `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`},
		map[string]any{"type": "number", "minimum": 0},
	}}
}
