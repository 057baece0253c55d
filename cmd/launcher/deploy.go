package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/google"
	"github.com/propital/launcher/internal/config"
	"github.com/propital/launcher/internal/deploy"
	"github.com/propital/launcher/internal/imagebuild"
	"github.com/propital/launcher/internal/repos"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func newDeployCmd(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Ship the stack to Kubernetes, from the same launcher.yaml",
		Args:  noArgs,
	}
	cmd.AddCommand(newDeployRenderCmd(f), newDeployGKECmd(f), newDeployPlanCmd(f))
	return cmd
}

type deployApplyOptions struct {
	deployRenderOptions
	outputOptions
	context    string
	kubeconfig string
	dryRun     bool
	timeout    time.Duration
}

func (o *deployApplyOptions) addFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&o.env, "env", "", "deploy environment (default: the only one)")
	fl.StringVar(&o.context, "context", "", "kubeconfig context (default: the environment's context)")
	fl.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: KUBECONFIG or ~/.kube/config)")
	fl.StringVar(&o.arch, "arch", "amd64", "CPU architecture of the cluster's nodes")
	o.addOutputFlag(cmd, "text", "json")
}

func newDeployGKECmd(f *factory) *cobra.Command {
	opts := &deployApplyOptions{}
	cmd := &cobra.Command{
		Use:   "gke",
		Short: "Build and push the images, server-side apply the stack, prune what the config dropped, wait for rollouts",
		Long: `Build and push the images (tagged with the source commit, referenced by digest), server-side
apply the environment's objects with field manager "launcher", delete this stack's objects that
the config no longer has (by label), and wait for every Deployment to roll out. --dry-run asks
the server to validate everything and writes nothing (images are built, not pushed).

Credentials come from kubeconfig (--context, else the environment's context); or, when the
environment names a GKE cluster and no context, from the GKE API with application default
credentials (` + "`gcloud auth application-default login`" + `, or GOOGLE_APPLICATION_CREDENTIALS).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDeployApply(cmd.Context(), f, opts, false)
		},
	}
	opts.addFlags(cmd)
	cmd.Flags().BoolVar(&opts.dryRun, "dry-run", false, "validate on the server; write nothing")
	cmd.Flags().DurationVar(&opts.timeout, "timeout", 5*time.Minute, "how long rollouts may take")
	return cmd
}

func newDeployPlanCmd(f *factory) *cobra.Command {
	opts := &deployApplyOptions{}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what deploy would change: per object, each service's image digest, env keys added or removed",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.dryRun = true
			return runDeployApply(cmd.Context(), f, opts, true)
		},
	}
	opts.addFlags(cmd)
	return cmd
}

// deployReport is the JSON form of deploy gke and plan.
type deployReport struct {
	Env     string          `json:"env"`
	DryRun  bool            `json:"dry_run"`
	Changes []deploy.Change `json:"changes"`
	Details []string        `json:"details,omitempty"`
}

func runDeployApply(ctx context.Context, f *factory, opts *deployApplyOptions, plan bool) error {
	p, env, err := deployTarget(f, &opts.deployRenderOptions)
	if err != nil {
		return err
	}
	d := p.Deploy[env]
	kctx := opts.context
	if kctx == "" {
		kctx = d.Context
	}
	var cfg *rest.Config
	if kctx == "" && d.Cluster != "" && opts.kubeconfig == "" {
		// the environment names a GKE cluster: its endpoint and CA from the GKE API, with ADC
		cfg, err = deploy.GKEConfig(ctx, deploy.GKEOptions{Project: d.Project, Location: d.Region, Cluster: d.Cluster})
	} else {
		cfg, err = deploy.RESTConfig(opts.kubeconfig, kctx)
	}
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	opts.push = !opts.dryRun
	objs, err := renderDeploy(ctx, f, p, env, &opts.deployRenderOptions)
	if err != nil {
		return err
	}
	var details []string
	if plan {
		details, err = deploy.Differences(ctx, dyn, objs)
		if err != nil {
			return err
		}
	}
	changes, err := deploy.Apply(ctx, dyn, objs, deploy.ApplyOptions{DryRun: opts.dryRun, Project: p.Name, Env: env})
	text := opts.output != "json"
	if text {
		for _, c := range changes {
			fmt.Fprintf(f.Out, "%-12s %-28s %s\n", c.Kind, c.Name, c.Action)
		}
		for _, l := range details {
			fmt.Fprintln(f.Out, l)
		}
	}
	if err != nil {
		return err
	}
	if !opts.dryRun {
		var deps []string
		for _, o := range objs {
			if o.GetObjectKind().GroupVersionKind().Kind == "Deployment" {
				deps = append(deps, o.GetName())
			}
		}
		progress := func(s string) {
			if text {
				fmt.Fprintf(f.Err, "rollout %s\n", s)
			}
		}
		if err := deploy.WaitRollout(ctx, dyn, d.Namespace, deps, opts.timeout, progress); err != nil {
			var re *deploy.RolloutError
			if errors.As(err, &re) {
				cs, cerr := kubernetes.NewForConfig(cfg)
				var logs deploy.PodLogs
				if cerr == nil {
					logs = podLogs{cs}
				}
				for _, name := range deps {
					for _, l := range deploy.Diagnose(ctx, dyn, logs, d.Namespace, name) {
						re.Problems = append(re.Problems, l)
					}
				}
			}
			return err
		}
	}
	if !text {
		return writeJSON(f.Out, deployReport{Env: env, DryRun: opts.dryRun, Changes: changes, Details: details})
	}
	if opts.dryRun {
		fmt.Fprintf(f.Err, "dry run: nothing was written\n")
	} else {
		fmt.Fprintf(f.Err, "%s is deployed to %s\n", p.Name, env)
	}
	return nil
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
	fl.StringVarP(&opts.outDir, "out", "o", "", "write ENV.yaml into this folder instead of standard output")
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

// deployTarget is the project and the environment a deploy command works on.
func deployTarget(f *factory, opts *deployRenderOptions) (*config.Project, string, error) {
	p, err := f.loadProject()
	if err != nil {
		return nil, "", err
	}
	env, err := chooseEnv(p, opts.env)
	return p, env, err
}

// renderDeploy builds the environment's images (pushed when opts.push) and renders its objects.
func renderDeploy(ctx context.Context, f *factory, p *config.Project, env string, opts *deployRenderOptions) ([]deploy.Object, error) {
	images, commits, err := buildForDeploy(ctx, f, p, env, opts)
	if err != nil {
		return nil, err
	}
	return deploy.Render(p, deploy.Inputs{Env: env, Images: images, Commits: commits})
}

func runDeployRender(ctx context.Context, f *factory, opts *deployRenderOptions) error {
	p, env, err := deployTarget(f, opts)
	if err != nil {
		return err
	}
	objs, err := renderDeploy(ctx, f, p, env, opts)
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

// buildForDeploy builds each Go service for the cluster and returns its reference by digest
// (pushing when asked) and its source commit.
func buildForDeploy(ctx context.Context, f *factory, p *config.Project, env string, opts *deployRenderOptions) (map[string]string, map[string]string, error) {
	d := p.Deploy[env]
	if d.Registry == "" {
		return nil, nil, fmt.Errorf("deploy.%s has no registry: add one, e.g. registry: europe-west1-docker.pkg.dev/PROJECT/REPO", env)
	}
	keychain := authn.NewMultiKeychain(authn.DefaultKeychain, google.Keychain)
	images, commits := map[string]string{}, map[string]string{}
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if s.Build == nil {
			continue
		}
		if s.Build.Go == "" {
			return nil, nil, fmt.Errorf("service %s builds from a Dockerfile, which deploy cannot push yet: build and push it yourself and give it image:", name)
		}
		dir := s.Path
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(p.Dir, dir)
		}
		commit := repos.Head(dir)
		commits[name] = commit
		labels := map[string]string{config.LabelProject: p.Name, config.LabelService: name}
		if commit != "" {
			labels[config.LabelCommit] = commit
		}
		fmt.Fprintf(f.Err, "%-14s building for linux/%s\n", name, opts.arch)
		img, _, err := imagebuild.BuildGoImage(ctx, imagebuild.GoBuild{Dir: dir, Package: s.Build.Go, Arch: opts.arch,
			Tag: fmt.Sprintf("launcher/%s-%s:deploy", p.Name, name), Labels: labels}, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("build %s: %w", name, err)
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
			return nil, nil, err
		}
		images[name] = ref
	}
	return images, commits, nil
}

// podLogs reads pods' output through the Kubernetes API.
type podLogs struct{ cs kubernetes.Interface }

func (p podLogs) Tail(ctx context.Context, ns, pod string, lines int) (string, error) {
	n := int64(lines)
	b, err := p.cs.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{TailLines: &n}).Do(ctx).Raw()
	return string(b), err
}
