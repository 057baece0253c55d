// Package docker implements orchestrate.Runtime over the Docker Engine API. It is the only
// package that imports the Docker client.
package docker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"
	"github.com/propital/launcher/internal/orchestrate"
)

// Runtime talks to one Docker daemon. Safe for concurrent use.
type Runtime struct {
	c    *client.Client
	once sync.Once
}

// cli returns the client after negotiating the API version once. The client negotiates lazily
// on its first request otherwise, and that is a data race when first requests run concurrently
// (an event stream and a ping, say).
func (r *Runtime) cli(ctx context.Context) *client.Client {
	r.once.Do(func() {
		nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		r.c.NegotiateAPIVersion(nctx)
	})
	return r.c
}

// New connects with the environment's settings (DOCKER_HOST...) and API version negotiation,
// so it works with the daemon here (API 1.41) and newer ones alike. It does not dial yet.
func New() (*Runtime, error) {
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return &Runtime{c: c}, nil
}

// Close releases the client.
func (r *Runtime) Close() error { return r.c.Close() }

// ErrUnreachable is returned by Ping when no daemon answers.
var ErrUnreachable = errors.New("cannot reach the Docker engine")

func (r *Runtime) Ping(parent context.Context) (orchestrate.RuntimeInfo, error) {
	ctx, cancel := context.WithTimeout(parent, 5*time.Second)
	defer cancel()
	v, err := r.cli(ctx).ServerVersion(ctx)
	if err != nil && parent.Err() != nil {
		return orchestrate.RuntimeInfo{}, parent.Err() // interrupted: not a daemon problem
	}
	if err != nil {
		return orchestrate.RuntimeInfo{}, fmt.Errorf("%w at %s: %v\n\tstart it (Docker Desktop, or `sudo systemctl start docker`), or point DOCKER_HOST at a running one",
			ErrUnreachable, r.c.DaemonHost(), err)
	}
	return orchestrate.RuntimeInfo{Version: v.Version, APIVersion: r.c.ClientVersion(), OS: v.Os, Arch: v.Arch}, nil
}

func labelFilter(labels map[string]string) filters.Args {
	f := filters.NewArgs()
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	return f
}

func (r *Runtime) EnsureNetwork(ctx context.Context, name string, labels map[string]string) error {
	if _, err := r.cli(ctx).NetworkInspect(ctx, name, network.InspectOptions{}); err == nil {
		return nil
	}
	_, err := r.cli(ctx).NetworkCreate(ctx, name, network.CreateOptions{Driver: "bridge", Labels: labels})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		return fmt.Errorf("create network %s: %w", name, err)
	}
	return nil
}

func (r *Runtime) RemoveNetwork(ctx context.Context, name string) error {
	err := r.cli(ctx).NetworkRemove(ctx, name)
	if err != nil && !client.IsErrNotFound(err) {
		return fmt.Errorf("remove network %s: %w", name, err)
	}
	return nil
}

func (r *Runtime) EnsureVolume(ctx context.Context, name string, labels map[string]string) error {
	_, err := r.cli(ctx).VolumeCreate(ctx, volume.CreateOptions{Name: name, Labels: labels})
	if err != nil {
		return fmt.Errorf("create volume %s: %w", name, err)
	}
	return nil
}

func (r *Runtime) ListVolumes(ctx context.Context, labels map[string]string) ([]string, error) {
	resp, err := r.cli(ctx).VolumeList(ctx, volume.ListOptions{Filters: labelFilter(labels)})
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	var names []string
	for _, v := range resp.Volumes {
		names = append(names, v.Name)
	}
	sort.Strings(names)
	return names, nil
}

func (r *Runtime) RemoveVolume(ctx context.Context, name string) error {
	err := r.cli(ctx).VolumeRemove(ctx, name, true)
	if err != nil && !client.IsErrNotFound(err) {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	return nil
}

func (r *Runtime) ImageID(ctx context.Context, ref string) (string, error) {
	img, err := r.cli(ctx).ImageInspect(ctx, ref)
	if client.IsErrNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("inspect image %s: %w", ref, err)
	}
	return img.ID, nil
}

func (r *Runtime) ImageLabel(ctx context.Context, ref, label string) (string, error) {
	img, err := r.cli(ctx).ImageInspect(ctx, ref)
	if client.IsErrNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("inspect image %s: %w", ref, err)
	}
	if img.Config == nil {
		return "", nil
	}
	return img.Config.Labels[label], nil
}

func (r *Runtime) PullImage(ctx context.Context, ref string, progress func(string)) error {
	rc, err := r.cli(ctx).ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	defer rc.Close()
	return readJSONStream(rc, progress)
}

func (r *Runtime) LoadImage(ctx context.Context, tarball io.Reader) error {
	resp, err := r.cli(ctx).ImageLoad(ctx, tarball, client.ImageLoadWithQuiet(true))
	if err != nil {
		return fmt.Errorf("load image: %w", err)
	}
	defer resp.Body.Close()
	return readJSONStream(resp.Body, nil)
}

func (r *Runtime) BuildImage(ctx context.Context, buildCtx io.Reader, dockerfile, tag string, args map[string]*string, labels map[string]string, progress func(string)) error {
	resp, err := r.cli(ctx).ImageBuild(ctx, buildCtx, build.ImageBuildOptions{
		Tags: []string{tag}, Dockerfile: dockerfile, BuildArgs: args, Labels: labels, Remove: true, ForceRemove: true,
	})
	if err != nil {
		return fmt.Errorf("build %s: %w", tag, err)
	}
	defer resp.Body.Close()
	return readJSONStream(resp.Body, progress)
}

// readJSONStream reads the daemon's progress messages; an error message in the stream is an error.
func readJSONStream(r io.Reader, progress func(string)) error {
	dec := json.NewDecoder(r)
	for {
		var m struct {
			Stream   string `json:"stream"`
			Status   string `json:"status"`
			Progress string `json:"progress"`
			ID       string `json:"id"`
			Error    string `json:"error"`
		}
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if m.Error != "" {
			return errors.New(strings.TrimSpace(m.Error))
		}
		if progress == nil {
			continue
		}
		switch {
		case strings.TrimSpace(m.Stream) != "":
			progress(strings.TrimRight(m.Stream, "\n"))
		case m.Status != "":
			s := m.Status
			if m.ID != "" {
				s = m.ID + ": " + s
			}
			if m.Progress != "" {
				s += " " + m.Progress
			}
			progress(s)
		}
	}
}

func (r *Runtime) ListContainers(ctx context.Context, labels map[string]string) ([]orchestrate.Container, error) {
	list, err := r.cli(ctx).ContainerList(ctx, container.ListOptions{All: true, Filters: labelFilter(labels)})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := make([]orchestrate.Container, 0, len(list))
	for _, c := range list {
		name := ""
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		oc := orchestrate.Container{ID: c.ID, Name: name, Image: c.Image, Labels: c.Labels, State: string(c.State)}
		for _, p := range c.Ports {
			if p.PublicPort != 0 {
				oc.Ports = append(oc.Ports, orchestrate.PortBinding{HostIP: p.IP, HostPort: int(p.PublicPort), ContainerPort: int(p.PrivatePort), Protocol: p.Type})
			}
		}
		out = append(out, oc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (r *Runtime) CreateContainer(ctx context.Context, s orchestrate.ContainerSpec) (string, error) {
	cfg := &container.Config{
		Image: s.Image, Env: s.Env, Labels: s.Labels, ExposedPorts: nat.PortSet{}, StopSignal: s.StopSignal,
	}
	if len(s.Cmd) > 0 {
		cfg.Cmd = s.Cmd
	}
	hc := &container.HostConfig{PortBindings: nat.PortMap{}, RestartPolicy: restartPolicy(s.Restart)}
	for _, p := range s.Ports {
		port := nat.Port(fmt.Sprintf("%d/%s", p.ContainerPort, orDefault(p.Protocol, "tcp")))
		cfg.ExposedPorts[port] = struct{}{}
		hp := ""
		if p.HostPort != 0 {
			hp = strconv.Itoa(p.HostPort)
		}
		hc.PortBindings[port] = append(hc.PortBindings[port], nat.PortBinding{HostIP: p.HostIP, HostPort: hp})
	}
	for _, m := range s.Mounts {
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeVolume, Source: m.Volume, Target: m.Target})
	}
	var nc *network.NetworkingConfig
	if s.Network != "" {
		nc = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			s.Network: {Aliases: s.Aliases},
		}}
	}
	resp, err := r.cli(ctx).ContainerCreate(ctx, cfg, hc, nc, nil, s.Name)
	if err != nil {
		if client.IsErrNotFound(err) {
			return "", fmt.Errorf("create %s: image %s is not available locally and was not pulled: %w", s.Name, s.Image, err)
		}
		return "", fmt.Errorf("create %s: %w", s.Name, err)
	}
	return resp.ID, nil
}

func restartPolicy(p string) container.RestartPolicy {
	switch p {
	case "always":
		return container.RestartPolicy{Name: container.RestartPolicyAlways}
	case "on-failure":
		return container.RestartPolicy{Name: container.RestartPolicyOnFailure}
	case "unless-stopped":
		return container.RestartPolicy{Name: container.RestartPolicyUnlessStopped}
	}
	return container.RestartPolicy{Name: container.RestartPolicyDisabled}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func (r *Runtime) StartContainer(ctx context.Context, id string) error {
	if err := r.cli(ctx).ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	return nil
}

func (r *Runtime) StopContainer(ctx context.Context, id string, timeout time.Duration) error {
	secs := int(timeout.Seconds())
	err := r.cli(ctx).ContainerStop(ctx, id, container.StopOptions{Timeout: &secs})
	if err != nil && !client.IsErrNotFound(err) {
		return fmt.Errorf("stop: %w", err)
	}
	return nil
}

func (r *Runtime) RemoveContainer(ctx context.Context, id string) error {
	err := r.cli(ctx).ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true}) // anonymous volumes only; named ones stay
	if err != nil && !client.IsErrNotFound(err) && !strings.Contains(err.Error(), "already in progress") {
		return fmt.Errorf("remove: %w", err)
	}
	return nil
}

func (r *Runtime) InspectContainer(ctx context.Context, id string) (orchestrate.Container, error) {
	c, err := r.cli(ctx).ContainerInspect(ctx, id)
	if err != nil {
		return orchestrate.Container{}, fmt.Errorf("inspect: %w", err)
	}
	oc := orchestrate.Container{ID: c.ID, Name: strings.TrimPrefix(c.Name, "/"), Restarts: c.RestartCount}
	if c.Config != nil {
		oc.Image, oc.Labels = c.Config.Image, c.Config.Labels
	}
	if c.State != nil {
		oc.State, oc.ExitCode, oc.OOMKilled = string(c.State.Status), c.State.ExitCode, c.State.OOMKilled
		oc.StartedAt, _ = time.Parse(time.RFC3339Nano, c.State.StartedAt)
	}
	if c.NetworkSettings != nil {
		for port, bs := range c.NetworkSettings.Ports {
			for _, b := range bs {
				hp, _ := strconv.Atoi(b.HostPort)
				oc.Ports = append(oc.Ports, orchestrate.PortBinding{HostIP: b.HostIP, HostPort: hp, ContainerPort: port.Int(), Protocol: port.Proto()})
			}
		}
		sort.Slice(oc.Ports, func(i, j int) bool { return oc.Ports[i].ContainerPort < oc.Ports[j].ContainerPort })
	}
	return oc, nil
}

func (r *Runtime) Logs(ctx context.Context, id string, opts orchestrate.LogOptions, line func(orchestrate.LogLine)) error {
	lo := container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: opts.Follow, Timestamps: true}
	if opts.Tail >= 0 {
		lo.Tail = strconv.Itoa(opts.Tail)
	}
	if !opts.Since.IsZero() {
		lo.Since = strconv.FormatInt(opts.Since.Unix(), 10)
	}
	rc, err := r.cli(ctx).ContainerLogs(ctx, id, lo)
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	defer rc.Close()
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(outW, errW, rc)
		outW.CloseWithError(err)
		errW.CloseWithError(err)
	}()
	done := make(chan struct{})
	emit := func(r io.Reader, stderr bool) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			t := sc.Text()
			ll := orchestrate.LogLine{Stderr: stderr, Text: t}
			if ts, rest, ok := strings.Cut(t, " "); ok {
				if tm, err := time.Parse(time.RFC3339Nano, ts); err == nil {
					ll.Time, ll.Text = tm, rest
				}
			}
			line(ll)
		}
		io.Copy(io.Discard, r)
	}
	go func() { emit(errR, true); close(done) }()
	emit(outR, false)
	<-done
	if ctx.Err() != nil {
		return nil
	}
	return nil
}

func (r *Runtime) Stats(ctx context.Context, id string) (orchestrate.StatsSample, error) {
	resp, err := r.cli(ctx).ContainerStatsOneShot(ctx, id)
	if err != nil {
		return orchestrate.StatsSample{}, fmt.Errorf("stats: %w", err)
	}
	defer resp.Body.Close()
	var st container.StatsResponse
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return orchestrate.StatsSample{}, fmt.Errorf("stats: %w", err)
	}
	mem := st.MemoryStats.Usage
	for _, k := range []string{"total_inactive_file", "inactive_file"} { // cgroup v1 / v2
		if v, ok := st.MemoryStats.Stats[k]; ok && v < mem {
			mem -= v
			break
		}
	}
	cpus := int(st.CPUStats.OnlineCPUs)
	if cpus == 0 {
		cpus = len(st.CPUStats.CPUUsage.PercpuUsage)
	}
	return orchestrate.StatsSample{CPUTotal: st.CPUStats.CPUUsage.TotalUsage, SystemTotal: st.CPUStats.SystemUsage, OnlineCPUs: cpus, MemBytes: mem}, nil
}

func (r *Runtime) Events(ctx context.Context, labels map[string]string) (<-chan orchestrate.RuntimeEvent, <-chan error) {
	f := labelFilter(labels)
	f.Add("type", "container")
	msgs, errs := r.cli(ctx).Events(ctx, events.ListOptions{Filters: f})
	out := make(chan orchestrate.RuntimeEvent, 64)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-msgs:
				if !ok {
					return
				}
				ev := orchestrate.RuntimeEvent{Time: time.Unix(0, m.TimeNano), Container: m.Actor.ID, Labels: m.Actor.Attributes, Action: string(m.Action)}
				if code, ok := m.Actor.Attributes["exitCode"]; ok {
					ev.ExitCode, _ = strconv.Atoi(code)
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, errs
}
