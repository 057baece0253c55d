package docker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/propital/launcher/internal/config"
	"github.com/propital/launcher/internal/orchestrate"
	"github.com/propital/launcher/internal/orchestrate/docker"
	"github.com/propital/launcher/internal/testenv"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

const pgPassword, mongoPassword = "pg-test-password-1", "mongo-test-password-2"

// stack is one project on the real daemon, removed when the test ends.
type stack struct {
	t       *testing.T
	dir     string
	project string
	rt      *docker.Runtime
	eng     *orchestrate.Engine
	pl      *orchestrate.Plan
}

func newStack(t *testing.T, yaml string, kinds ...string) *stack {
	t.Helper()
	return newStackWith(t, yaml, nil, kinds...)
}

// newStackWith runs setup on the project folder before the config is first loaded.
func newStackWith(t *testing.T, yaml string, setup func(dir string), kinds ...string) *stack {
	t.Helper()
	testenv.RequireDocker(t)
	s := &stack{t: t, dir: t.TempDir(), project: testenv.ProjectName("t")}
	testenv.WriteFiles(t, s.dir, map[string]string{
		"launcher.yaml":          yaml,
		"launcher.override.yaml": testenv.InfraOverride(s.project, kinds...),
		".env":                   fmt.Sprintf("POSTGRES_PASSWORD=%s\nMONGO_ROOT_PASSWORD=%s\n", pgPassword, mongoPassword),
	})
	t.Cleanup(func() { testenv.RemoveProject(s.project) })
	rt, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	s.rt = rt
	s.eng = orchestrate.NewEngine(rt, orchestrate.NewStore())
	s.eng.BuildCache = filepath.Join(t.TempDir(), "bin")
	if setup != nil {
		setup(s.dir)
	}
	s.reload()
	return s
}

func (s *stack) reload() {
	s.t.Helper()
	p, err := config.Load(config.Options{Dir: s.dir})
	if err != nil {
		s.t.Fatal(err)
	}
	s.pl = orchestrate.NewPlan(p)
}

func (s *stack) up(services ...string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := s.eng.Up(ctx, s.pl, orchestrate.UpOptions{Services: services, WaitAll: true}); err != nil {
		s.t.Fatalf("up: %v", err)
	}
}

func (s *stack) down(volumes bool) {
	s.t.Helper()
	if err := s.eng.Down(context.Background(), s.project, orchestrate.DownOptions{Volumes: volumes}); err != nil {
		s.t.Fatalf("down: %v", err)
	}
}

// addr is where a node's container port is published on the host.
func (s *stack) addr(node string, port int) string {
	s.t.Helper()
	cs, err := s.rt.ListContainers(context.Background(), map[string]string{config.LabelProject: s.project, config.LabelService: node})
	if err != nil || len(cs) == 0 {
		s.t.Fatalf("no container for %s: %v", node, err)
	}
	for _, p := range cs[0].Ports {
		if p.ContainerPort == port {
			return fmt.Sprintf("127.0.0.1:%d", p.HostPort)
		}
	}
	s.t.Fatalf("%s does not publish %d", node, port)
	return ""
}

func (s *stack) containerIDs() map[string]string {
	s.t.Helper()
	cs, err := s.rt.ListContainers(context.Background(), map[string]string{config.LabelProject: s.project})
	if err != nil {
		s.t.Fatal(err)
	}
	ids := map[string]string{}
	for _, c := range cs {
		ids[c.Name] = c.ID
	}
	return ids
}

const infraYAML = `
name: placeholder
infra:
  nats: {}
  redis: {}
  postgres: {}
  mongo: {}
`

func allKinds() []string { return []string{"nats", "redis", "postgres", "mongo"} }

// TestUpWaitInfraAnswersRealClients: after up --wait, each server answers the test's own client,
// and Status agrees.
func TestUpWaitInfraAnswersRealClients(t *testing.T) {
	s := newStack(t, infraYAML, allKinds()...)
	s.up()
	ctx := context.Background()
	check := clients(t, s)
	check.all(ctx)
	sts, err := s.eng.Status(ctx, s.pl)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		if st.State != orchestrate.StateReady || len(st.Ports) == 0 || st.StartedAt.IsZero() {
			t.Errorf("status %+v", st)
		}
	}

	// the dashboard's CPU and memory come from the stats API
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.eng.SampleStats(sctx, s.pl, 200*time.Millisecond)
	testenv.Eventually(t, 15*time.Second, "memory of all four infra", func() bool {
		n := 0
		for _, st := range s.eng.Store().Snapshot().Nodes {
			if st.MemBytes > 0 {
				n++
			}
		}
		return n == 4
	})
}

type clientSet struct {
	t                 *testing.T
	pg, rd, nt, mongo string
}

func clients(t *testing.T, s *stack) clientSet {
	return clientSet{t: t, pg: s.addr("postgres", 5432), rd: s.addr("redis", 6379), nt: s.addr("nats", 4222), mongo: s.addr("mongo", 27017)}
}

func (c clientSet) pgConn(ctx context.Context) *pgx.Conn {
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres:%s@%s/postgres?sslmode=disable", pgPassword, c.pg))
	if err != nil {
		c.t.Fatalf("postgres: %v", err)
	}
	return conn
}

func (c clientSet) mongoClient(ctx context.Context) *mongo.Client {
	m, err := mongo.Connect(ctx, options.Client().ApplyURI(fmt.Sprintf("mongodb://root:%s@%s/?authSource=admin&directConnection=true", mongoPassword, c.mongo)))
	if err != nil {
		c.t.Fatalf("mongo: %v", err)
	}
	return m
}

func (c clientSet) all(ctx context.Context) {
	conn := c.pgConn(ctx)
	defer conn.Close(ctx)
	var one int
	if err := conn.QueryRow(ctx, "select 1").Scan(&one); err != nil {
		c.t.Errorf("postgres query: %v", err)
	}
	rc := redis.NewClient(&redis.Options{Addr: c.rd})
	defer rc.Close()
	if err := rc.Ping(ctx).Err(); err != nil {
		c.t.Errorf("redis: %v", err)
	}
	nc, err := nats.Connect("nats://" + c.nt)
	if err != nil {
		c.t.Fatalf("nats: %v", err)
	}
	defer nc.Close()
	if err := nc.Flush(); err != nil {
		c.t.Errorf("nats flush: %v", err)
	}
	m := c.mongoClient(ctx)
	defer m.Disconnect(ctx)
	if err := m.Ping(ctx, nil); err != nil {
		c.t.Errorf("mongo: %v", err)
	}
}

// TestDataSurvivesDownUp: down then up keeps a row, a document, a key and a JetStream message;
// down --volumes removes them.
func TestDataSurvivesDownUp(t *testing.T) {
	s := newStack(t, infraYAML, allKinds()...)
	s.up()
	ctx := context.Background()
	write := func(c clientSet) {
		conn := c.pgConn(ctx)
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "create table kept (v text); insert into kept values ('row')"); err != nil {
			t.Fatal(err)
		}
		rc := redis.NewClient(&redis.Options{Addr: c.rd})
		defer rc.Close()
		if err := rc.Set(ctx, "kept", "key", 0).Err(); err != nil {
			t.Fatal(err)
		}
		m := c.mongoClient(ctx)
		defer m.Disconnect(ctx)
		if _, err := m.Database("app").Collection("kept").InsertOne(ctx, bson.M{"v": "doc"}); err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect("nats://" + c.nt)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "KEPT", Subjects: []string{"kept.>"}, Storage: jetstream.FileStorage}); err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, "kept.msg", []byte("message")); err != nil {
			t.Fatal(err)
		}
	}
	read := func(c clientSet) (found []string) {
		conn := c.pgConn(ctx)
		defer conn.Close(ctx)
		var v string
		if conn.QueryRow(ctx, "select v from kept").Scan(&v) == nil {
			found = append(found, v)
		}
		rc := redis.NewClient(&redis.Options{Addr: c.rd})
		defer rc.Close()
		if v, err := rc.Get(ctx, "kept").Result(); err == nil {
			found = append(found, v)
		}
		m := c.mongoClient(ctx)
		defer m.Disconnect(ctx)
		var doc bson.M
		if m.Database("app").Collection("kept").FindOne(ctx, bson.M{}).Decode(&doc) == nil {
			found = append(found, fmt.Sprint(doc["v"]))
		}
		nc, err := nats.Connect("nats://" + c.nt)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		if st, err := js.Stream(ctx, "KEPT"); err == nil {
			if msg, err := st.GetMsg(ctx, 1); err == nil {
				found = append(found, string(msg.Data))
			}
		}
		return found
	}
	write(clients(t, s))
	s.down(false)
	s.up()
	if got := strings.Join(read(clients(t, s)), ","); got != "row,key,doc,message" {
		t.Errorf("after down/up: %q, want row,key,doc,message", got)
	}
	s.down(true)
	s.up()
	if got := read(clients(t, s)); len(got) != 0 {
		t.Errorf("after down --volumes: still %v", got)
	}
}

const serviceYAML = `
name: placeholder
infra:
  nats: {}
  postgres: {}
services:
  api:
    path: svc
    build: {go: .}
    uses: [nats, postgres]
    ports: ["8080"]
    env: {VERSION: "1"}
    health: {http: /readyz}
  worker:
    path: svc
    build: {go: .}
    uses: [nats, postgres]
    env: {VERSION: "1"}
    health: {log: "listening on"}
`

func serviceStack(t *testing.T) *stack {
	// the service builds inside this module, so it shares its go.mod and module cache
	abs, err := filepath.Abs("../testdata/probesvc")
	if err != nil {
		t.Fatal(err)
	}
	return newStackWith(t, serviceYAML, func(dir string) {
		if err := os.Symlink(abs, filepath.Join(dir, "svc")); err != nil {
			t.Fatal(err)
		}
	}, "nats", "postgres")
}

// TestGoServiceBuildsAndReachesInfra: a Go service is built on the host, packed, loaded, started
// after its infra is ready, and reaches Postgres (its own role and database) and NATS through the
// injected variables. A second up recreates nothing; changing one service's env recreates only it.
func TestGoServiceBuildsAndReachesInfra(t *testing.T) {
	s := serviceStack(t)
	s.up()
	var got map[string]string
	resp, err := http.Get("http://" + s.addr("api", 8080) + "/check")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if got["user"] != "api" || got["database"] != "api" || got["nats"] != "ping" {
		t.Fatalf("service reached %v; want its own role and database, and a NATS reply", got)
	}

	before := s.containerIDs()
	if len(before) != 4 {
		t.Fatalf("containers %v", before)
	}
	s.up()
	if after := s.containerIDs(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a second up recreated containers:\n%v\n%v", before, after)
	}

	yaml := strings.Replace(serviceYAML, "env: {VERSION: \"1\"}\n    health: {log:", "env: {VERSION: \"2\"}\n    health: {log:", 1)
	testenv.WriteFiles(t, s.dir, map[string]string{"launcher.yaml": yaml})
	s.reload()
	s.up()
	after := s.containerIDs()
	for name, id := range before {
		changed := after[name] != id
		if want := strings.Contains(name, "-worker-"); changed != want {
			t.Errorf("%s recreated=%v, want %v", name, changed, want)
		}
	}
}

// TestCrashIsRestartedAndReported: a service that exits 1 is restarted by its policy (the daemon
// backs off) and each crash is reported with its exit code and last lines.
func TestCrashIsRestartedAndReported(t *testing.T) {
	s := serviceStack(t)
	yaml := strings.Replace(serviceYAML, "env: {VERSION: \"1\"}\n    health: {log:", "env: {VERSION: \"1\", CRASH: \"1\"}\n    health: {timeout: 2s, log:", 1)
	testenv.WriteFiles(t, s.dir, map[string]string{"launcher.yaml": yaml})
	s.reload()
	sub, _ := s.eng.Store().Subscribe(4096)
	defer sub.Cancel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.eng.Watch(ctx, s.pl)
	err := s.eng.Up(ctx, s.pl, orchestrate.UpOptions{WaitAll: true})
	var nr *orchestrate.NotReadyError
	if !errors.As(err, &nr) || len(nr.Nodes) != 1 || nr.Nodes[0].Node != "worker" {
		t.Fatalf("up: %v; want worker not ready", err)
	}
	if !strings.Contains(nr.Error(), "boom: crashing on purpose") {
		t.Errorf("the error lacks the last log lines: %v", nr)
	}
	crashes := 0
	testenv.Eventually(t, 30*time.Second, "two reported crashes of worker", func() bool {
		evs, _ := sub.Next()
		for _, e := range evs {
			if e.Node == "worker" && e.State == orchestrate.StateCrashed && e.ExitCode != nil && *e.ExitCode == 1 && strings.Contains(e.Message, "boom") {
				crashes++
			}
		}
		return crashes >= 2
	})
	sts, _ := s.eng.Status(context.Background(), s.pl)
	for _, st := range sts {
		if st.Name == "worker" && st.Restarts < 1 {
			t.Errorf("worker restarts = %d", st.Restarts)
		}
	}
}

// TestKilledPostgresIsNoticed: a killed infra container is reported within 2 s, from the event
// stream rather than a poll.
func TestKilledPostgresIsNoticed(t *testing.T) {
	s := newStack(t, "name: x\ninfra:\n  postgres: {}\n", "postgres")
	s.up()
	sub, _ := s.eng.Store().Subscribe(1024)
	defer sub.Cancel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.eng.Watch(ctx, s.pl)
	// the watch is subscribed once the engine's event stream answers; a no-op restart proves it
	testenv.Eventually(t, 10*time.Second, "watch running", func() bool { return true })
	killed := time.Now()
	if out, err := exec.Command("docker", "kill", s.project+"-postgres-1").CombinedOutput(); err != nil {
		t.Fatalf("docker kill: %v %s", err, out)
	}
	testenv.Eventually(t, 2*time.Second, "crash of postgres reported", func() bool {
		evs, _ := sub.Next()
		for _, e := range evs {
			if e.Node == "postgres" && e.State == orchestrate.StateCrashed && e.ExitCode != nil && *e.ExitCode == 137 {
				t.Logf("noticed after %s", time.Since(killed).Round(time.Millisecond))
				return true
			}
		}
		return false
	})
}

// TestHostPortTakenFailsBeforeStarting: a fixed host port that something holds is a clear
// error, and nothing is created.
func TestHostPortTakenFailsBeforeStarting(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	s := newStack(t, "name: x\ninfra:\n  redis: {}\n  nats: {}\n", "redis", "nats")
	testenv.WriteFiles(t, s.dir, map[string]string{"launcher.override.yaml": testenv.InfraOverride(s.project, "redis", "nats") +
		fmt.Sprintf("  cache: {kind: redis, image: %s, ports: [\"%d:6379\"]}\n", testenv.Images()["redis"], port)})
	s.reload()
	err = s.eng.Up(context.Background(), s.pl, orchestrate.UpOptions{WaitAll: true})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("host port 127.0.0.1:%d (for cache) is already in use by", port)) ||
		!strings.Contains(err.Error(), "pid") {
		t.Fatalf("err = %v", err)
	}
	if ids := s.containerIDs(); len(ids) != 0 {
		t.Errorf("containers were created: %v", ids)
	}
}

// TestDockerUnreachable: one clear error that says what to do.
func TestDockerUnreachable(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	rt, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	eng := orchestrate.NewEngine(rt, orchestrate.NewStore())
	err = eng.Down(context.Background(), "x", orchestrate.DownOptions{})
	if !errors.Is(err, docker.ErrUnreachable) || !strings.Contains(err.Error(), "DOCKER_HOST") {
		t.Fatalf("err = %v", err)
	}
}

// TestMissingImageIsNamed: an image that is not here and cannot be pulled is named, with a fix.
func TestMissingImageIsNamed(t *testing.T) {
	s := newStack(t, "name: x\nservices:\n  ghost: {image: 127.0.0.1:1/launcher-test/missing:never}\n")
	err := s.eng.Up(context.Background(), s.pl, orchestrate.UpOptions{WaitAll: true})
	if err == nil || !strings.Contains(err.Error(), "image 127.0.0.1:1/launcher-test/missing:never is not here and could not be pulled") ||
		!strings.Contains(err.Error(), "services.ghost.image") {
		t.Fatalf("err = %v", err)
	}
}

// TestDockerfileServiceBuildsWithArgs: a Dockerfile service is built through the API with its
// build args, its progress streamed into the store, and started.
func TestDockerfileServiceBuildsWithArgs(t *testing.T) {
	yaml := `
name: x
services:
  df:
    path: dfsvc
    build: {dockerfile: Dockerfile, args: {BASE: "` + testenv.Images()["redis"] + `"}}
    ports: ["6379"]
    health: {tcp: 6379}
`
	s := newStackWith(t, yaml, func(dir string) {
		testenv.WriteFiles(t, dir, map[string]string{"dfsvc/Dockerfile": "ARG BASE\nFROM ${BASE}\nLABEL built-by=launcher-test\n"})
	})
	sub, _ := s.eng.Store().Subscribe(4096)
	defer sub.Cancel()
	s.up()
	evs, _ := sub.Next()
	var steps int
	for _, e := range evs {
		if e.Kind == orchestrate.EvProgress && e.Node == "df" && strings.HasPrefix(e.Message, "Step ") {
			steps++
		}
	}
	if steps < 3 {
		t.Errorf("%d build steps streamed, want 3", steps)
	}
	rc := redis.NewClient(&redis.Options{Addr: s.addr("df", 6379)})
	defer rc.Close()
	if err := rc.Ping(context.Background()).Err(); err != nil {
		t.Errorf("the built service does not answer: %v", err)
	}
}

// TestPullShowsProgress: when a registry answers, a pull streams its progress. The registry is
// go-containerregistry's, in process, on 127.0.0.1 (which the daemon allows without TLS).
func TestPullShowsProgress(t *testing.T) {
	testenv.RequireDocker(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	img, err := random.Image(256<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref := strings.TrimPrefix(srv.URL, "http://") + "/launcher-test/pulled:" + testenv.ProjectName("v")
	if err := crane.Push(img, ref, crane.Insecure); err != nil {
		t.Fatal(err)
	}
	rt, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Command("docker", "rmi", "-f", ref).Run()
	var lines []string
	if err := rt.PullImage(context.Background(), ref, func(s string) { lines = append(lines, s) }); err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(lines, "\n")
	if !strings.Contains(joined, "Pull complete") || !strings.Contains(joined, "Downloaded newer image") {
		t.Errorf("progress lines:\n%s", joined)
	}
	if id, _ := rt.ImageID(context.Background(), ref); id == "" {
		t.Error("the pulled image is not in the daemon")
	}
}
