// Package testenv is shared by tests that need a real Docker engine: the switch that picks the
// infra images, unique project names, override files, and cleanup.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// ImagesVar names the one switch: "nats=IMG redis=IMG postgres=IMG mongo=IMG", exactly the lines
// ../shared/testimages/build.sh prints. Unset, tests use the official images (a laptop pulls them).
const ImagesVar = "LAUNCHER_TEST_IMAGES"

// Images returns the image for each infra kind.
func Images() map[string]string {
	m := map[string]string{"nats": "nats:2.10", "redis": "redis:7", "postgres": "postgres:16", "mongo": "mongo:7"}
	for _, kv := range strings.Fields(os.Getenv(ImagesVar)) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// RequireDocker skips the test when no Docker engine answers, or fails it when
// LAUNCHER_REQUIRE_DOCKER=1 (CI), so that CI never passes by skipping.
func RequireDocker(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").Run(); err != nil {
		if os.Getenv("LAUNCHER_REQUIRE_DOCKER") == "1" {
			t.Fatalf("a Docker engine is required (LAUNCHER_REQUIRE_DOCKER=1) but none answers: %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
}

// Available reports whether a Docker engine answers (for testscript conditions).
func Available() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "docker", "version").Run() == nil
}

// ProjectName returns a fresh, valid project name.
func ProjectName(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// InfraOverride is a launcher.override.yaml that points the well-known infra at the chosen
// images and publishes their ports on free host ports, so that tests never clash with each
// other or with the machine.
func InfraOverride(project string, kinds ...string) string {
	ports := map[string]string{"nats": `["4222", "8222"]`, "redis": `["6379"]`, "postgres": `["5432"]`, "mongo": `["27017"]`}
	imgs := Images()
	sort.Strings(kinds)
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\ninfra:\n", project)
	for _, k := range kinds {
		fmt.Fprintf(&b, "  %s: {image: %s, ports: %s}\n", k, imgs[k], ports[k])
	}
	return b.String()
}

// WriteFiles writes name → content under dir.
func WriteFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// RemoveProject deletes everything Docker holds for a project: containers, network, volumes.
// Tests register it with t.Cleanup so that a failed test leaves nothing running.
func RemoveProject(project string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	label := "label=dev.launcher.project=" + project
	if out, err := exec.CommandContext(ctx, "docker", "ps", "-aq", "--filter", label).Output(); err == nil && len(strings.TrimSpace(string(out))) > 0 {
		exec.CommandContext(ctx, "docker", append([]string{"rm", "-f"}, strings.Fields(string(out))...)...).Run()
	}
	exec.CommandContext(ctx, "docker", "network", "rm", project+"-net").Run()
	if out, err := exec.CommandContext(ctx, "docker", "volume", "ls", "-q", "--filter", label).Output(); err == nil && len(strings.TrimSpace(string(out))) > 0 {
		exec.CommandContext(ctx, "docker", append([]string{"volume", "rm", "-f"}, strings.Fields(string(out))...)...).Run()
	}
	// images launcher built for the project (tagged per project)
	if out, err := exec.CommandContext(ctx, "docker", "images", "-q", "--filter", label).Output(); err == nil && len(strings.TrimSpace(string(out))) > 0 {
		exec.CommandContext(ctx, "docker", append([]string{"rmi", "-f"}, strings.Fields(string(out))...)...).Run()
	}
}

// Eventually polls cond until it holds or the deadline passes; no sleeps to synchronise.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for delay := 10 * time.Millisecond; ; delay = min(delay*2, 250*time.Millisecond) {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		<-time.After(delay)
	}
}
