package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/google"
	"github.com/propital/launcher/internal/config"
	"github.com/propital/launcher/internal/deploy"
	"github.com/propital/launcher/internal/imagebuild"
	"github.com/propital/launcher/internal/repos"
	"github.com/spf13/cobra"
)

func newDeployCmd(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Ship the stack to Kubernetes, from the same launcher.yaml",
		Args:  noArgs,
	}
	cmd.AddCommand(newDeployRenderCmd(f))
	return cmd
}

type deployRenderOptions struct {
	env         string
	outDir      string
	push        bool
	showSecrets bool
	arch        string
}

func newDeployRenderCmd(f *factory) *cobra.Command {
	opts := &deployRenderOptions{}
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Build the images and write the environment's Kubernetes objects as YAML",
		Long: `Build every Go service's image the way ` + "`launcher up`" + ` does (one build path), and write
the environment's objects: per service a Deployment (image by digest, probes from its health
check, resources, replicas), a Service, a ConfigMap for plain variables and a Secret for secret
ones; an Ingress for a service with a host (GKE's class); in-cluster infra as StatefulSets with
persistent volume claims. Every object carries labels that tie it to the stack.

Without --push the images are only built, and referenced by the digest they will have; with
--push they are pushed to the environment's registry, tagged with the source commit (the docker
config's credentials, or gcloud/ADC for *.pkg.dev). Secret values are masked unless
--show-secrets.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDeployRender(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.env, "env", "", "deploy environment (default: the only one)")
	fl.StringVarP(&opts.outDir, "out", "O", "", "write ENV.yaml into this folder instead of standard output")
	fl.BoolVar(&opts.push, "push", false, "push the images to the environment's registry")
	fl.BoolVar(&opts.showSecrets, "show-secrets", false, "write Secret values instead of masking them")
	fl.StringVar(&opts.arch, "arch", "amd64", "CPU architecture of the cluster's nodes")
	return cmd
}

func chooseEnv(p *config.Project, env string) (string, error) {
	if env != "" {
		return env, nil
	}
	var names []string
	for n := range p.Deploy {
		names = append(names, n)
	}
	sort.Strings(names)
	switch len(names) {
	case 0:
		return "", &usageError{fmt.Errorf("launcher.yaml has no deploy: section")}
	case 1:
		return names[0], nil
	}
	return "", &usageError{fmt.Errorf("name an environment with --env: %s", strings.Join(names, ", "))}
}

func runDeployRender(ctx context.Context, f *factory, opts *deployRenderOptions) error {
	p, err := f.loadProject()
	if err != nil {
		return err
	}
	env, err := chooseEnv(p, opts.env)
	if err != nil {
		return err
	}
	images, err := buildForDeploy(ctx, f, p, env, opts)
	if err != nil {
		return err
	}
	objs, err := deploy.Render(p, deploy.Inputs{Env: env, Images: images})
	if err != nil {
		return err
	}
	out, err := deploy.YAML(objs, !opts.showSecrets)
	if err != nil {
		return err
	}
	if opts.outDir == "" {
		if opts.showSecrets {
			_, err = f.rawOut.Write(out)
		} else {
			_, err = f.Out.Write(out)
		}
		return err
	}
	if err := os.MkdirAll(opts.outDir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(opts.outDir, env+".yaml")
	mode := os.FileMode(0o644)
	if opts.showSecrets {
		mode = 0o600 // it holds secrets
	}
	if err := os.WriteFile(path, out, mode); err != nil {
		return err
	}
	fmt.Fprintf(f.Err, "wrote %s: %d objects\n", path, len(objs))
	return nil
}

// buildForDeploy builds each Go service for the cluster and returns its reference by digest,
// pushing when asked.
func buildForDeploy(ctx context.Context, f *factory, p *config.Project, env string, opts *deployRenderOptions) (map[string]string, error) {
	d := p.Deploy[env]
	if d.Registry == "" {
		return nil, fmt.Errorf("deploy.%s has no registry: add one, e.g. registry: europe-west1-docker.pkg.dev/PROJECT/REPO", env)
	}
	keychain := authn.NewMultiKeychain(authn.DefaultKeychain, google.Keychain)
	images := map[string]string{}
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if s.Build == nil {
			continue
		}
		if s.Build.Go == "" {
			return nil, fmt.Errorf("service %s builds from a Dockerfile, which deploy cannot push yet: build and push it yourself and give it image:", name)
		}
		dir := s.Path
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(p.Dir, dir)
		}
		commit := repos.Head(dir)
		labels := map[string]string{config.LabelProject: p.Name, config.LabelService: name}
		if commit != "" {
			labels[config.LabelCommit] = commit
		}
		fmt.Fprintf(f.Err, "%-14s building for linux/%s\n", name, opts.arch)
		img, _, err := imagebuild.BuildGoImage(ctx, imagebuild.GoBuild{Dir: dir, Package: s.Build.Go, Arch: opts.arch,
			Tag: fmt.Sprintf("launcher/%s-%s:deploy", p.Name, name), Labels: labels}, nil)
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", name, err)
		}
		repo := strings.TrimRight(d.Registry, "/") + "/" + name
		var ref string
		if opts.push {
			tag := commit
			if tag == "" {
				tag = "latest"
			}
			ref, err = imagebuild.Push(ctx, img, repo, strings.ReplaceAll(tag, "+", "-"), keychain)
			if err == nil {
				fmt.Fprintf(f.Err, "%-14s pushed %s\n", name, ref)
			}
		} else {
			ref, err = imagebuild.Digest(img, repo)
			if err == nil {
				fmt.Fprintf(f.Err, "%-14s %s (not pushed: --push pushes it)\n", name, ref)
			}
		}
		if err != nil {
			return nil, err
		}
		images[name] = ref
	}
	return images, nil
}
