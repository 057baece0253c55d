package deploy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"k8s.io/client-go/dynamic"
)

// TestGKEConfigFromTheAPI: the cluster's endpoint and CA come from the GKE API (a fake one on
// 127.0.0.1 that wants the bearer token), and the config they make reaches a real kube-apiserver
// with TLS verified against that CA and the same token.
func TestGKEConfigFromTheAPI(t *testing.T) {
	root, _ := filepath.Abs("../../../shared/testk8s")
	if _, err := os.Stat(filepath.Join(root, "start.sh")); err != nil {
		if os.Getenv("LAUNCHER_REQUIRE_K8S") == "1" {
			t.Fatal("LAUNCHER_REQUIRE_K8S=1 but ../shared/testk8s is missing")
		}
		t.Skip("no ../shared/testk8s")
	}
	dir := t.TempDir()
	start := exec.Command("bash", filepath.Join(root, "start.sh"), dir)
	start.Env = append(os.Environ(), "TESTK8S_PORT=16474", "TESTK8S_ETCD_PORT=23890")
	if out, err := start.CombinedOutput(); err != nil {
		t.Fatalf("start kube-apiserver: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("bash", filepath.Join(root, "stop.sh"), dir).Run() })
	tokens, _ := os.ReadFile(filepath.Join(dir, "tokens.csv"))
	token, _, _ := strings.Cut(string(tokens), ",")
	ca, err := os.ReadFile(filepath.Join(dir, "certs", "apiserver.crt"))
	if err != nil {
		t.Fatal(err)
	}
	gke := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, `{"error":{"code":401}}`, http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/v1/projects/propital-prod/locations/europe-west1/clusters/prod" {
			http.Error(w, `{"error":{"code":404,"message":"cluster not found"}}`, http.StatusNotFound)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"endpoint": "127.0.0.1:16474",
			"masterAuth": map[string]any{"clusterCaCertificate": base64.StdEncoding.EncodeToString(ca)}})
	}))
	defer gke.Close()
	opts := GKEOptions{Project: "propital-prod", Location: "europe-west1", Cluster: "prod",
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}), API: gke.URL, Client: gke.Client()}
	cfg, err := GKEConfig(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := load(t)
	objs, err := Render(p, Inputs{Env: "production", Images: images})
	if err != nil {
		t.Fatal(err)
	}
	changes, err := Apply(context.Background(), dyn, objs, ApplyOptions{Project: "propital", Env: "production"})
	if err != nil || len(changes) != len(objs) {
		t.Fatalf("apply through GKE credentials: %v (%d changes)", err, len(changes))
	}
	opts.Cluster = "nope"
	if _, err := GKEConfig(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("unknown cluster: %v", err)
	}
	opts.Cluster, opts.TokenSource = "prod", oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "wrong"})
	if _, err := GKEConfig(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("bad credentials: %v", err)
	}
}
