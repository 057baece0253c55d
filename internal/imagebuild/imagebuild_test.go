package imagebuild

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestPushAndPullByDigest builds a Go service the way `up` does, pushes it into an in-process
// registry on 127.0.0.1, and pulls the same digest back.
func TestPushAndPullByDigest(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	dir, _ := filepath.Abs("../orchestrate/testdata/probesvc")
	img, input, err := BuildGoImage(context.Background(), GoBuild{Dir: dir, Package: ".", Arch: "amd64", Tag: "probe:test",
		Labels: map[string]string{"dev.launcher.commit": "abc123"}, Cache: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	repo := strings.TrimPrefix(srv.URL, "http://") + "/propital/probe"
	want, err := Digest(img, repo)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := Push(context.Background(), img, repo, "abc123", authn.DefaultKeychain)
	if err != nil {
		t.Fatal(err)
	}
	if ref != want || !strings.Contains(ref, "@sha256:") {
		t.Fatalf("pushed %s, digest said %s", ref, want)
	}
	d, err := name.NewDigest(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Image(d)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := pulled.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.Entrypoint[0] != "/app" || cf.Config.User != "65532:65532" || cf.Config.Labels[InputLabel] != input ||
		cf.Config.Labels["dev.launcher.commit"] != "abc123" || cf.Architecture != "amd64" {
		t.Errorf("pulled config %+v", cf.Config)
	}
	// the tag points at the same digest
	tagged, err := remote.Head(mustTag(t, repo+":abc123"))
	if err != nil || repo+"@"+tagged.Digest.String() != ref {
		t.Errorf("tag resolves to %v (%v), want %s", tagged, err, ref)
	}
}

func mustTag(t *testing.T, s string) name.Tag {
	tag, err := name.NewTag(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}
