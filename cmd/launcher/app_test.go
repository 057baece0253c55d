package main

import (
	"strings"
	"testing"
)

// TestFollowFlag: -f after `logs` is --follow; before the subcommand it stays the global --file.
func TestFollowFlag(t *testing.T) {
	for in, want := range map[string]string{
		"logs -f":                        "logs --follow",
		"logs -f api --tail 5":           "logs --follow api --tail 5",
		"-f a.yaml logs -f":              "-f a.yaml logs --follow",
		"--file a.yaml -f b.yaml logs":   "--file a.yaml -f b.yaml logs",
		"--project-dir logs logs -f":     "--project-dir logs logs --follow",
		"-f x.yaml config validate -f y": "-f x.yaml config validate -f y",
		"up -d":                          "up -d",
	} {
		if got := strings.Join(followFlag(strings.Fields(in)), " "); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}
