package orchestrate

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"
)

// fakeRuntime is a hand-written in-memory Runtime for the engine's logic: containers "run" as
// soon as they start and publish every port on a made-up host port.
type fakeRuntime struct {
	mu         sync.Mutex
	next       int
	containers map[string]*Container
	images     map[string]string
	created    []string // names, in creation order
	started    []string
	removed    []string
	volumes    map[string]bool
}

func newFake(images ...string) *fakeRuntime {
	f := &fakeRuntime{containers: map[string]*Container{}, images: map[string]string{}, volumes: map[string]bool{}}
	for _, im := range images {
		f.images[im] = "sha256:" + im
	}
	return f
}

func (f *fakeRuntime) Ping(context.Context) (RuntimeInfo, error) {
	return RuntimeInfo{Arch: "amd64"}, nil
}
func (f *fakeRuntime) EnsureNetwork(context.Context, string, map[string]string) error { return nil }
func (f *fakeRuntime) RemoveNetwork(context.Context, string) error                    { return nil }
func (f *fakeRuntime) EnsureVolume(_ context.Context, name string, _ map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.volumes[name] = true
	return nil
}
func (f *fakeRuntime) ListVolumes(context.Context, map[string]string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for v := range f.volumes {
		out = append(out, v)
	}
	sort.Strings(out)
	return out, nil
}
func (f *fakeRuntime) RemoveVolume(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.volumes, name)
	return nil
}
func (f *fakeRuntime) ImageID(_ context.Context, ref string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.images[ref], nil
}
func (f *fakeRuntime) ImageLabel(context.Context, string, string) (string, error) { return "", nil }
func (f *fakeRuntime) PullImage(_ context.Context, ref string, _ func(string)) error {
	return fmt.Errorf("no registry in the fake: %s", ref)
}
func (f *fakeRuntime) LoadImage(context.Context, io.Reader) error { return nil }
func (f *fakeRuntime) BuildImage(context.Context, io.Reader, string, string, map[string]*string, map[string]string, func(string)) error {
	return nil
}

func (f *fakeRuntime) ListContainers(_ context.Context, labels map[string]string) ([]Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Container
next:
	for _, c := range f.containers {
		for k, v := range labels {
			if c.Labels[k] != v {
				continue next
			}
		}
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fakeRuntime) CreateContainer(_ context.Context, s ContainerSpec) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.containers {
		if c.Name == s.Name {
			return "", fmt.Errorf("the container name %q is already in use", s.Name)
		}
	}
	if f.images[s.Image] == "" {
		return "", fmt.Errorf("no image %s", s.Image)
	}
	f.next++
	id := fmt.Sprintf("c%d", f.next)
	c := &Container{ID: id, Name: s.Name, Image: s.Image, Labels: s.Labels, State: "created"}
	for i, p := range s.Ports {
		hp := p.HostPort
		if hp == 0 {
			hp = 40000 + f.next*10 + i
		}
		c.Ports = append(c.Ports, PortBinding{HostIP: p.HostIP, HostPort: hp, ContainerPort: p.ContainerPort, Protocol: p.Protocol})
	}
	f.containers[id] = c
	f.created = append(f.created, s.Name)
	return id, nil
}

func (f *fakeRuntime) StartContainer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	if c == nil {
		return fmt.Errorf("no container %s", id)
	}
	c.State, c.StartedAt = "running", time.Now()
	f.started = append(f.started, c.Name)
	return nil
}

func (f *fakeRuntime) StopContainer(_ context.Context, id string, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.containers[id]; c != nil {
		c.State = "exited"
	}
	return nil
}

func (f *fakeRuntime) RemoveContainer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.containers[id]; c != nil {
		f.removed = append(f.removed, c.Name)
	}
	delete(f.containers, id)
	return nil
}

func (f *fakeRuntime) InspectContainer(_ context.Context, id string) (Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	if c == nil {
		return Container{}, fmt.Errorf("no container %s", id)
	}
	return *c, nil
}

func (f *fakeRuntime) Stats(context.Context, string) (StatsSample, error) {
	return StatsSample{CPUTotal: 1, SystemTotal: 10, OnlineCPUs: 2, MemBytes: 1 << 20}, nil
}

func (f *fakeRuntime) Logs(context.Context, string, LogOptions, func(LogLine)) error { return nil }
func (f *fakeRuntime) Events(ctx context.Context, _ map[string]string) (<-chan RuntimeEvent, <-chan error) {
	return make(chan RuntimeEvent), make(chan error)
}
