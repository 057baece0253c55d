package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/propital/launcher/internal/envfile"
	"github.com/propital/launcher/internal/testenv"
)

// TestPlatformEndToEnd runs the repo's own launcher.yaml through `launcher up --wait`, with two
// gateway replicas, and walks the public API: the user's socket is held by replica B while every
// write goes through replica A.
func TestPlatformEndToEnd(t *testing.T) {
	testenv.RequireDocker(t)
	root, _ := filepath.Abs("../..")
	project := testenv.ProjectName("e2e")
	work := t.TempDir()
	override := testenv.InfraOverride(project, "nats", "redis", "postgres", "mongo") +
		"services:\n  gateway: {ports: [\"3000\"], replicas: 2}\n"
	testenv.WriteFiles(t, work, map[string]string{"override.yaml": override})
	t.Cleanup(func() { testenv.RemoveProject(project) })
	launcher := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(os.Args[0], append([]string{"--project-dir", root, "-f", filepath.Join(root, "launcher.yaml"),
			"-f", filepath.Join(work, "override.yaml"), "--env-file", filepath.Join(work, ".env")}, args...)...)
		cmd.Env = append(os.Environ(), "LAUNCHER_TEST_MAIN=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("launcher %v: %v\n%s", args, err, out)
		}
		return out
	}
	launcher("up", "--wait", "--timeout", "5m")

	var nodes []struct {
		Name  string   `json:"name"`
		State string   `json:"state"`
		Ports []string `json:"ports"`
	}
	ps := launcher("ps", "-o", "json")
	if err := json.Unmarshal(ps[bytes.IndexByte(ps, '['):], &nodes); err != nil {
		t.Fatal(err)
	}
	var gw []string
	for _, n := range nodes {
		if n.State != "ready" {
			t.Errorf("%s is %s", n.Name, n.State)
		}
		if n.Name == "gateway" {
			for _, p := range n.Ports {
				gw = append(gw, "http://"+strings.Split(p, "->")[0])
			}
		}
	}
	if len(gw) != 2 {
		t.Fatalf("want two gateway replicas, got ports %v", gw)
	}
	a, b := gw[0], gw[1]
	api := &apiClient{t: t}

	// register and log in
	var reg struct {
		User  map[string]string `json:"user"`
		Token string            `json:"token"`
	}
	api.do(a, "POST", "/auth/register", "", `{"email":"Ana@Example.com","name":"Ana","password":"correct horse"}`, 201, &reg)
	api.do(a, "POST", "/auth/register", "", `{"email":"ana@example.com","name":"Ana 2","password":"correct horse"}`, 409, nil)
	api.do(b, "POST", "/auth/login", "", `{"email":"ana@example.com","password":"wrong password"}`, 401, nil)
	var login struct {
		Token string `json:"token"`
	}
	api.do(b, "POST", "/auth/login", "", `{"email":"ana@example.com","password":"correct horse"}`, 200, &login)
	tok := login.Token
	var me map[string]string
	api.do(a, "GET", "/auth/me", tok, "", 200, &me)
	if me["email"] != "ana@example.com" || me["id"] != reg.User["id"] {
		t.Fatalf("me = %v", me)
	}

	// the socket is on replica B
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, strings.Replace(b, "http", "ws", 1)+"/ws?token="+tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	next := func(want string) map[string]any {
		t.Helper()
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		defer rcancel()
		_, data, err := ws.Read(rctx)
		if err != nil {
			t.Fatalf("no %s notification on replica B's socket within 2s: %v", want, err)
		}
		var m struct {
			Type         string         `json:"type"`
			Notification map[string]any `json:"notification"`
		}
		json.Unmarshal(data, &m)
		if m.Type != "notification" || m.Notification["eventType"] != want {
			t.Fatalf("socket got %s, want a %s notification", data, want)
		}
		return m.Notification
	}

	// writes through replica A
	var asset map[string]any
	api.do(a, "POST", "/assets", tok, `{"type":"House","status":"Available","address":"1 Main St","value":250000.5,"areaSqm":120,"acquisitionDate":"2024-03-31","description":"blue door"}`, 201, &asset)
	id, _ := asset["id"].(string)
	next("Created")
	api.do(a, "POST", "/assets/"+id+"/events", tok, `{"type":"Leased","description":"to Bob"}`, 201, nil)
	leased := next("Leased")

	var got map[string]any
	api.do(b, "GET", "/assets/"+id, tok, "", 200, &got)
	if evs, _ := got["events"].([]any); len(evs) != 2 || got["value"] != 250000.5 || got["acquisitionDate"] != "2024-03-31" {
		t.Errorf("asset = %v", got)
	}
	var list struct {
		Data []any          `json:"data"`
		Meta map[string]any `json:"meta"`
	}
	api.do(a, "GET", "/assets?page=1&limit=10", tok, "", 200, &list)
	if len(list.Data) != 1 || list.Meta["total"] != 1.0 || list.Meta["totalPages"] != 1.0 {
		t.Errorf("list = %+v", list)
	}

	unread := func() float64 {
		var c map[string]float64
		api.do(a, "GET", "/notifications/unread-count", tok, "", 200, &c)
		return c["count"]
	}
	if n := unread(); n != 2 {
		t.Errorf("unread = %v, want 2 (Created and Leased)", n)
	}
	var notes struct {
		Data []map[string]any `json:"data"`
	}
	api.do(a, "GET", "/notifications?limit=10", tok, "", 200, &notes)
	if len(notes.Data) != 2 || notes.Data[0]["eventType"] != "Leased" {
		t.Errorf("notifications (newest first) = %v", notes.Data)
	}
	var read map[string]any
	api.do(a, "POST", fmt.Sprintf("/notifications/%s/read", leased["id"]), tok, "", 200, &read)
	if read["read"] != true {
		t.Errorf("marked = %v", read)
	}
	if n := unread(); n != 1 {
		t.Errorf("unread after one read = %v", n)
	}
	var upd map[string]float64
	api.do(a, "POST", "/notifications/read-all", tok, "", 200, &upd)
	if upd["updated"] != 1 || unread() != 0 {
		t.Errorf("read-all = %v, unread %v", upd, unread())
	}

	// bad input: the documented 4xx, and nothing stored anywhere
	secretEnv, err := envfile.ReadFile(filepath.Join(work, ".env"))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := secretEnv.Lookup("JWT_SECRET")
	expired, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": reg.User["id"], "iss": "auth",
		"exp": time.Now().Add(-time.Hour).Unix()}).SignedString([]byte(key))
	var other struct {
		Token string `json:"token"`
	}
	api.do(a, "POST", "/auth/register", "", `{"email":"bob@example.com","name":"Bob","password":"hunter2hunter2"}`, 201, &other)
	for _, c := range []struct {
		name, method, path, token, body string
		status                          int
		msg                             string
	}{
		{"malformed JSON", "POST", "/assets", tok, `{"type":`, 400, "malformed JSON"},
		{"missing fields", "POST", "/assets", tok, `{"type":"House"}`, 400, "missing required field(s): address, status"},
		{"missing value", "POST", "/assets", tok, `{"type":"House","status":"Available","address":"x"}`, 400, "value"},
		{"wrong type", "POST", "/assets", tok, `{"type":"House","status":"Available","address":"x","value":"cheap"}`, 400, "field value must be a number"},
		{"unknown field", "POST", "/assets", tok, `{"type":"House","status":"Available","address":"x","value":1,"colour":"red"}`, 400, "unknown field"},
		{"bad enum", "POST", "/assets", tok, `{"type":"Castle","status":"Available","address":"x","value":1}`, 400, "type must be one of"},
		{"bad date", "POST", "/assets", tok, `{"type":"House","status":"Available","address":"x","value":1,"acquisitionDate":"yesterday"}`, 400, "acquisitionDate"},
		{"negative value", "POST", "/assets", tok, `{"type":"House","status":"Available","address":"x","value":-5}`, 400, "value is required and must be 0 or more"},
		{"unknown event type", "POST", "/assets/" + id + "/events", tok, `{"type":"Exploded"}`, 400, "type must be one of"},
		{"no token", "GET", "/assets", "", "", 401, "bearer token is required"},
		{"bad token", "GET", "/assets", "not-a-jwt", "", 401, "invalid token"},
		{"expired token", "GET", "/assets", expired, "", 401, "token expired"},
		{"another user's asset", "GET", "/assets/" + id, other.Token, "", 404, "not found"},
		{"event on another user's asset", "POST", "/assets/" + id + "/events", other.Token, `{"type":"Sold"}`, 404, "not found"},
		{"bad paging", "GET", "/assets?page=zero", tok, "", 400, "page must be a whole number"},
		{"bad email", "POST", "/auth/register", "", `{"email":"nope","name":"N","password":"12345678"}`, 400, "email is not a valid address"},
		{"short password", "POST", "/auth/register", "", `{"email":"c@example.com","name":"C","password":"123"}`, 400, "password must be"},
		{"unknown route", "GET", "/nope", tok, "", 404, "no route"},
	} {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		api.do(a, c.method, c.path, c.token, c.body, c.status, &e)
		if !strings.Contains(e.Error.Message, c.msg) || e.Error.Code == "" {
			t.Errorf("%s: error %+v, want a message with %q", c.name, e.Error, c.msg)
		}
	}
	api.do(a, "GET", "/assets", tok, "", 200, &list)
	api.do(a, "GET", "/assets/"+id, tok, "", 200, &got)
	if list.Meta["total"] != 1.0 || len(got["events"].([]any)) != 2 || unread() != 0 {
		t.Errorf("bad input stored something: %v assets, %d events, %v unread", list.Meta["total"], len(got["events"].([]any)), unread())
	}
	api.do(a, "POST", "/auth/login", "", `{"email":"nope","password":"12345678"}`, 401, nil)
}

type apiClient struct{ t *testing.T }

func (c *apiClient) do(base, method, path, token, body string, status int, out any) {
	c.t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	if resp.StatusCode != status {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, buf.String(), status)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		c.t.Errorf("%s %s: no X-Request-Id", method, path)
	}
	if out != nil {
		if err := json.Unmarshal(buf.Bytes(), out); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, buf.String())
		}
	}
}
