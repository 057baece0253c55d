package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoSecretInAnyOutput runs every command, on success and failure paths, and requires that
// no secret value appears in what it prints, unless --show-secrets asks for it.
func TestNoSecretInAnyOutput(t *testing.T) {
	dir := t.TempDir()
	secrets := map[string]string{
		"POSTGRES_PASSWORD":   "pg-Secret-Value-1",
		"MONGO_ROOT_PASSWORD": "mongo-Secret-Value-2",
		"JWT_SECRET":          "jwt-Secret-Value-3",
		"STRIPE_API_KEY":      "stripe-Secret-Value-4",
	}
	var dotenv strings.Builder
	for k, v := range secrets {
		dotenv.WriteString(k + "=" + v + "\n")
	}
	files := map[string]string{
		".env": dotenv.String(),
		".env.template": "POSTGRES_PASSWORD=${secret}\nMONGO_ROOT_PASSWORD=${secret}\nJWT_SECRET=${secret}\n" +
			"# @secret\nSTRIPE_API_KEY=\nNEW_ONE=${secret}\n",
		"launcher.yaml": `name: shop
infra: {postgres: {}, mongo: {}, nats: {}}
services:
  api:
    image: a
    uses: [postgres, mongo, nats]
    env: {JWT: "${JWT_SECRET}", STRIPE: "${STRIPE_API_KEY}", URL: "https://u:${JWT_SECRET}@x"}
`,
		"bad/launcher.yaml": "name: shop\nservices:\n  api: {image: \"${JWT_SECRET}\", ports: [\"${JWT_SECRET}\"], uses: [\"${STRIPE_API_KEY}\"]}\n",
		"bad/.env":          dotenv.String(),
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	commands := [][]string{
		{"version"}, {"schema"}, {"config", "validate"}, {"config", "validate", "-o", "json"},
		{"config", "print"}, {"config", "print", "-o", "json"}, {"env", "--check"}, {"env", "--check", "-o", "json"},
		{"env"}, {"env", "-o", "json"}, {"--project-dir", "bad", "config", "validate"},
		{"--project-dir", "bad", "config", "validate", "-o", "json"}, {"--project-dir", "bad", "config", "print"},
	}
	// the derived role password is a secret too
	f := newFactory(nil, &bytes.Buffer{}, &bytes.Buffer{}, noEnv)
	f.project.projectDir = dir
	p, err := f.loadProject()
	if err != nil {
		t.Fatal(err)
	}
	all := []string{p.RolePassword("postgres", "api")}
	for _, v := range secrets {
		all = append(all, v)
	}
	for _, args := range commands {
		var out, errb bytes.Buffer
		f := newFactory(strings.NewReader(""), &out, &errb, noEnv)
		code := run(context.Background(), f, append([]string{"--project-dir", dir}, args...))
		printed := out.String() + errb.String()
		if printed == "" {
			t.Errorf("%v printed nothing (exit %d)", args, code)
		}
		for _, s := range all {
			if strings.Contains(printed, s) {
				t.Errorf("%v printed a secret:\n%s", args, printed)
			}
		}
	}
	var out bytes.Buffer
	f = newFactory(nil, &out, &bytes.Buffer{}, noEnv)
	run(context.Background(), f, []string{"--project-dir", dir, "config", "print", "--show-secrets"})
	if !strings.Contains(out.String(), secrets["JWT_SECRET"]) {
		t.Errorf("--show-secrets did not show the secret")
	}
}

func noEnv(string) (string, bool) { return "", false }
