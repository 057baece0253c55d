package testenv

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/propital/launcher/internal/config"
	"github.com/propital/launcher/internal/orchestrate"
	"github.com/propital/launcher/internal/orchestrate/docker"
)

// Infra is what StartInfra started, as clients on the host reach it.
type Infra struct {
	PostgresURL string // admin, database postgres
	MongoURI    string // root, authSource=admin
	RedisAddr   string
}

// StartInfra starts the named well-known infra through launcher's own engine (the chosen images,
// free host ports) and removes it when the test ends.
func StartInfra(t *testing.T, kinds ...string) Infra {
	t.Helper()
	RequireDocker(t)
	project := ProjectName("svc")
	dir := t.TempDir()
	yaml := "name: placeholder\ninfra:\n"
	for _, k := range kinds {
		yaml += "  " + k + ": {}\n"
	}
	WriteFiles(t, dir, map[string]string{
		"launcher.yaml":          yaml,
		"launcher.override.yaml": InfraOverride(project, kinds...),
		".env":                   "POSTGRES_PASSWORD=pg-test-pw-1\nMONGO_ROOT_PASSWORD=mongo-test-pw-2\n",
	})
	t.Cleanup(func() { RemoveProject(project) })
	p, err := config.Load(config.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	eng := orchestrate.NewEngine(rt, orchestrate.NewStore())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pl := orchestrate.NewPlan(p)
	if err := eng.Up(ctx, pl, orchestrate.UpOptions{WaitAll: true}); err != nil {
		t.Fatalf("start %v: %v", kinds, err)
	}
	sts, err := eng.Status(ctx, pl)
	if err != nil {
		t.Fatal(err)
	}
	var in Infra
	for _, st := range sts {
		addr := ""
		for _, port := range st.Ports {
			if a, ok := strings.CutSuffix(port, fmt.Sprintf("->%d", p.Infra[st.Name].Port())); ok {
				addr = a
			}
		}
		switch st.Name {
		case "postgres":
			in.PostgresURL = "postgres://postgres:pg-test-pw-1@" + addr + "/postgres?sslmode=disable"
		case "mongo":
			in.MongoURI = "mongodb://root:" + url.QueryEscape("mongo-test-pw-2") + "@" + addr + "/?authSource=admin&directConnection=true"
		case "redis":
			in.RedisAddr = addr
		}
	}
	return in
}

// NATS runs an in-process nats-server on a free loopback port for the test; returns its URL.
func NATS(t testing.TB) string {
	url, _ := NATSWithMonitor(t)
	return url
}

// NATSWithMonitor is NATS with its monitoring endpoint (connz...) on loopback too.
func NATSWithMonitor(t testing.TB) (url, monitor string) {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, HTTPHost: "127.0.0.1", HTTPPort: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(s.Shutdown)
	return s.ClientURL(), "http://" + s.MonitorAddr().String()
}
