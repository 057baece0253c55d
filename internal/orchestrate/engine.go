package orchestrate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/propital/launcher/internal/config"
	"github.com/propital/launcher/internal/imagebuild"
	"github.com/propital/launcher/internal/probe"
)

// Daemon is a Runtime that can also build images (the Docker runtime is both).
type Daemon interface {
	Runtime
	imagebuild.Daemon
}

// Engine runs plans against a runtime and reports through its Store. Methods may be called
// concurrently for different plans; one plan is driven by one call at a time.
type Engine struct {
	rt    Runtime
	store *Store

	// Checker asks a server once whether it is ready; tests may replace it.
	Checker func(ctx context.Context, s probe.Spec) error
	// Provisioner creates the databases of a postgres or mongo node's users.
	Provisioner func(ctx context.Context, kind string, admin probe.Spec, dbs []Database) error
	// Backoff is the probe retry schedule.
	Backoff probe.Backoff
	// StopTimeout is how long a container gets to stop before it is killed.
	StopTimeout time.Duration
	// PortInUse reports whether a host address is taken and by whom; tests may replace it.
	PortInUse func(hostIP string, port int) (bool, string)
	// BuildCache is where Go binaries are kept between builds ("" is the user cache dir).
	BuildCache string
}

// Database is one service's database on a postgres or mongo node.
type Database struct {
	Name     string // database (and postgres role) name
	Password string // postgres role password
}

// NewEngine returns an engine over rt that publishes into store.
func NewEngine(rt Runtime, store *Store) *Engine {
	return &Engine{rt: rt, store: store, Checker: probe.Check, Provisioner: Provision, Backoff: probe.DefaultBackoff,
		StopTimeout: 10 * time.Second, PortInUse: portInUse}
}

// Store returns the engine's state store.
func (e *Engine) Store() *Store { return e.store }

func (e *Engine) state(node string, s State, msg string, err error) {
	ev := Event{Kind: EvState, Node: node, State: s, Message: msg}
	if err != nil {
		ev.Error = err.Error()
	}
	e.store.Publish(ev)
}

func (e *Engine) info(node, msg string) {
	e.store.Publish(Event{Kind: EvInfo, Node: node, Message: msg})
}

// UpOptions tune Up.
type UpOptions struct {
	Services []string // only these and their dependencies; none: all
	// WaitAll probes every node before returning; otherwise nodes nothing depends on are
	// reported started without waiting for them.
	WaitAll bool
}

// NotReadyError says which nodes did not become ready, with why.
type NotReadyError struct {
	Nodes []NodeFailure
}

// NodeFailure is one node that failed, with its last log lines.
type NodeFailure struct {
	Node     string
	Err      error
	LastLogs []string
}

func (e *NotReadyError) Error() string {
	var b strings.Builder
	for i, f := range e.Nodes {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s: %v", f.Node, f.Err)
		for _, l := range f.LastLogs {
			fmt.Fprintf(&b, "\n    | %s", l)
		}
	}
	return b.String()
}

// Up brings the selected part of the plan up: unchanged containers are kept, changed ones are
// recreated, missing ones created; each node starts once its dependencies are ready.
func (e *Engine) Up(ctx context.Context, pl *Plan, opts UpOptions) error {
	info, err := e.rt.Ping(ctx)
	if err != nil {
		return err
	}
	sel, err := pl.Select(opts.Services)
	if err != nil {
		return err
	}
	for _, n := range pl.Order {
		if sel[n] {
			node := pl.Nodes[n]
			e.store.Declare(n, node.Role, node.Image, portStrings(node.Ports))
		}
	}
	existing, err := e.rt.ListContainers(ctx, pl.ProjectLabels())
	if err != nil {
		return err
	}
	byName := map[string]Container{}
	for _, c := range existing {
		byName[c.Name] = c
	}
	if err := e.checkPorts(pl, sel, byName); err != nil {
		return err
	}
	if err := e.removeOrphans(ctx, pl, existing); err != nil {
		return err
	}
	if err := e.ensureNetworkAndVolumes(ctx, pl, sel); err != nil {
		return err
	}

	// wanted: nodes whose readiness gates someone, or all with WaitAll
	wanted := map[string]bool{}
	for n := range sel {
		if opts.WaitAll {
			wanted[n] = true
		}
		for _, d := range pl.Nodes[n].Deps {
			wanted[d] = true
		}
	}
	type gate struct {
		done chan struct{}
		err  error
	}
	gates := map[string]*gate{}
	for n := range sel {
		gates[n] = &gate{done: make(chan struct{})}
	}
	turns := newTurnstile(pl, sel)
	var wg sync.WaitGroup
	for _, name := range pl.Order {
		if !sel[name] {
			continue
		}
		wg.Add(1)
		go func(n *Node, g *gate) {
			defer wg.Done()
			defer close(g.done)
			// images build while dependencies start: a build needs nothing running
			imageID, err := e.ensureImage(ctx, pl, n, info)
			if err != nil {
				turns.done(n.Name)
				e.state(n.Name, StateFailed, "", err)
				g.err = err
				return
			}
			for _, d := range n.Deps {
				dg := gates[d]
				select {
				case <-dg.done:
				default:
					e.state(n.Name, StateWaitingDep, "waiting for "+d, nil)
					select {
					case <-dg.done:
					case <-ctx.Done():
						g.err = ctx.Err()
						return
					}
				}
				if dg.err != nil {
					g.err = fmt.Errorf("not started: %s failed", d)
					e.state(n.Name, StateFailed, "", g.err)
					return
				}
			}
			g.err = e.upNode(ctx, pl, n, imageID, byName, wanted[n.Name], turns)
		}(pl.Nodes[name], gates[name])
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var nr NotReadyError
	for _, n := range pl.Order {
		if g := gates[n]; g != nil && g.err != nil {
			f := NodeFailure{Node: n, Err: g.err}
			if !strings.HasPrefix(g.err.Error(), "not started:") {
				f.LastLogs = e.lastLogs(context.WithoutCancel(ctx), pl, n, 10)
			}
			nr.Nodes = append(nr.Nodes, f)
		}
	}
	if len(nr.Nodes) > 0 {
		return &nr
	}
	return nil
}

// ensureNetworkAndVolumes creates the project's network and the selected nodes' volumes, all at
// once: each is a round trip to the daemon.
func (e *Engine) ensureNetworkAndVolumes(ctx context.Context, pl *Plan, sel map[string]bool) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	do := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	do(func() error { return e.rt.EnsureNetwork(ctx, pl.Project.NetworkName(), pl.ProjectLabels()) })
	for _, n := range pl.Order {
		if !sel[n] {
			continue
		}
		for _, m := range pl.Nodes[n].Mounts {
			labels := pl.ProjectLabels()
			labels[config.LabelService] = n
			do(func() error { return e.rt.EnsureVolume(ctx, m.Volume, labels) })
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// upNode brings one node's containers to the plan, then (when wait) waits for readiness. turns
// orders the first wave's start calls; a node outside it never waits there.
func (e *Engine) upNode(ctx context.Context, pl *Plan, n *Node, imageID string, byName map[string]Container, wait bool, turns *turnstile) error {
	var ports []string
	var first Container
	turns.wait(ctx, n.Name)
	for r := 1; r <= n.Replicas; r++ {
		spec := pl.Spec(n, r, imageID)
		c, err := e.reconcile(ctx, spec, byName[spec.Name])
		if r == 1 {
			turns.done(n.Name)
		}
		if err != nil {
			err = fmt.Errorf("start %s: %w", n.Name, err)
			e.state(n.Name, StateFailed, "", err)
			return err
		}
		if r == 1 {
			first = c
		}
		ports = append(ports, portStrings(c.Ports)...)
	}
	// replicas beyond the wanted count
	for r := n.Replicas + 1; ; r++ {
		c, ok := byName[pl.Project.ContainerName(n.Name, r)]
		if !ok {
			break
		}
		if err := e.rt.RemoveContainer(ctx, c.ID); err != nil {
			return fmt.Errorf("scale down %s: %w", n.Name, err)
		}
	}
	e.store.SetPorts(n.Name, dedupe(ports))
	if !wait {
		e.state(n.Name, StateStarting, "started", nil)
		return nil
	}
	e.state(n.Name, StateStarting, "", nil)
	if err := e.waitReady(ctx, pl, n, first); err != nil {
		e.state(n.Name, StateUnhealthy, "", err)
		return err
	}
	e.state(n.Name, StateReady, "", nil)
	return nil
}

// reconcile makes one container match spec: kept when its config hash matches and it runs,
// started when it matches but stopped, recreated otherwise.
func (e *Engine) reconcile(ctx context.Context, spec ContainerSpec, cur Container) (Container, error) {
	if cur.ID != "" && cur.Labels[config.LabelHash] == spec.Labels[config.LabelHash] {
		if cur.State == "running" {
			return e.rt.InspectContainer(ctx, cur.ID)
		}
		if cur.State == "created" || cur.State == "exited" {
			if err := e.rt.StartContainer(ctx, cur.ID); err == nil {
				return e.rt.InspectContainer(ctx, cur.ID)
			}
		}
	}
	if cur.ID != "" {
		if err := e.rt.RemoveContainer(ctx, cur.ID); err != nil {
			return Container{}, err
		}
	}
	id, err := e.rt.CreateContainer(ctx, spec)
	if err != nil && strings.Contains(err.Error(), "is already in use") {
		// a container of that name appeared since we listed (another launcher, or a crash
		// between create and label read): it has our labels or it is not ours
		cs, lerr := e.rt.ListContainers(ctx, map[string]string{config.LabelProject: spec.Labels[config.LabelProject]})
		if lerr == nil {
			for _, c := range cs {
				if c.Name == spec.Name {
					if rerr := e.rt.RemoveContainer(ctx, c.ID); rerr == nil {
						id, err = e.rt.CreateContainer(ctx, spec)
					}
				}
			}
		}
		if err != nil {
			err = fmt.Errorf("%w\n\tremove the container that holds the name %s (docker rm -f %s), or rename the project", err, spec.Name, spec.Name)
		}
	}
	if err != nil {
		return Container{}, err
	}
	if err := e.rt.StartContainer(ctx, id); err != nil {
		return Container{}, err
	}
	return e.rt.InspectContainer(ctx, id)
}

func (e *Engine) ensureImage(ctx context.Context, pl *Plan, n *Node, info RuntimeInfo) (string, error) {
	if n.Build != nil {
		d, ok := e.rt.(imagebuild.Daemon)
		if !ok {
			return "", fmt.Errorf("build %s: this runtime cannot build images", n.Name)
		}
		e.state(n.Name, StateBuilding, "", nil)
		progress := func(s string) { e.store.Publish(Event{Kind: EvProgress, Node: n.Name, Message: s}) }
		labels := map[string]string{config.LabelProject: pl.Project.Name, config.LabelService: n.Name}
		if n.Commit != "" {
			labels[config.LabelCommit] = n.Commit
		}
		var res imagebuild.Result
		var err error
		if n.Build.Go != "" {
			arch := info.Arch
			if arch == "" {
				arch = "amd64"
			}
			res, err = imagebuild.BuildGo(ctx, d, imagebuild.GoBuild{Dir: n.Build.Dir, Package: n.Build.Go, Arch: arch, Tag: n.Image, Labels: labels, Cache: e.BuildCache}, progress)
		} else {
			bctx := n.Build.Dir
			if n.Build.Context != "" {
				bctx = joinPath(n.Build.Dir, n.Build.Context)
			}
			res, err = imagebuild.BuildDockerfile(ctx, d, imagebuild.DockerfileBuild{Context: bctx, Dockerfile: n.Build.Dockerfile, Tag: n.Image, Args: n.Build.Args, Labels: labels}, progress)
		}
		if err != nil {
			return "", fmt.Errorf("build %s: %w", n.Name, err)
		}
		if res.Loaded {
			e.info(n.Name, fmt.Sprintf("built %s in %s", n.Image, res.Duration.Round(time.Millisecond)))
		} else {
			e.info(n.Name, fmt.Sprintf("image %s is up to date (%s)", n.Image, res.Duration.Round(time.Millisecond)))
		}
	}
	id, err := e.rt.ImageID(ctx, n.Image)
	if err != nil {
		return "", err
	}
	if id != "" {
		return id, nil
	}
	if n.Build != nil {
		return "", fmt.Errorf("image %s was built but the daemon does not have it", n.Image)
	}
	e.state(n.Name, StatePulling, "pulling "+n.Image, nil)
	var last string
	err = e.rt.PullImage(ctx, n.Image, func(s string) {
		if s != last {
			last = s
			e.store.Publish(Event{Kind: EvProgress, Node: n.Name, Message: s})
		}
	})
	if err != nil {
		return "", fmt.Errorf("image %s is not here and could not be pulled: %v\n\tcheck the name and your registry access, or point %s at a local image in launcher.override.yaml", n.Image, probe.Tidy(err), imageField(n))
	}
	return e.rt.ImageID(ctx, n.Image)
}

func imageField(n *Node) string {
	if n.Role == "infra" {
		return "infra." + n.Name + ".image"
	}
	return "services." + n.Name + ".image"
}

func joinPath(dir, rel string) string {
	if strings.HasPrefix(rel, "/") {
		return rel
	}
	return dir + "/" + rel
}

// waitReady probes a node with its real client (or its health check) until ready, then
// provisions databases for its users.
func (e *Engine) waitReady(ctx context.Context, pl *Plan, n *Node, c Container) error {
	if n.Health != nil && n.Health.Log != "" {
		return e.waitLog(ctx, n, c)
	}
	if !needsProbe(n) {
		return nil // nothing to ask: running is ready
	}
	attempt := func(err error) {
		e.state(n.Name, StateStarting, "", probe.Tidy(err))
	}
	var spec probe.Spec
	// each attempt reads the container afresh: its ports exist only while it runs, and a
	// container that exited will not become ready, which the error then says
	check := func(ctx context.Context) error {
		cur, err := e.rt.InspectContainer(ctx, c.ID)
		if err != nil {
			return err
		}
		if cur.State == "exited" || cur.State == "restarting" || cur.State == "dead" {
			return &exitedError{code: cur.ExitCode, oom: cur.OOMKilled}
		}
		sp, ok := e.probeSpec(pl, n, cur)
		if !ok {
			return fmt.Errorf("its port is not published yet")
		}
		spec = sp
		return e.checkStable(ctx, sp, c.ID)
	}
	if err := probe.Wait(ctx, n.Timeout, e.Backoff, check, attempt); err != nil {
		return e.explain(ctx, c.ID, err)
	}
	if len(n.Users) > 0 && e.Provisioner != nil {
		var dbs []Database
		for _, u := range n.Users {
			dbs = append(dbs, Database{Name: config.DBName(u), Password: pl.Project.RolePassword(n.Name, u)})
		}
		if err := e.Provisioner(ctx, n.Kind, spec, dbs); err != nil {
			return fmt.Errorf("provision databases: %w", err)
		}
		e.info(n.Name, fmt.Sprintf("databases ready for %s", strings.Join(n.Users, ", ")))
	}
	return nil
}

// checkStable asks once; for http and tcp probes, which go through the daemon's port proxy and
// can be answered by it while a crash-looping container restarts, it also requires the same
// container process to be running before and after a second, confirming check.
func (e *Engine) checkStable(ctx context.Context, spec probe.Spec, id string) error {
	if spec.Kind != "http" && spec.Kind != "tcp" {
		return e.Checker(ctx, spec)
	}
	before, err := e.rt.InspectContainer(ctx, id)
	if err != nil {
		return err
	}
	if before.State != "running" {
		return &exitedError{code: before.ExitCode, oom: before.OOMKilled}
	}
	if err := e.Checker(ctx, spec); err != nil {
		return err
	}
	t := time.NewTimer(100 * time.Millisecond)
	select {
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	case <-t.C:
	}
	if err := e.Checker(ctx, spec); err != nil {
		return err
	}
	after, err := e.rt.InspectContainer(ctx, id)
	if err != nil {
		return err
	}
	if after.State != "running" || !after.StartedAt.Equal(before.StartedAt) {
		return fmt.Errorf("container restarted while being checked")
	}
	return nil
}

type exitedError struct {
	code int
	oom  bool
}

func (e *exitedError) Error() string {
	if e.oom {
		return fmt.Sprintf("exited with code %d: killed for using too much memory (OOM)", e.code)
	}
	return fmt.Sprintf("exited with code %d", e.code)
}

// explain puts a crash first when a node did not become ready because its container keeps
// exiting: that, not the last probe error, is what the user must fix.
func (e *Engine) explain(ctx context.Context, id string, err error) error {
	var ee *exitedError
	if errors.As(err, &ee) || ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	cur, ierr := e.rt.InspectContainer(context.WithoutCancel(ctx), id)
	if ierr != nil || (cur.Restarts == 0 && cur.State == "running") {
		return err
	}
	return fmt.Errorf("%w (it crashed: exited with code %d, %d restarts)", err, cur.ExitCode, cur.Restarts)
}

// needsProbe: well-known infra are asked with their client; others only when they have an http
// or tcp health check.
func needsProbe(n *Node) bool {
	switch n.Kind {
	case "nats", "redis", "postgres", "mongo":
		return true
	}
	return n.Health != nil && (n.Health.HTTP != "" || n.Health.TCP != 0)
}

// probeSpec says how to ask a node, through the host port its main port is published on.
func (e *Engine) probeSpec(pl *Plan, n *Node, c Container) (probe.Spec, bool) {
	hostAddr := func(port int) string {
		for _, p := range c.Ports {
			if p.ContainerPort == port && p.HostPort != 0 {
				ip := p.HostIP
				if ip == "" || ip == "0.0.0.0" || ip == "::" {
					ip = "127.0.0.1"
				}
				return net.JoinHostPort(ip, strconv.Itoa(p.HostPort))
			}
		}
		return ""
	}
	switch n.Kind {
	case "nats", "redis", "postgres", "mongo":
		in := pl.Project.Infra[n.Name]
		addr := hostAddr(in.Port())
		if addr == "" {
			return probe.Spec{}, false
		}
		user, pw := in.Credentials()
		s := probe.Spec{Kind: n.Kind, Addr: addr, User: user, Password: pw}
		if n.Kind == "postgres" {
			s.Database = "postgres"
		}
		return s, true
	}
	h := n.Health
	if h == nil {
		return probe.Spec{}, false
	}
	var port int
	kind := "tcp"
	switch {
	case h.TCP != 0:
		port = h.TCP
	case h.HTTP != "":
		kind = "http"
		port = h.Port
		if port == 0 && len(n.Ports) > 0 {
			port = n.Ports[0].ContainerPort
		}
	default:
		return probe.Spec{}, false
	}
	addr := hostAddr(port)
	if addr == "" {
		return probe.Spec{}, false
	}
	return probe.Spec{Kind: kind, Addr: addr, Path: h.HTTP}, true
}

func (e *Engine) waitLog(ctx context.Context, n *Node, c Container) error {
	re, err := regexp.Compile(n.Health.Log)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, n.Timeout)
	defer cancel()
	found := make(chan struct{})
	var once sync.Once
	err = e.rt.Logs(ctx, c.ID, LogOptions{Follow: true, Tail: -1}, func(l LogLine) {
		if re.MatchString(l.Text) {
			once.Do(func() { close(found); cancel() })
		}
	})
	select {
	case <-found:
		return nil
	default:
	}
	if err == nil {
		err = ctx.Err()
	}
	if cur, ierr := e.rt.InspectContainer(context.WithoutCancel(ctx), c.ID); ierr == nil && cur.State == "exited" {
		return &exitedError{code: cur.ExitCode, oom: cur.OOMKilled}
	}
	return fmt.Errorf("no log line matched %q within %s", n.Health.Log, n.Timeout)
}

func (e *Engine) lastLogs(ctx context.Context, pl *Plan, node string, n int) []string {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	cs, err := e.rt.ListContainers(ctx, map[string]string{config.LabelProject: pl.Project.Name, config.LabelService: node})
	if err != nil || len(cs) == 0 {
		return nil
	}
	var lines []string
	e.rt.Logs(ctx, cs[0].ID, LogOptions{Tail: n}, func(l LogLine) { lines = append(lines, l.Text) })
	return lines
}

// checkPorts reports fixed host ports that something other than this project holds, before
// anything starts.
func (e *Engine) checkPorts(pl *Plan, sel map[string]bool, byName map[string]Container) error {
	problems := e.portConflicts(pl, sel, byName)
	if len(problems) > 0 {
		return fmt.Errorf("%s\n\tstop what holds it, or publish another host port in launcher.override.yaml (e.g. ports: [\"15432:5432\"])", strings.Join(problems, "\n"))
	}
	return nil
}

func (e *Engine) portConflicts(pl *Plan, sel map[string]bool, byName map[string]Container) []string {
	ours := map[string]bool{}
	for _, c := range byName {
		for _, p := range c.Ports {
			ours[fmt.Sprintf("%d/%s", p.HostPort, p.Protocol)] = true
		}
	}
	var problems []string
	for _, name := range pl.Order {
		if !sel[name] {
			continue
		}
		for _, p := range pl.Nodes[name].Ports {
			if p.HostPort == 0 || p.Protocol == "udp" || ours[fmt.Sprintf("%d/%s", p.HostPort, "tcp")] {
				continue
			}
			if busy, who := e.PortInUse(p.HostIP, p.HostPort); busy {
				msg := fmt.Sprintf("host port %s:%d (for %s) is already in use", p.HostIP, p.HostPort, name)
				if who != "" {
					msg += " by " + who
				}
				problems = append(problems, msg)
			}
		}
	}
	return problems
}

// PortConflicts lists the plan's fixed host ports that something other than the project holds.
func (e *Engine) PortConflicts(ctx context.Context, pl *Plan) ([]string, error) {
	existing, err := e.rt.ListContainers(ctx, pl.ProjectLabels())
	if err != nil {
		return nil, err
	}
	byName := map[string]Container{}
	for _, c := range existing {
		byName[c.Name] = c
	}
	sel, _ := pl.Select(nil)
	return e.portConflicts(pl, sel, byName), nil
}

func portInUse(hostIP string, port int) (bool, string) {
	if hostIP == "" {
		hostIP = "0.0.0.0"
	}
	l, err := net.Listen("tcp", net.JoinHostPort(hostIP, strconv.Itoa(port)))
	if err != nil {
		return true, portHolder(port)
	}
	l.Close()
	return false, ""
}

// removeOrphans removes containers of this project whose service the config no longer has.
func (e *Engine) removeOrphans(ctx context.Context, pl *Plan, existing []Container) error {
	for _, c := range existing {
		if pl.Nodes[c.Labels[config.LabelService]] == nil {
			e.info(c.Labels[config.LabelService], "removing "+c.Name+": no longer in the config")
			if err := e.rt.RemoveContainer(ctx, c.ID); err != nil {
				return fmt.Errorf("remove orphan %s: %w", c.Name, err)
			}
		}
	}
	return nil
}

// DownOptions tune Down.
type DownOptions struct {
	Volumes bool // also remove the named volumes (the data)
}

// Down stops and removes the project's containers and network; volumes only when asked.
// It works from labels alone, so it also cleans up after a crashed launcher.
func (e *Engine) Down(ctx context.Context, project string, opts DownOptions) error {
	if _, err := e.rt.Ping(ctx); err != nil {
		return err
	}
	labels := map[string]string{config.LabelProject: project}
	cs, err := e.rt.ListContainers(ctx, labels)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(cs))
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := c.Labels[config.LabelService]
			if c.State == "running" {
				if err := e.rt.StopContainer(ctx, c.ID, e.StopTimeout); err != nil {
					errs[i] = fmt.Errorf("stop %s: %w", c.Name, err)
					return
				}
			}
			if err := e.rt.RemoveContainer(ctx, c.ID); err != nil {
				errs[i] = fmt.Errorf("remove %s: %w", c.Name, err)
				return
			}
			e.state(node, StateRemoved, "removed "+c.Name, nil)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := e.rt.RemoveNetwork(ctx, project+"-net"); err != nil {
		return err
	}
	if opts.Volumes {
		vols, err := e.rt.ListVolumes(ctx, labels)
		if err != nil {
			return err
		}
		for _, v := range vols {
			if err := e.rt.RemoveVolume(ctx, v); err != nil {
				return err
			}
			e.info("", "removed volume "+v)
		}
	}
	return nil
}

// Stop stops the project's running containers without removing them (Ctrl-C on `up`).
func (e *Engine) Stop(ctx context.Context, project string, services []string) error {
	cs, err := e.rt.ListContainers(ctx, map[string]string{config.LabelProject: project})
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, s := range services {
		want[s] = true
	}
	var wg sync.WaitGroup
	errs := make([]error, len(cs))
	for i, c := range cs {
		node := c.Labels[config.LabelService]
		if c.State != "running" || (len(want) > 0 && !want[node]) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.rt.StopContainer(ctx, c.ID, e.StopTimeout); err != nil {
				errs[i] = fmt.Errorf("stop %s: %w", c.Name, err)
				return
			}
			e.state(node, StateStopped, "", nil)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Restart restarts the named nodes' containers and waits for them to be ready again.
func (e *Engine) Restart(ctx context.Context, pl *Plan, names []string) error {
	if _, err := e.rt.Ping(ctx); err != nil {
		return err
	}
	for _, n := range names {
		if pl.Nodes[n] == nil {
			_, err := pl.Select([]string{n})
			return err
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, name := range names {
		n := pl.Nodes[name]
		e.store.Declare(name, n.Role, n.Image, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs, err := e.rt.ListContainers(ctx, map[string]string{config.LabelProject: pl.Project.Name, config.LabelService: name})
			if err != nil {
				errs[i] = err
				return
			}
			if len(cs) == 0 {
				errs[i] = fmt.Errorf("%s is not running: start it with `launcher up %s`", name, name)
				return
			}
			e.state(name, StateRestarting, "", nil)
			var first Container
			for j, c := range cs {
				if err := e.rt.StopContainer(ctx, c.ID, e.StopTimeout); err != nil {
					errs[i] = err
					return
				}
				if err := e.rt.StartContainer(ctx, c.ID); err != nil {
					errs[i] = fmt.Errorf("restart %s: %w", c.Name, err)
					return
				}
				if j == 0 {
					first, _ = e.rt.InspectContainer(ctx, c.ID)
				}
			}
			e.state(name, StateStarting, "", nil)
			if err := e.waitReady(ctx, pl, n, first); err != nil {
				e.state(name, StateUnhealthy, "", err)
				errs[i] = fmt.Errorf("%s: %w", name, err)
				return
			}
			e.state(name, StateReady, "", nil)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Status reads the project's state back from the runtime and asks each running node once
// whether it is ready.
func (e *Engine) Status(ctx context.Context, pl *Plan) ([]NodeStatus, error) {
	if _, err := e.rt.Ping(ctx); err != nil {
		return nil, err
	}
	cs, err := e.rt.ListContainers(ctx, pl.ProjectLabels())
	if err != nil {
		return nil, err
	}
	byNode := map[string][]Container{}
	for _, c := range cs {
		n := c.Labels[config.LabelService]
		byNode[n] = append(byNode[n], c)
	}
	names := append([]string(nil), pl.Order...)
	for n := range byNode {
		if pl.Nodes[n] == nil {
			names = append(names, n)
		}
	}
	out := make([]NodeStatus, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := NodeStatus{Name: name, State: StateStopped}
			node := pl.Nodes[name]
			if node != nil {
				st.Role, st.Image = node.Role, node.Image
			} else {
				st.Role, st.Detail = "orphan", "not in the config"
			}
			containers := byNode[name]
			if len(containers) == 0 {
				st.State = "not created"
				out[i] = st
				return
			}
			c, err := e.rt.InspectContainer(ctx, containers[0].ID)
			if err != nil {
				st.Detail = err.Error()
				out[i] = st
				return
			}
			st.Image, st.Restarts, st.Ports = c.Image, c.Restarts, nil
			for _, cc := range containers {
				st.Ports = append(st.Ports, portStrings(cc.Ports)...)
			}
			st.Ports = dedupe(st.Ports)
			switch c.State {
			case "running":
				st.StartedAt = c.StartedAt
				st.State = StateStarting
				if node == nil {
					st.State = "running"
					break
				}
				spec, ok := e.probeSpec(pl, node, c)
				if !ok {
					st.State = StateReady
					break
				}
				cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				err := e.Checker(cctx, spec)
				cancel()
				if err == nil {
					st.State = StateReady
				} else {
					st.State, st.Detail = StateUnhealthy, probe.Tidy(err).Error()
				}
			case "restarting":
				st.State = StateRestarting
			case "exited", "dead":
				code := c.ExitCode
				st.ExitCode = &code
				st.State = StateStopped
				if code != 0 {
					st.State = StateCrashed
					if c.OOMKilled {
						st.Detail = "killed: out of memory"
					}
				}
			default:
				st.State = State(c.State)
			}
			out[i] = st
		}()
	}
	wg.Wait()
	return out, nil
}

// Watch reports crashes, OOM kills and restarts of the project's containers until ctx ends:
// the exit code and the last log lines of a crash, within moments of it (from the runtime's
// event stream, not by polling). After a restart it waits for readiness again.
func (e *Engine) Watch(ctx context.Context, pl *Plan) error {
	evs, errc := e.rt.Events(ctx, pl.ProjectLabels())
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if ctx.Err() != nil || err == nil {
				return nil
			}
			return fmt.Errorf("watch containers: %w", err)
		case ev, ok := <-evs:
			if !ok {
				return nil
			}
			node := ev.Labels[config.LabelService]
			n := pl.Nodes[node]
			if n == nil {
				continue
			}
			switch ev.Action {
			case "die":
				code := ev.ExitCode
				c, _ := e.rt.InspectContainer(ctx, ev.Container)
				msg := fmt.Sprintf("%s exited with code %d", c.Name, code)
				if c.OOMKilled {
					msg += " (killed: out of memory)"
				}
				lines := e.containerTail(ctx, ev.Container, 5)
				if len(lines) > 0 {
					msg += "; last lines:\n    | " + strings.Join(lines, "\n    | ")
				}
				state := StateCrashed
				if code == 0 {
					state = StateStopped
				}
				e.store.Publish(Event{Kind: EvState, Node: node, State: state, Message: msg, ExitCode: &code, OOM: c.OOMKilled})
			case "start":
				st := e.nodeState(node)
				if st == StateCrashed || st == StateStopped {
					e.state(node, StateRestarting, "restarted by its restart policy", nil)
					c, err := e.rt.InspectContainer(ctx, ev.Container)
					if err != nil {
						continue
					}
					go func() {
						if err := e.waitReady(ctx, pl, n, c); err != nil {
							if ctx.Err() == nil {
								e.state(node, StateUnhealthy, "", err)
							}
							return
						}
						e.state(node, StateReady, "", nil)
					}()
				}
			}
		}
	}
}

func (e *Engine) nodeState(name string) State {
	for _, n := range e.store.Snapshot().Nodes {
		if n.Name == name {
			return n.State
		}
	}
	return ""
}

func (e *Engine) containerTail(ctx context.Context, id string, n int) []string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var lines []string
	e.rt.Logs(ctx, id, LogOptions{Tail: n}, func(l LogLine) { lines = append(lines, l.Text) })
	return lines
}

// LogsOptions select the output Logs streams.
type LogsOptions struct {
	Services []string
	LogOptions
}

// Logs streams the output of the project's containers into the store as EvLog events (or to
// line, when set) until ctx ends, or until every log ends when not following.
func (e *Engine) Logs(ctx context.Context, project string, opts LogsOptions, line func(node string, l LogLine)) error {
	if _, err := e.rt.Ping(ctx); err != nil {
		return err
	}
	cs, err := e.rt.ListContainers(ctx, map[string]string{config.LabelProject: project})
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, s := range opts.Services {
		want[s] = true
	}
	if line == nil {
		line = func(node string, l LogLine) {
			e.store.Publish(Event{Kind: EvLog, Node: node, Message: l.Text, Stderr: l.Stderr, Time: l.Time})
		}
	}
	found := map[string]bool{}
	var wg sync.WaitGroup
	for _, c := range cs {
		node := c.Labels[config.LabelService]
		if len(want) > 0 && !want[node] {
			continue
		}
		found[node] = true
		label := node
		if r := c.Labels[config.LabelReplica]; r != "" && r != "1" {
			label = node + "-" + r
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.rt.Logs(ctx, c.ID, opts.LogOptions, func(l LogLine) { line(label, l) })
		}()
	}
	for _, s := range opts.Services {
		if !found[s] {
			return fmt.Errorf("%s has no containers: start it with `launcher up %s`", s, s)
		}
	}
	wg.Wait()
	return nil
}

func portStrings(ps []PortBinding) []string {
	var out []string
	for _, p := range ps {
		if p.HostPort == 0 {
			continue
		}
		ip := p.HostIP
		if ip == "" {
			ip = "0.0.0.0"
		}
		s := fmt.Sprintf("%s:%d->%d", ip, p.HostPort, p.ContainerPort)
		if p.Protocol == "udp" {
			s += "/udp"
		}
		out = append(out, s)
	}
	return out
}

func dedupe(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// SampleStats publishes each running node's CPU and memory (summed over its replicas) every
// interval until ctx ends. CPU is measured between consecutive samples of the same container.
func (e *Engine) SampleStats(ctx context.Context, pl *Plan, every time.Duration) {
	prev := map[string]StatsSample{}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		cs, err := e.rt.ListContainers(ctx, pl.ProjectLabels())
		if err == nil {
			type agg struct {
				cpu float64
				mem uint64
			}
			sums := map[string]*agg{}
			seen := map[string]bool{}
			for _, c := range cs {
				if c.State != "running" {
					continue
				}
				s, err := e.rt.Stats(ctx, c.ID)
				if err != nil {
					continue
				}
				seen[c.ID] = true
				node := c.Labels[config.LabelService]
				a := sums[node]
				if a == nil {
					a = &agg{}
					sums[node] = a
				}
				a.mem += s.MemBytes
				if p, ok := prev[c.ID]; ok && s.SystemTotal > p.SystemTotal && s.CPUTotal >= p.CPUTotal {
					a.cpu += float64(s.CPUTotal-p.CPUTotal) / float64(s.SystemTotal-p.SystemTotal) * float64(max(1, s.OnlineCPUs)) * 100
				}
				prev[c.ID] = s
			}
			for id := range prev {
				if !seen[id] {
					delete(prev, id)
				}
			}
			for node, a := range sums {
				e.store.Publish(Event{Kind: EvStats, Node: node, CPU: a.cpu, Mem: a.mem})
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
