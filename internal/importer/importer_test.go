package importer

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/propital/launcher/internal/config"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		os.WriteFile(p, []byte(got), 0o644)
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (go test ./internal/importer -update creates it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from its golden file:\n%s", name, got)
	}
}

// TestImportOldLauncher: the old repo's 4 submodules and compose file become a launcher.yaml and
// a .env.template that validate, and the variable the old template forgot is reported with its line.
func TestImportOldLauncher(t *testing.T) {
	res, err := Import(context.Background(), "testdata/oldlauncher")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "oldlauncher.launcher.yaml.golden", res.LauncherYAML)
	golden(t, "oldlauncher.env.template.golden", res.EnvTemplate)
	if len(res.Missing) != 1 || res.Missing[0].String() != "docker-compose.yml:50: MONGO_URI is used but defined nowhere" {
		t.Errorf("missing: %v", res.Missing)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "launcher.yaml"), []byte(res.LauncherYAML), 0o644)
	os.WriteFile(filepath.Join(dir, ".env.template"), []byte(res.EnvTemplate), 0o644)
	if _, err := config.Load(config.Options{Dir: dir}); err != nil {
		t.Fatalf("the imported config does not validate:\n%v\n%s", err, res.LauncherYAML)
	}
	for _, want := range []string{"repo: \"git@github.com:propital/api-gateway.git\"", "kind: container", "uses: [mongodb, nats-server]", "ref: develop"} {
		if !strings.Contains(res.LauncherYAML, want) {
			t.Errorf("launcher.yaml lacks %q", want)
		}
	}
}

func TestGitmodules(t *testing.T) {
	subs, err := ReadGitmodules("testdata/oldlauncher/.gitmodules")
	if err != nil || len(subs) != 4 || subs[2].Branch != "develop" || subs[1].URL != "git@github.com:propital/auth-ms.git" {
		t.Errorf("%+v %v", subs, err)
	}
}
