package deploy

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/propital/launcher/internal/config"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var images = map[string]string{
	"gateway": "europe-west1-docker.pkg.dev/propital/launcher/gateway@sha256:1111111111111111111111111111111111111111111111111111111111111111",
	"assets":  "europe-west1-docker.pkg.dev/propital/launcher/assets@sha256:2222222222222222222222222222222222222222222222222222222222222222",
}

func load(t *testing.T) *config.Project {
	t.Helper()
	p, err := config.Load(config.Options{Dir: "testdata/stack"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRenderGolden(t *testing.T) {
	p := load(t)
	for _, env := range []string{"staging", "production"} {
		objs, err := Render(p, Inputs{Env: env, Images: images})
		if err != nil {
			t.Fatal(err)
		}
		got, err := YAML(objs, true)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", env+".yaml.golden")
		if *update {
			os.WriteFile(path, got, 0o644)
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test ./internal/deploy -update creates it)", err)
		}
		if string(want) != string(got) {
			t.Errorf("%s differs from its golden file:\n%s", env, got)
		}
		for _, s := range p.Secrets() {
			if strings.Contains(string(got), s) {
				t.Errorf("%s: a secret value is in the masked output", env)
			}
		}
	}
}

// TestSecretsNeverInConfigMaps: every secret value lands in a Secret; no ConfigMap holds one.
func TestSecretsNeverInConfigMaps(t *testing.T) {
	p := load(t)
	objs, err := Render(p, Inputs{Env: "staging", Images: images})
	if err != nil {
		t.Fatal(err)
	}
	secretKeys := map[string]bool{}
	for _, o := range objs {
		for _, k := range []string{LabelManagedBy, LabelPartOf, LabelEnv} {
			if o.GetLabels()[k] == "" {
				t.Errorf("%s/%s lacks label %s", o.GetObjectKind().GroupVersionKind().Kind, o.GetName(), k)
			}
		}
		switch v := o.(type) {
		case *corev1.ConfigMap:
			for k, val := range v.Data {
				for _, s := range p.Secrets() {
					if strings.Contains(val, s) {
						t.Errorf("ConfigMap %s holds the secret %s", v.Name, k)
					}
				}
			}
		case *corev1.Secret:
			for k := range v.StringData {
				secretKeys[v.Name+"/"+k] = true
			}
		case *appsv1.Deployment:
			if img := v.Spec.Template.Spec.Containers[0].Image; !strings.Contains(img, "@sha256:") {
				t.Errorf("%s image %s is not by digest", v.Name, img)
			}
		}
	}
	for _, want := range []string{"assets-secrets/JWT_SECRET", "assets-secrets/DATABASE_URL", "postgres-secrets/POSTGRES_PASSWORD"} {
		if !secretKeys[want] {
			t.Errorf("no secret %s (have %v)", want, secretKeys)
		}
	}
}

func TestExternalInfraAndErrors(t *testing.T) {
	p := load(t)
	objs, err := Render(p, Inputs{Env: "production", Images: images})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetName() == "redis" {
			t.Errorf("external redis was rendered as %T", o)
		}
		if cm, ok := o.(*corev1.ConfigMap); ok && cm.Name == "gateway-config" && cm.Data["REDIS_URL"] != "redis://10.0.0.3:6379/0" {
			t.Errorf("gateway REDIS_URL = %q", cm.Data["REDIS_URL"])
		}
		if o.GetNamespace() != "" && o.GetNamespace() != "platform" {
			t.Errorf("%s in namespace %q", o.GetName(), o.GetNamespace())
		}
	}
	if _, err := Render(p, Inputs{Env: "nope", Images: images}); err == nil || !strings.Contains(err.Error(), "there are: production, staging") {
		t.Errorf("unknown env: %v", err)
	}
	if _, err := Render(p, Inputs{Env: "staging"}); err == nil || !strings.Contains(err.Error(), "no built image") {
		t.Errorf("no images: %v", err)
	}
}
