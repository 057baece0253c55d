package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/propital/launcher/internal/envfile"
)

func TestInterpolation(t *testing.T) {
	dot, _ := envfile.Parse(".env", []byte("SET=v\nEMPTY=\n"))
	env := &Environment{Dotenv: dot, Process: func(k string) (string, bool) {
		if k == "PROC" {
			return "p", true
		}
		return "", false
	}}
	cases := []struct{ in, want, err string }{
		{"plain", "plain", ""},
		{"$SET-${SET}", "v-v", ""},
		{"$$SET", "$SET", ""},
		{"${PROC}", "p", ""},
		{"${UNSET:-d}", "d", ""},
		{"${EMPTY:-d}", "d", ""},
		{"${EMPTY-d}", "", ""},
		{"${UNSET:-${SET}x}", "vx", ""},
		{"${SET:+alt}", "alt", ""},
		{"${UNSET:+alt}", "", ""},
		{"${EMPTY+alt}", "alt", ""},
		{"${UNSET}", "", "not defined"},
		{"${EMPTY:?need it}", "", "EMPTY is empty: need it"},
		{"${UNSET?}", "", "UNSET is not set: is required"},
		{"${EMPTY?}", "", ""},
		{"${", "", "unclosed"},
		{"${SET!x}", "", "bad variable reference"},
		{"cost $5", "cost $5", ""},
	}
	for _, c := range cases {
		var errs Errors
		in := &interpolator{env: env, errs: &errs}
		got, err := in.expand(c.in, Pos{}, 0)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestParsePort(t *testing.T) {
	for in, want := range map[string]Port{
		"80":                {DefaultHostIP, 0, 80, "tcp"},
		"3000:80":           {DefaultHostIP, 3000, 80, "tcp"},
		"0.0.0.0:3000:80":   {"0.0.0.0", 3000, 80, "tcp"},
		"127.0.0.1::80/udp": {DefaultHostIP, 0, 80, "udp"},
		"[::1]:8080:80":     {"::1", 8080, 80, "tcp"},
	} {
		got, err := ParsePort(in)
		if err != nil || got != want {
			t.Errorf("%s = %+v, %v", in, got, err)
		}
		back, err := ParsePort(got.String())
		if err != nil || back != got {
			t.Errorf("%s: String %q reads back %+v", in, got.String(), back)
		}
	}
	for _, bad := range []string{"", "x", "0", "1:2:3:4", "80/sctp", "99999", "[::1"} {
		if _, err := ParsePort(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestConnEnv(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "launcher.yaml", `
name: shop
infra:
  nats: {}
  postgres: {}
  mongo: {}
  redis: {}
  orders-db: {kind: postgres, ports: ["5433:5432"]}
services:
  api:
    image: a
    uses: [nats, postgres, mongo, redis, orders-db]
    env: {NATS_URL: nats://override:4222}
`)
	write(t, dir, ".env", "POSTGRES_PASSWORD=pgpw\nMONGO_ROOT_PASSWORD=mgpw\n")
	p, err := Load(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	env := p.ServiceEnv("api")
	role := p.RolePassword("postgres", "api")
	for k, v := range map[string]string{
		"NATS_URL":              "nats://override:4222",
		"REDIS_URL":             "redis://redis:6379/0",
		"POSTGRES_DATABASE_URL": "postgres://api:" + role + "@postgres:5432/api?sslmode=disable",
		"MONGO_URI":             "mongodb://root:mgpw@mongo:27017/api?authSource=admin",
		"MONGO_DB":              "api",
		"SERVICE_NAME":          "api",
	} {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if !strings.HasPrefix(env["ORDERS_DB_DATABASE_URL"], "postgres://api:") || env["DATABASE_URL"] != "" {
		t.Errorf("two postgres: %q %q", env["ORDERS_DB_DATABASE_URL"], env["DATABASE_URL"])
	}
	if role == p.RolePassword("postgres", "other") || len(role) != 32 {
		t.Errorf("role password %q", role)
	}
	secrets := strings.Join(p.Secrets(), " ")
	for _, s := range []string{"pgpw", "mgpw", role} {
		if !strings.Contains(secrets, s) {
			t.Errorf("secret %q not known", s)
		}
	}
}

func TestErrorsAreCollectedAndSorted(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "launcher.yaml", "name: x\nservices:\n  b: {image: i, uses: [nope]}\n  a: {bogus: 1}\n")
	_, err := Load(Options{Dir: dir})
	var es Errors
	if !errors.As(err, &es) || len(es) != 3 {
		t.Fatalf("got %v", err)
	}
	if es[0].Pos.Line != 3 || es[1].Pos.Line != 4 {
		t.Errorf("not sorted: %v", es)
	}
}

func TestSchemaCoversEveryField(t *testing.T) {
	s := Schema()
	svc := s["properties"].(map[string]any)["services"].(map[string]any)["additionalProperties"].(map[string]any)
	props := svc["properties"].(map[string]any)
	for _, k := range []string{"path", "repo", "build", "uses", "depends_on", "health", "env", "ports"} {
		if _, ok := props[k]; !ok {
			t.Errorf("schema lacks services.*.%s", k)
		}
	}
}

func write(t testing.TB, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// FuzzLoad: no input makes the loader panic; a failure is always located Errors.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"name: x\ninfra: {nats: {}}\n",
		"name: x\nservices:\n  a: {image: i, uses: [nats], depends_on: [b]}\n  b: {image: j, depends_on: [a]}\n",
		"name: x\nx-a: &a {image: i}\nservices: {a: {<<: *a, env: [A=1, B]}}\n",
		"name: ${X:-y}\nservices: {a: {image: i, ports: [\"1:2\", 3]}}\n",
		"[1, 2]", "a: !reset null\n", "- &a [*a]\n", "name: x\ninfra: {pg: {kind: postgres, health: {log: '('}}}\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	write(f, dir, ".env.template", "POSTGRES_PASSWORD=${secret}\nMONGO_ROOT_PASSWORD=${secret}\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, "launcher.yaml"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := Load(Options{Dir: dir})
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error is not located: %T %v", err, err)
			}
			for _, e := range es {
				if e.Pos.File == "" {
					t.Fatalf("error without a file: %v", e)
				}
			}
			return
		}
		for _, n := range p.ServiceNames() {
			p.ServiceEnv(n)
		}
		p.Secrets()
	})
}

// TestPathologicalInputsStayLinear guards the loader against inputs that alias-expand to the node
// limit: every check on them must stay linear (a quadratic one took minutes before).
func TestPathologicalInputsStayLinear(t *testing.T) {
	l := func(item string, n int) string {
		return "[" + strings.TrimSuffix(strings.Repeat(item+",", n), ",") + "]"
	}
	docs := map[string]string{
		"ports": "name: x\nx-p: &p " + l(`"3000:3000"`, 40) + "\nx-q: &q " + l("*p", 40) + "\nx-r: &r " + l("*q", 40) +
			"\nservices: {a: {image: i, ports: *r}}\n",
		"uses": "name: x\nx-u: &u " + l("nats", 300) + "\nx-v: &v " + l("*u", 300) + "\ninfra: {nats: {}}\nservices: {a: {image: i, uses: *v}}\n",
		"merge": func() string {
			var b strings.Builder
			b.WriteString("name: x\nx-m: &m {")
			for i := 0; i < 3000; i++ {
				fmt.Fprintf(&b, "k%d: 1,", i)
			}
			b.WriteString("z: 1}\nx-n: {<<: [*m, *m, *m, *m, *m, *m, *m, *m], bad: 1}\n")
			return b.String()
		}(),
	}
	for name, doc := range docs {
		dir := t.TempDir()
		write(t, dir, "launcher.yaml", doc)
		_, err := Load(Options{Dir: dir})
		var es Errors
		if name != "merge" && (!errors.As(err, &es) || len(es) > maxErrors+1) {
			t.Errorf("%s: %d errors, want at most %d: %v", name, len(es), maxErrors+1, err)
		}
	}
}
