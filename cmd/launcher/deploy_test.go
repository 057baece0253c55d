package main

import (
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestDeployRenderPush renders the staging environment with its images pushed into an
// in-process registry on 127.0.0.1, and pulls the referenced digests back.
func TestDeployRenderPush(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	stack, _ := filepath.Abs("../../internal/deploy/testdata/stack")
	work := t.TempDir()
	reg := strings.TrimPrefix(srv.URL, "http://") + "/propital"
	os.WriteFile(filepath.Join(work, "override.yaml"), []byte("deploy:\n  staging:\n    registry: "+reg+"\n"), 0o644)
	args := []string{"-f", filepath.Join(stack, "launcher.yaml"), "-f", filepath.Join(work, "override.yaml"), "deploy", "render", "--env", "staging", "--push"}
	code, out, errs := launch(t, stack, args...)
	if code != 0 {
		t.Fatalf("deploy render --push: %d\n%s", code, errs)
	}
	refs := regexp.MustCompile(`image: (\S+@sha256:[0-9a-f]{64})`).FindAllStringSubmatch(out, -1)
	if len(refs) != 2 || !strings.Contains(errs, "pushed ") {
		t.Fatalf("image references %v\n%s", refs, errs)
	}
	for _, r := range refs {
		d, err := name.NewDigest(r[1], name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := remote.Image(d); err != nil {
			t.Errorf("pull %s: %v", r[1], err)
		}
	}
	if !strings.Contains(out, "JWT_SECRET: '********'") || strings.Contains(out, "jwt-secret-value-2") {
		t.Error("secrets are not masked on standard output")
	}

	// --show-secrets into a file: the values, and a file only its owner reads
	code, _, errs = launch(t, stack, "-f", filepath.Join(stack, "launcher.yaml"), "-f", filepath.Join(work, "override.yaml"),
		"deploy", "render", "--env", "staging", "--show-secrets", "-o", work)
	if code != 0 {
		t.Fatalf("render -O: %d %s", code, errs)
	}
	st, err := os.Stat(filepath.Join(work, "staging.yaml"))
	b, _ := os.ReadFile(filepath.Join(work, "staging.yaml"))
	if err != nil || st.Mode().Perm() != 0o600 || !strings.Contains(string(b), "jwt-secret-value-2") {
		t.Errorf("staging.yaml: %v %v", st, err)
	}
	if code, _, errs := launch(t, stack, "deploy", "render"); code != 2 || !strings.Contains(errs, "production, staging") {
		t.Errorf("no --env with two environments: %d %s", code, errs)
	}
}

// TestDeployGKEAgainstAPIServer drives deploy gke and deploy plan against a real kube-apiserver
// (no controllers: rollouts never finish, which the command must say).
func TestDeployGKEAgainstAPIServer(t *testing.T) {
	shared, _ := filepath.Abs("../../../shared/testk8s")
	if _, err := os.Stat(filepath.Join(shared, "start.sh")); err != nil {
		if os.Getenv("LAUNCHER_REQUIRE_K8S") == "1" {
			t.Fatal("LAUNCHER_REQUIRE_K8S=1 but ../shared/testk8s is missing")
		}
		t.Skip("no ../shared/testk8s")
	}
	k8sDir := t.TempDir()
	start := exec.Command("bash", filepath.Join(shared, "start.sh"), k8sDir)
	start.Env = append(os.Environ(), "TESTK8S_PORT=16454", "TESTK8S_ETCD_PORT=23850") // beside internal/deploy's
	out, err := start.Output()
	if err != nil {
		t.Fatalf("start kube-apiserver: %v", err)
	}
	t.Cleanup(func() { exec.Command("bash", filepath.Join(shared, "stop.sh"), k8sDir).Run() })
	kubeconfig := strings.TrimSpace(string(out))

	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	stack, _ := filepath.Abs("../../internal/deploy/testdata/stack")
	work := t.TempDir()
	reg := strings.TrimPrefix(srv.URL, "http://") + "/propital"
	override := filepath.Join(work, "override.yaml")
	os.WriteFile(override, []byte("deploy:\n  staging:\n    registry: "+reg+"\n"), 0o644)
	base := []string{"-f", filepath.Join(stack, "launcher.yaml"), "-f", override, "deploy"}
	k8s := []string{"--env", "staging", "--kubeconfig", kubeconfig, "--context", "testk8s"}

	code, stdout, errs := launch(t, stack, append(append(base, "gke", "--dry-run"), k8s...)...)
	if code != 0 || !strings.Contains(errs, "dry run: nothing was written") || !strings.Contains(stdout, "Deployment   gateway                      created") {
		t.Fatalf("dry run: %d\n%s\n%s", code, stdout, errs)
	}
	code, stdout, errs = launch(t, stack, append(append(base, "gke", "--timeout", "1s"), k8s...)...)
	if code != 1 || !strings.Contains(errs, "not rolled out within 1s") || !strings.Contains(errs, "pushed ") {
		t.Fatalf("apply: %d\n%s\n%s", code, stdout, errs)
	}
	code, stdout, _ = launch(t, stack, append(append(base, "plan"), k8s...)...)
	if code != 0 || strings.Contains(stdout, "created") || strings.Contains(stdout, "configured") {
		t.Fatalf("plan after apply should change nothing: %d\n%s", code, stdout)
	}
	os.WriteFile(override, []byte("deploy:\n  staging:\n    registry: "+reg+"\nservices:\n  assets:\n    env: {FEATURE_FLAG: \"on\"}\n"), 0o644)
	code, stdout, _ = launch(t, stack, append(append(base, "plan"), k8s...)...)
	if code != 0 || !strings.Contains(stdout, "ConfigMap assets-config: keys added: FEATURE_FLAG") || !strings.Contains(stdout, "ConfigMap    assets-config                configured") {
		t.Errorf("plan after an env change: %d\n%s", code, stdout)
	}
}
