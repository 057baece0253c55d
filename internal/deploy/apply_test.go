package deploy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// apiserver starts a real kube-apiserver (and etcd) on 127.0.0.1 with ../shared/testk8s, for
// the test. No controllers run: objects are stored and validated, pods never start.
func apiserver(t *testing.T) dynamic.Interface {
	t.Helper()
	root, _ := filepath.Abs("../../../shared/testk8s")
	if _, err := os.Stat(filepath.Join(root, "start.sh")); err != nil {
		if os.Getenv("LAUNCHER_REQUIRE_K8S") == "1" {
			t.Fatalf("LAUNCHER_REQUIRE_K8S=1 but %s is missing", root)
		}
		t.Skip("no ../shared/testk8s beside the repo")
	}
	dir := t.TempDir()
	out, err := exec.Command("bash", filepath.Join(root, "start.sh"), dir).Output()
	if err != nil {
		t.Fatalf("start kube-apiserver: %v", err)
	}
	t.Cleanup(func() { exec.Command("bash", filepath.Join(root, "stop.sh"), dir).Run() })
	cfg, err := RESTConfig(strings.TrimSpace(string(out)), "")
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return dyn
}

type fakeLogs struct{}

func (fakeLogs) Tail(context.Context, string, string, int) (string, error) {
	return "starting\npanic: DATABASE_URL is not set\n", nil
}

func actions(cs []Change) map[string]string {
	m := map[string]string{}
	for _, c := range cs {
		m[c.Kind+"/"+c.Name] = c.Action
	}
	return m
}

// TestApplyAgainstAPIServer: a dry run writes nothing; apply creates; re-apply changes nothing
// (same resourceVersions); a removed service is pruned; rollouts are waited for, and a failed one
// reports the reason.
func TestApplyAgainstAPIServer(t *testing.T) {
	dyn := apiserver(t)
	ctx := context.Background()
	p := load(t)
	objs, err := Render(p, Inputs{Env: "staging", Images: images})
	if err != nil {
		t.Fatal(err)
	}
	opts := ApplyOptions{Project: "propital", Env: "staging"}

	dry, err := Apply(ctx, dyn, objs, ApplyOptions{DryRun: true, Project: "propital", Env: "staging"})
	if err != nil {
		t.Fatal(err)
	}
	if len(dry) != len(objs) || actions(dry)["Deployment/gateway"] != "created" {
		t.Errorf("dry run: %v", dry)
	}
	if _, err := dyn.Resource(kinds[0].gvr).Get(ctx, "propital", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the dry run wrote the namespace: %v", err)
	}

	first, err := Apply(ctx, dyn, objs, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range first {
		if c.Action != "created" {
			t.Errorf("first apply: %+v", c)
		}
	}
	second, err := Apply(ctx, dyn, objs, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range second {
		if c.Action != "unchanged" {
			t.Errorf("re-apply changed %s %s (%s)", c.Kind, c.Name, c.Action)
		}
	}
	sec, err := dyn.Resource(kinds[1].gvr).Namespace("propital").Get(ctx, "assets-secrets", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if data, _, _ := unstructured.NestedStringMap(sec.Object, "data"); data["JWT_SECRET"] == "" || data["DATABASE_URL"] == "" {
		t.Errorf("secret data %v", data)
	}
	cm, _ := dyn.Resource(kinds[2].gvr).Namespace("propital").Get(ctx, "assets-config", metav1.GetOptions{})
	if data, _, _ := unstructured.NestedStringMap(cm.Object, "data"); data["JWT_SECRET"] != "" || data["LOG_LEVEL"] != "info" {
		t.Errorf("config map data %v", data)
	}

	// the config loses the gateway: its objects are pruned, the rest stays
	delete(p.Services, "gateway")
	delete(p.Deploy["staging"].Services, "gateway")
	objs2, err := Render(p, Inputs{Env: "staging", Images: images})
	if err != nil {
		t.Fatal(err)
	}
	third, err := Apply(ctx, dyn, objs2, opts)
	if err != nil {
		t.Fatal(err)
	}
	a := actions(third)
	for _, k := range []string{"Deployment/gateway", "Service/gateway", "ConfigMap/gateway-config", "Ingress/gateway"} {
		if a[k] != "pruned" {
			t.Errorf("%s: %q, want pruned (changes %v)", k, a[k], third)
		}
	}
	if a["Deployment/assets"] != "unchanged" {
		t.Errorf("assets: %q", a["Deployment/assets"])
	}

	// rollout: the test plays the controller
	deps := dyn.Resource(kinds[5].gvr).Namespace("propital")
	setStatus := func(name string, status map[string]any) {
		d, err := deps.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		status["observedGeneration"] = d.GetGeneration()
		d.Object["status"] = status
		if _, err := deps.UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waited := make(chan error, 1)
	var lines []string
	go func() {
		waited <- WaitRollout(ctx, dyn, "propital", []string{"assets"}, 30*time.Second, func(s string) { lines = append(lines, s) })
	}()
	setStatus("assets", map[string]any{"replicas": int64(1), "updatedReplicas": int64(1), "readyReplicas": int64(1), "availableReplicas": int64(1)})
	if err := <-waited; err != nil {
		t.Errorf("rollout: %v", err)
	}
	if lines[len(lines)-1] != "assets: rolled out" {
		t.Errorf("progress %v", lines)
	}
	setStatus("assets", map[string]any{"replicas": int64(1), "updatedReplicas": int64(0), "conditions": []any{map[string]any{
		"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": `ReplicaSet "assets-5d" has timed out progressing.`}}})
	err = WaitRollout(ctx, dyn, "propital", []string{"assets"}, 30*time.Second, nil)
	if err == nil || !strings.Contains(err.Error(), "assets: ProgressDeadlineExceeded: ReplicaSet \"assets-5d\" has timed out progressing.") {
		t.Errorf("failed rollout: %v", err)
	}
	// the failing pods' events and last logs
	// no controllers here: make the service account admission wants, as the controller would
	sa := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "default"}}}
	if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}).Namespace("propital").Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).Namespace("propital")
	pod := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "assets-5d-x1", "labels": map[string]any{LabelName: "assets", LabelPartOf: "propital"}},
		"spec":     map[string]any{"containers": []any{map[string]any{"name": "assets", "image": "x"}}}}}
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ev := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Event",
		"metadata":       map[string]any{"name": "assets-5d-x1.1"},
		"involvedObject": map[string]any{"kind": "Pod", "name": "assets-5d-x1", "namespace": "propital"},
		"reason":         "BackOff", "message": "Back-off restarting failed container assets"}}
	if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "events"}).Namespace("propital").Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	diag := strings.Join(Diagnose(ctx, dyn, fakeLogs{}, "propital", "assets"), "\n")
	if !strings.Contains(diag, "pod assets-5d-x1 event BackOff: Back-off restarting failed container assets") ||
		!strings.Contains(diag, "pod assets-5d-x1 | panic: DATABASE_URL is not set") {
		t.Errorf("diagnosis:\n%s", diag)
	}
	if err := WaitRollout(ctx, dyn, "propital", []string{"nats-never"}, time.Second, nil); err == nil {
		t.Error("a missing deployment must be an error")
	}
}
