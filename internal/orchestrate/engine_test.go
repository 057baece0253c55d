package orchestrate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/propital/launcher/internal/config"
	"github.com/propital/launcher/internal/probe"
)

const fakeYAML = `
name: shop
infra:
  nats: {image: nats-img, ports: ["4222"]}
  postgres: {image: pg-img, ports: ["5432"]}
services:
  api:
    image: api-img
    uses: [nats, postgres]
    env: {V: "1"}
  web:
    image: web-img
    depends_on: [api]
  lone:
    image: lone-img
`

func loadPlan(t *testing.T, yaml string) *Plan {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "launcher.yaml"), []byte(yaml), 0o644)
	os.WriteFile(filepath.Join(dir, ".env"), []byte("POSTGRES_PASSWORD=pw-123456\n"), 0o600)
	p, err := config.Load(config.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return NewPlan(p)
}

// testEngine records the order in which nodes were asked for readiness.
func testEngine(rt Runtime) (*Engine, *[]string) {
	e := NewEngine(rt, NewStore())
	var mu sync.Mutex
	var asked []string
	e.Checker = func(_ context.Context, s probe.Spec) error {
		mu.Lock()
		asked = append(asked, s.Kind)
		mu.Unlock()
		return nil
	}
	e.Provisioner = func(context.Context, string, probe.Spec, []Database) error { return nil }
	e.PortInUse = func(string, int) (bool, string) { return false, "" }
	return e, &asked
}

func TestPlanOrderAndSelect(t *testing.T) {
	pl := loadPlan(t, fakeYAML)
	pos := func(n string) int { return slices.Index(pl.Order, n) }
	if !(pos("nats") < pos("api") && pos("postgres") < pos("api") && pos("api") < pos("web")) {
		t.Errorf("order %v", pl.Order)
	}
	sel, err := pl.Select([]string{"web"})
	if err != nil || len(sel) != 4 || sel["lone"] {
		t.Errorf("select web = %v, %v", sel, err)
	}
	var une *UnknownNodeError
	if _, err := pl.Select([]string{"nope"}); !errors.As(err, &une) {
		t.Errorf("unknown: %v", err)
	}
	if got := pl.Nodes["postgres"].Users; !slices.Equal(got, []string{"api"}) {
		t.Errorf("postgres users %v", got)
	}
	if !strings.Contains(pl.Nodes["api"].Env["DATABASE_URL"], "@postgres:5432/api") {
		t.Errorf("api env %v", pl.Nodes["api"].Env)
	}
}

func TestUpStartsDependenciesFirstAndIsIdempotent(t *testing.T) {
	pl := loadPlan(t, fakeYAML)
	rt := newFake("nats-img", "pg-img", "api-img", "web-img", "lone-img")
	e, _ := testEngine(rt)
	if err := e.Up(context.Background(), pl, UpOptions{WaitAll: true}); err != nil {
		t.Fatal(err)
	}
	started := rt.started
	idx := func(n string) int { return slices.Index(started, "shop-"+n+"-1") }
	if !(idx("postgres") < idx("api") && idx("nats") < idx("api") && idx("api") < idx("web")) {
		t.Errorf("start order %v", started)
	}
	created := len(rt.created)
	if err := e.Up(context.Background(), pl, UpOptions{WaitAll: true}); err != nil {
		t.Fatal(err)
	}
	if len(rt.created) != created || len(rt.removed) != 0 {
		t.Errorf("second up created %v removed %v", rt.created[created:], rt.removed)
	}
	for _, n := range e.Store().Snapshot().Nodes {
		if n.State != StateReady {
			t.Errorf("%s is %s", n.Name, n.State)
		}
	}

	// a changed env recreates that service only
	pl2 := loadPlan(t, strings.Replace(fakeYAML, `V: "1"`, `V: "2"`, 1))
	if err := e.Up(context.Background(), pl2, UpOptions{WaitAll: true}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rt.removed, []string{"shop-api-1"}) || !slices.Equal(rt.created[created:], []string{"shop-api-1"}) {
		t.Errorf("recreated %v / %v, want only api", rt.removed, rt.created[created:])
	}
}

func TestUpSelectsAndScales(t *testing.T) {
	rt := newFake("nats-img", "pg-img", "api-img", "web-img", "lone-img")
	e, _ := testEngine(rt)
	if err := e.Up(context.Background(), loadPlan(t, fakeYAML), UpOptions{Services: []string{"api"}}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(rt.created)
	if !slices.Equal(rt.created, []string{"shop-api-1", "shop-nats-1", "shop-postgres-1"}) {
		t.Errorf("up api created %v", rt.created)
	}
	scaled := strings.Replace(fakeYAML, "    image: lone-img\n", "    image: lone-img\n    replicas: 3\n", 1)
	if err := e.Up(context.Background(), loadPlan(t, scaled), UpOptions{Services: []string{"lone"}}); err != nil {
		t.Fatal(err)
	}
	cs, _ := rt.ListContainers(context.Background(), map[string]string{config.LabelService: "lone"})
	if len(cs) != 3 {
		t.Fatalf("lone replicas %d", len(cs))
	}
	if err := e.Up(context.Background(), loadPlan(t, fakeYAML), UpOptions{Services: []string{"lone"}}); err != nil {
		t.Fatal(err)
	}
	if cs, _ := rt.ListContainers(context.Background(), map[string]string{config.LabelService: "lone"}); len(cs) != 1 {
		t.Errorf("scale down left %d", len(cs))
	}
}

func TestFailedDependencyStopsDependents(t *testing.T) {
	pl := loadPlan(t, fakeYAML)
	rt := newFake("nats-img", "pg-img", "api-img", "web-img", "lone-img")
	e, _ := testEngine(rt)
	e.Checker = func(_ context.Context, s probe.Spec) error {
		if s.Kind == "postgres" {
			return errors.New("password authentication failed")
		}
		return nil
	}
	pl.Nodes["postgres"].Timeout = 1
	err := e.Up(context.Background(), pl, UpOptions{WaitAll: true})
	var nr *NotReadyError
	if !errors.As(err, &nr) {
		t.Fatalf("err = %v", err)
	}
	msg := nr.Error()
	for _, want := range []string{"postgres: not ready after", "password authentication failed", "api: not started: postgres failed", "web: not started: api failed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if slices.Contains(rt.created, "shop-api-1") {
		t.Error("api was created although postgres failed")
	}
}

func TestPortTakenIsReportedBeforeAnythingStarts(t *testing.T) {
	pl := loadPlan(t, strings.Replace(fakeYAML, `ports: ["5432"]`, `ports: ["15432:5432"]`, 1))
	rt := newFake("nats-img", "pg-img", "api-img", "web-img", "lone-img")
	e, _ := testEngine(rt)
	e.PortInUse = func(ip string, port int) (bool, string) { return port == 15432, "postgres (pid 42)" }
	err := e.Up(context.Background(), pl, UpOptions{})
	if err == nil || !strings.Contains(err.Error(), "host port 127.0.0.1:15432 (for postgres) is already in use by postgres (pid 42)") {
		t.Fatalf("err = %v", err)
	}
	if len(rt.created) != 0 {
		t.Errorf("created %v", rt.created)
	}
}

func TestOrphansAreRemovedAndDownKeepsVolumes(t *testing.T) {
	rt := newFake("nats-img", "pg-img", "api-img", "web-img", "lone-img")
	e, _ := testEngine(rt)
	ctx := context.Background()
	if err := e.Up(ctx, loadPlan(t, fakeYAML), UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.Up(ctx, loadPlan(t, strings.Replace(fakeYAML, "  lone:\n    image: lone-img\n", "", 1)), UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(rt.removed, "shop-lone-1") {
		t.Errorf("orphan lone not removed: %v", rt.removed)
	}
	if err := e.Down(ctx, "shop", DownOptions{}); err != nil {
		t.Fatal(err)
	}
	if cs, _ := rt.ListContainers(ctx, nil); len(cs) != 0 || len(rt.volumes) == 0 {
		t.Errorf("after down: %d containers, volumes %v", len(cs), rt.volumes)
	}
	if err := e.Down(ctx, "shop", DownOptions{Volumes: true}); err != nil || len(rt.volumes) != 0 {
		t.Errorf("down --volumes: %v, volumes %v", err, rt.volumes)
	}
}
