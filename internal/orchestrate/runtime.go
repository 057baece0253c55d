// Package orchestrate is launcher's engine: it plans a project into a graph of containers,
// reconciles them against what runs (read back from labels), waits for real readiness, and
// publishes typed events into one Store that printers and the dashboard subscribe to.
// It never prints, and never imports a UI library.
package orchestrate

import (
	"context"
	"io"
	"time"
)

// Runtime is what the engine needs from a container engine. internal/orchestrate/docker
// implements it over the Docker Engine API; tests may use a hand-written fake.
// Methods are safe for concurrent use.
type Runtime interface {
	Ping(ctx context.Context) (RuntimeInfo, error)

	EnsureNetwork(ctx context.Context, name string, labels map[string]string) error
	RemoveNetwork(ctx context.Context, name string) error
	EnsureVolume(ctx context.Context, name string, labels map[string]string) error
	ListVolumes(ctx context.Context, labels map[string]string) ([]string, error)
	RemoveVolume(ctx context.Context, name string) error

	// ImageID returns the local image's ID, or "" when it is not there.
	ImageID(ctx context.Context, ref string) (string, error)
	// ImageLabel returns one label of a local image ("" when absent or no image).
	ImageLabel(ctx context.Context, ref, label string) (string, error)
	PullImage(ctx context.Context, ref string, progress func(string)) error
	// LoadImage loads a `docker save` format tarball.
	LoadImage(ctx context.Context, tarball io.Reader) error
	// BuildImage builds a Dockerfile from a tar of its context.
	BuildImage(ctx context.Context, context io.Reader, dockerfile, tag string, args map[string]*string, labels map[string]string, progress func(string)) error

	// ListContainers returns the containers (running or not) with all of the labels.
	ListContainers(ctx context.Context, labels map[string]string) ([]Container, error)
	CreateContainer(ctx context.Context, spec ContainerSpec) (id string, err error)
	StartContainer(ctx context.Context, id string) error
	StopContainer(ctx context.Context, id string, timeout time.Duration) error
	RemoveContainer(ctx context.Context, id string) error
	InspectContainer(ctx context.Context, id string) (Container, error)
	// Logs streams a container's output, one line per callback call, until ctx ends or the
	// container stops (follow) or the log ends.
	Logs(ctx context.Context, id string, opts LogOptions, line func(LogLine)) error
	// Stats samples a container's cumulative CPU time and its memory in use, at once.
	Stats(ctx context.Context, id string) (StatsSample, error)
	// Events reports container lifecycle events of one project until ctx ends.
	Events(ctx context.Context, labels map[string]string) (<-chan RuntimeEvent, <-chan error)
}

// RuntimeInfo describes the engine.
type RuntimeInfo struct {
	Version    string
	APIVersion string
	OS, Arch   string
}

// ContainerSpec is everything needed to create one container.
type ContainerSpec struct {
	Name       string
	Image      string
	Cmd        []string
	Env        []string // KEY=VALUE, sorted
	Labels     map[string]string
	Network    string
	Aliases    []string
	Ports      []PortBinding
	Mounts     []Mount
	Restart    string // no, on-failure, always
	StopSignal string
}

// PortBinding publishes a container port on the host. HostPort 0 picks a free port.
type PortBinding struct {
	HostIP        string
	HostPort      int
	ContainerPort int
	Protocol      string
}

// Mount is a named volume at a container path.
type Mount struct {
	Volume string
	Target string
}

// Container is a container as the runtime reports it.
type Container struct {
	ID        string
	Name      string
	Image     string
	Labels    map[string]string
	State     string // created, running, restarting, exited, dead, paused
	ExitCode  int
	OOMKilled bool
	StartedAt time.Time
	Restarts  int
	Ports     []PortBinding // as published, with the host ports chosen
}

// LogOptions select what Logs returns.
type LogOptions struct {
	Follow     bool
	Tail       int // < 0: all
	Since      time.Time
	Timestamps bool
}

// LogLine is one line of a container's output.
type LogLine struct {
	Time   time.Time
	Stderr bool
	Text   string
}

// RuntimeEvent is a container lifecycle event.
type RuntimeEvent struct {
	Time      time.Time
	Container string // ID
	Labels    map[string]string
	Action    string // start, die, oom, kill, stop, destroy, restart
	ExitCode  int
}

// StatsSample is one reading of a container's resource use. CPU percentages come from two
// samples: (ΔCPU / ΔSystem) × online CPUs × 100.
type StatsSample struct {
	CPUTotal    uint64 // container CPU time, ns
	SystemTotal uint64 // host CPU time, ns
	OnlineCPUs  int
	MemBytes    uint64 // usage less page cache
}
