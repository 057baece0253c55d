// Package imagebuild turns a service into an image. Go services are built the way ko does it:
// `go build` on the host (CGO_ENABLED=0, GOOS=linux, the target's GOARCH) with the host's module
// and build caches, packed into a minimal image (the binary, CA certificates, a non-root user)
// with go-containerregistry. Dockerfile services are built by the daemon. `up` loads the image
// into the daemon; deploy pushes the same image to a registry.
package imagebuild

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// InputLabel on an image holds the hash of what it was built from; an unchanged build is not
// loaded again.
const InputLabel = "dev.launcher.input"

// Daemon is what builds need from the container engine.
type Daemon interface {
	ImageLabel(ctx context.Context, ref, label string) (string, error)
	LoadImage(ctx context.Context, tarball io.Reader) error
	BuildImage(ctx context.Context, context io.Reader, dockerfile, tag string, args map[string]*string, labels map[string]string, progress func(string)) error
}

// GoBuild describes a Go service build.
type GoBuild struct {
	Dir     string // module folder (the service's path)
	Package string // main package, relative to Dir
	Arch    string // GOARCH of the daemon
	Tag     string // image reference to produce
	Labels  map[string]string
	Cache   string // folder for the built binary; "" is the user cache dir
}

// Result says what a build did.
type Result struct {
	Tag      string
	Input    string // hash of the inputs
	Loaded   bool   // false: the daemon already had this exact image
	Duration time.Duration
}

// BuildGo compiles and, unless the daemon already has it, loads the image.
func BuildGo(ctx context.Context, d Daemon, b GoBuild, progress func(string)) (Result, error) {
	start := time.Now()
	img, input, err := BuildGoImage(ctx, b, progress)
	if err != nil {
		return Result{}, err
	}
	res := Result{Tag: b.Tag, Input: input}
	if have, _ := d.ImageLabel(ctx, b.Tag, InputLabel); have == input {
		res.Duration = time.Since(start)
		return res, nil
	}
	if progress != nil {
		progress("loading " + b.Tag + " into the daemon")
	}
	tag, err := name.NewTag(b.Tag)
	if err != nil {
		return res, fmt.Errorf("image name %q: %w", b.Tag, err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarball.Write(tag, img, pw)) }()
	if err := d.LoadImage(ctx, pr); err != nil {
		pr.CloseWithError(err)
		return res, fmt.Errorf("load %s: %w", b.Tag, err)
	}
	res.Loaded, res.Duration = true, time.Since(start)
	return res, nil
}

// BuildGoImage compiles the service and packs it; it returns the image and the hash of its
// inputs. `up` loads the image into the daemon, `deploy` pushes it: one build for both.
func BuildGoImage(ctx context.Context, b GoBuild, progress func(string)) (v1.Image, string, error) {
	cache := b.Cache
	if cache == "" {
		uc, err := os.UserCacheDir()
		if err != nil {
			uc = os.TempDir()
		}
		cache = filepath.Join(uc, "launcher", "bin")
	}
	out := filepath.Join(cache, strings.NewReplacer("/", "_", ":", "_", "@", "_").Replace(b.Tag)+"-"+b.Arch)
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, "", err
	}
	if progress != nil {
		progress("go build " + b.Package)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, b.Package)
	cmd.Dir = b.Dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+b.Arch, "GOFLAGS=-buildvcs=false")
	var stderr bytes.Buffer
	cmd.Stderr, cmd.Stdout = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		if _, lookErr := exec.LookPath("go"); lookErr != nil {
			return nil, "", fmt.Errorf("go build: the Go toolchain is not installed (needed for Go services); install it from go.dev/dl")
		}
		return nil, "", fmt.Errorf("go build %s in %s: %v\n%s", b.Package, b.Dir, err, strings.TrimSpace(stderr.String()))
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, "", err
	}
	certs := caCertificates()
	h := sha256.New()
	h.Write(bin)
	h.Write(certs)
	keys := make([]string, 0, len(b.Labels))
	for k := range b.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprint(h, b.Arch)
	for _, k := range keys {
		fmt.Fprint(h, k, "=", b.Labels[k], ";")
	}
	input := hex.EncodeToString(h.Sum(nil))[:24]
	labels := map[string]string{InputLabel: input}
	for k, v := range b.Labels {
		labels[k] = v
	}
	img, err := goImage(bin, certs, b.Arch, labels)
	return img, input, err
}

// Push writes img to repo (e.g. europe-west1-docker.pkg.dev/p/r/gateway) with tag, and returns its
// reference by digest. Credentials come from keychain (the docker config, gcloud/ADC for
// *.pkg.dev); registries on loopback are spoken to over plain HTTP.
func Push(ctx context.Context, img v1.Image, repo, tag string, keychain authn.Keychain) (string, error) {
	var opts []name.Option
	if isLoopback(repo) {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.NewTag(repo+":"+tag, opts...)
	if err != nil {
		return "", fmt.Errorf("image name %s:%s: %w", repo, tag, err)
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx), remote.WithAuthFromKeychain(keychain)); err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return repo + "@" + d.String(), nil
}

// Digest is the reference img would have in repo, without pushing it.
func Digest(img v1.Image, repo string) (string, error) {
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return repo + "@" + d.String(), nil
}

func isLoopback(repo string) bool {
	host, _, _ := strings.Cut(repo, "/")
	h := host
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		h = host[:i]
	}
	return h == "localhost" || h == "127.0.0.1" || h == "[::1]"
}

// GoImage is the minimal image of a Go binary: scratch + CA certificates + /etc/passwd with a
// non-root user + the binary at /app.
func goImage(bin, certs []byte, arch string, labels map[string]string) (v1.Image, error) {
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	files := []struct {
		name string
		mode int64
		data []byte
	}{
		{"etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{"etc/group", 0o644, []byte("root:x:0:\nnonroot:x:65532:\n")},
		{"etc/ssl/certs/ca-certificates.crt", 0o644, certs},
		{"app", 0o755, bin},
	}
	for _, dir := range []string{"etc/", "etc/ssl/", "etc/ssl/certs/", "tmp/"} {
		mode := int64(0o755)
		if dir == "tmp/" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: mode}); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := layer.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Entrypoint = []string{"/app"}
	cf.Config.User = "65532:65532"
	cf.Config.WorkingDir = "/"
	cf.Config.Env = []string{"PATH=/", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
	cf.Config.Labels = labels
	return mutate.ConfigFile(img, cf)
}

func caCertificates() []byte {
	for _, p := range []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"} {
		if b, err := os.ReadFile(p); err == nil {
			return b
		}
	}
	return nil
}

// DockerfileBuild describes a Dockerfile service build.
type DockerfileBuild struct {
	Context    string
	Dockerfile string
	Tag        string
	Args       map[string]string
	Labels     map[string]string
}

// BuildDockerfile sends the context to the daemon and streams its progress.
func BuildDockerfile(ctx context.Context, d Daemon, b DockerfileBuild, progress func(string)) (Result, error) {
	start := time.Now()
	var buf bytes.Buffer
	if err := tarDir(&buf, b.Context); err != nil {
		return Result{}, fmt.Errorf("pack build context %s: %w", b.Context, err)
	}
	args := map[string]*string{}
	for k, v := range b.Args {
		args[k] = &v
	}
	df := b.Dockerfile
	if df == "" {
		df = "Dockerfile"
	}
	if err := d.BuildImage(ctx, &buf, df, b.Tag, args, b.Labels, progress); err != nil {
		return Result{}, err
	}
	return Result{Tag: b.Tag, Loaded: true, Duration: time.Since(start)}, nil
}

func tarDir(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel == "." {
			return nil
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() && !info.IsDir() {
			return nil
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.Copy(tw, f); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
