package main

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/propital/launcher/services/internal/platform"
)

func TestDecodeBodyMessages(t *testing.T) {
	type in struct {
		Name  string   `json:"name"`
		Value *float64 `json:"value"`
	}
	for body, want := range map[string]string{
		``:                        "a JSON body is required",
		`{"name":`:                "malformed JSON",
		`{"value":"x"}`:           "field value must be a number, not string",
		`{"name":1}`:              "field name must be a string, not number",
		`{"nope":1}`:              `unknown field "nope"`,
		`{"name":"a"} {"name":2}`: "more than one value",
		`[1]`:                     "must be an object",
	} {
		var v in
		err := decodeBody(httptest.NewRequest("POST", "/", strings.NewReader(body)), &v)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}

func TestTokenCacheExpiresAndBounds(t *testing.T) {
	c := newTokenCache(time.Hour, 3)
	for _, tok := range []string{"a", "b", "c", "d"} {
		c.put(tok, platform.User{ID: tok})
	}
	if len(c.m) > 3 {
		t.Errorf("cache holds %d", len(c.m))
	}
	if u, ok := c.get("d"); !ok || u.ID != "d" {
		t.Error("the newest token is not cached")
	}
	c.ttl = -time.Second
	c.put("e", platform.User{ID: "e"})
	if _, ok := c.get("e"); ok {
		t.Error("an expired entry was returned")
	}
}

func TestIsUUID(t *testing.T) {
	if !isUUID("d5230e46-b13e-4cdc-a886-b74761dbf519") || isUUID("d5230e46b13e4cdca886b74761dbf519") || isUUID("x") {
		t.Error("isUUID")
	}
}
