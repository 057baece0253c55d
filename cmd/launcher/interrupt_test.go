package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInterruptedIsExit130: Ctrl-C while launcher talks to the daemon is "interrupted", exit 130,
// not a daemon error.
func TestInterruptedIsExit130(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "launcher.yaml"), []byte("name: x\ninfra: {redis: {}}\n"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, args := range [][]string{{"up", "--wait"}, {"down"}, {"ps"}} {
		var out, errb bytes.Buffer
		f := newFactory(strings.NewReader(""), &out, &errb, noEnv)
		if code := run(ctx, f, append([]string{"--project-dir", dir}, args...)); code != exitInterrupted || !strings.Contains(errb.String(), "launcher: interrupted") {
			t.Errorf("%v: exit %d, %q", args, code, errb.String())
		}
	}
}
