package deploy

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// FieldManager is who launcher is to server-side apply.
const FieldManager = "launcher"

// kinds launcher renders, in apply order, with their resources.
var kinds = []struct {
	kind       string
	gvr        schema.GroupVersionResource
	namespaced bool
}{
	{"Namespace", schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, false},
	{"Secret", schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, true},
	{"ConfigMap", schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, true},
	{"StatefulSet", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}, true},
	{"Service", schema.GroupVersionResource{Version: "v1", Resource: "services"}, true},
	{"Deployment", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, true},
	{"Ingress", schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}, true},
}

func resourceFor(kind string) (schema.GroupVersionResource, bool, error) {
	for _, k := range kinds {
		if k.kind == kind {
			return k.gvr, k.namespaced, nil
		}
	}
	return schema.GroupVersionResource{}, false, fmt.Errorf("launcher does not apply %s objects", kind)
}

// RESTConfig reads credentials from kubeconfig (KUBECONFIG or ~/.kube/config, or path), with an
// optional context.
func RESTConfig(path, context string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path != "" {
		rules.ExplicitPath = path
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return cfg, nil
}

// Change is what applying did (or, with a dry run, would do) to one object.
type Change struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Action string `json:"action"` // created, configured, unchanged, pruned
}

// ApplyOptions tune Apply.
type ApplyOptions struct {
	DryRun  bool
	Project string
	Env     string
}

// Apply server-side applies objs (field manager launcher), then prunes the stack's objects of this
// environment that objs no longer have. With DryRun the server validates and answers, and nothing
// is written.
func Apply(ctx context.Context, dyn dynamic.Interface, objs []Object, opts ApplyOptions) ([]Change, error) {
	var dry []string
	if opts.DryRun {
		dry = []string{metav1.DryRunAll}
	}
	keep := map[string]bool{}
	newNamespaces := map[string]bool{} // dry run: namespaces that do not exist yet
	var changes []Change
	for _, o := range objs {
		kind := o.GetObjectKind().GroupVersionKind().Kind
		gvr, namespaced, err := resourceFor(kind)
		if err != nil {
			return changes, err
		}
		u, err := toUnstructured(o)
		if err != nil {
			return changes, err
		}
		keep[kind+"/"+o.GetNamespace()+"/"+o.GetName()] = true
		if namespaced && newNamespaces[o.GetNamespace()] {
			// the server cannot dry-run into a namespace that only the dry run created
			changes = append(changes, Change{Kind: kind, Name: o.GetName(), Action: "created"})
			continue
		}
		var ri dynamic.ResourceInterface = dyn.Resource(gvr)
		if namespaced {
			ri = dyn.Resource(gvr).Namespace(o.GetNamespace())
		}
		before, err := ri.Get(ctx, o.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			before = nil
		} else if err != nil {
			return changes, fmt.Errorf("read %s %s: %w", kind, o.GetName(), err)
		}
		after, err := ri.Apply(ctx, o.GetName(), u, metav1.ApplyOptions{FieldManager: FieldManager, Force: true, DryRun: dry})
		if err != nil {
			return changes, fmt.Errorf("apply %s %s: %w", kind, o.GetName(), err)
		}
		action := changed(before, after)
		if opts.DryRun && before != nil && !sameContent(before, after) {
			action = "configured" // a dry run keeps the resourceVersion: compare what would be stored
		}
		if kind == "Namespace" && action == "created" && opts.DryRun {
			newNamespaces[o.GetName()] = true
		}
		changes = append(changes, Change{Kind: kind, Name: o.GetName(), Action: action})
	}
	pruned, err := prune(ctx, dyn, keep, opts, dry)
	return append(changes, pruned...), err
}

func changed(before, after *unstructured.Unstructured) string {
	if before == nil || before.GetResourceVersion() == "" {
		return "created"
	}
	if before.GetResourceVersion() == after.GetResourceVersion() {
		return "unchanged"
	}
	return "configured"
}

// sameContent compares two versions of an object without the server's bookkeeping.
func sameContent(a, b *unstructured.Unstructured) bool {
	strip := func(u *unstructured.Unstructured) map[string]any {
		c := u.DeepCopy().Object
		for _, f := range []string{"resourceVersion", "generation", "managedFields", "uid", "creationTimestamp"} {
			unstructured.RemoveNestedField(c, "metadata", f)
		}
		unstructured.RemoveNestedField(c, "status")
		return c
	}
	return reflect.DeepEqual(strip(a), strip(b))
}

// toUnstructured converts a typed object; a Secret's stringData (write-only on the server) is
// sent as data, so that re-applying the same values changes nothing.
func toUnstructured(o Object) (*unstructured.Unstructured, error) {
	if s, ok := o.(*corev1.Secret); ok && len(s.StringData) > 0 {
		c := s.DeepCopy()
		if c.Data == nil {
			c.Data = map[string][]byte{}
		}
		for k, v := range c.StringData {
			c.Data[k] = []byte(v)
		}
		c.StringData = nil
		o = c
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "status")
	return u, nil
}

// prune deletes the environment's objects (by label) that the config no longer has.
func prune(ctx context.Context, dyn dynamic.Interface, keep map[string]bool, opts ApplyOptions, dry []string) ([]Change, error) {
	sel := fmt.Sprintf("%s=launcher,%s=%s,%s=%s", LabelManagedBy, LabelPartOf, opts.Project, LabelEnv, opts.Env)
	var out []Change
	for i := len(kinds) - 1; i >= 0; i-- { // dependents first
		k := kinds[i]
		if k.kind == "Namespace" {
			continue // never delete a namespace: it may hold more than launcher's objects
		}
		list, err := dyn.Resource(k.gvr).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return out, fmt.Errorf("list %s to prune: %w", k.kind, err)
		}
		for _, item := range list.Items {
			if keep[k.kind+"/"+item.GetNamespace()+"/"+item.GetName()] {
				continue
			}
			err := dyn.Resource(k.gvr).Namespace(item.GetNamespace()).Delete(ctx, item.GetName(), metav1.DeleteOptions{DryRun: dry})
			if err != nil && !apierrors.IsNotFound(err) {
				return out, fmt.Errorf("prune %s %s: %w", k.kind, item.GetName(), err)
			}
			out = append(out, Change{Kind: k.kind, Name: item.GetName(), Action: "pruned"})
		}
	}
	return out, nil
}

// RolloutError says which Deployments did not roll out, and why.
type RolloutError struct{ Problems []string }

func (e *RolloutError) Error() string {
	return "rollout failed:\n  " + strings.Join(e.Problems, "\n  ")
}

// WaitRollout waits until every named Deployment has rolled out (the controller observed the
// latest generation and all replicas are updated and available), or one reports that its
// progress deadline passed, or timeout. progress hears each change of state.
func WaitRollout(ctx context.Context, dyn dynamic.Interface, ns string, names []string, timeout time.Duration, progress func(string)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	gvr, _, _ := resourceFor("Deployment")
	last := map[string]string{}
	for {
		var pending, failed []string
		for _, n := range names {
			d, err := dyn.Resource(gvr).Namespace(ns).Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				return fmt.Errorf("read deployment %s: %w", n, err)
			}
			state, done, why := rolloutState(d)
			if state != last[n] && progress != nil {
				progress(fmt.Sprintf("%s: %s", n, state))
				last[n] = state
			}
			switch {
			case why != "":
				failed = append(failed, n+": "+why)
			case !done:
				pending = append(pending, n+": "+state)
			}
		}
		if len(failed) > 0 {
			sort.Strings(failed)
			return &RolloutError{Problems: failed}
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			sort.Strings(pending)
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return &RolloutError{Problems: append([]string{fmt.Sprintf("not rolled out within %s:", timeout)}, pending...)}
			}
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// rolloutState reads a Deployment's status the way `kubectl rollout status` does.
func rolloutState(d *unstructured.Unstructured) (state string, done bool, failure string) {
	gen := d.GetGeneration()
	observed, _, _ := unstructured.NestedInt64(d.Object, "status", "observedGeneration")
	want, found, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
	if !found {
		want = 1
	}
	updated, _, _ := unstructured.NestedInt64(d.Object, "status", "updatedReplicas")
	available, _, _ := unstructured.NestedInt64(d.Object, "status", "availableReplicas")
	conds, _, _ := unstructured.NestedSlice(d.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Progressing" && m["status"] == "False" {
			return "failed", false, fmt.Sprintf("%v: %v", m["reason"], m["message"])
		}
	}
	if observed < gen {
		return "waiting for the controller", false, ""
	}
	if updated < want {
		return fmt.Sprintf("%d of %d replicas updated", updated, want), false, ""
	}
	if available < want {
		return fmt.Sprintf("%d of %d replicas available", available, want), false, ""
	}
	return "rolled out", true, ""
}

// Differences describes, against what runs, each Deployment's image and each ConfigMap's and
// Secret's keys added or removed (names only, never values).
func Differences(ctx context.Context, dyn dynamic.Interface, objs []Object) ([]string, error) {
	var out []string
	for _, o := range objs {
		kind := o.GetObjectKind().GroupVersionKind().Kind
		if kind != "Deployment" && kind != "ConfigMap" && kind != "Secret" {
			continue
		}
		gvr, _, _ := resourceFor(kind)
		live, err := dyn.Resource(gvr).Namespace(o.GetNamespace()).Get(ctx, o.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue // a new object: the change list says "created"
		}
		if err != nil {
			return out, err
		}
		u, err := toUnstructured(o)
		if err != nil {
			return out, err
		}
		switch kind {
		case "Deployment":
			img := func(x *unstructured.Unstructured) string {
				cs, _, _ := unstructured.NestedSlice(x.Object, "spec", "template", "spec", "containers")
				if len(cs) == 0 {
					return ""
				}
				s, _, _ := unstructured.NestedString(cs[0].(map[string]any), "image")
				return s
			}
			if a, b := img(live), img(u); a != b {
				out = append(out, fmt.Sprintf("%s image: %s → %s", o.GetName(), shortRef(a), shortRef(b)))
			}
			if a, b := live.GetAnnotations()["dev.launcher.commit"], o.GetAnnotations()["dev.launcher.commit"]; a != b {
				out = append(out, fmt.Sprintf("%s commit: %s → %s", o.GetName(), orNone(a), orNone(b)))
			}
		default:
			keys := func(x *unstructured.Unstructured) map[string]bool {
				m, _, _ := unstructured.NestedMap(x.Object, "data")
				ks := map[string]bool{}
				for k := range m {
					ks[k] = true
				}
				return ks
			}
			had, has := keys(live), keys(u)
			var added, removed []string
			for k := range has {
				if !had[k] {
					added = append(added, k)
				}
			}
			for k := range had {
				if !has[k] {
					removed = append(removed, k)
				}
			}
			sort.Strings(added)
			sort.Strings(removed)
			if len(added) > 0 {
				out = append(out, fmt.Sprintf("%s %s: keys added: %s", kind, o.GetName(), strings.Join(added, ", ")))
			}
			if len(removed) > 0 {
				out = append(out, fmt.Sprintf("%s %s: keys removed: %s", kind, o.GetName(), strings.Join(removed, ", ")))
			}
		}
	}
	return out, nil
}

func shortRef(ref string) string {
	if i := strings.Index(ref, "@sha256:"); i >= 0 && len(ref) > i+20 {
		return ref[:i] + "@" + ref[i+1:i+20]
	}
	return ref
}

// PodLogs fetches the last lines of a pod's output; the command implements it with the
// Kubernetes clientset.
type PodLogs interface {
	Tail(ctx context.Context, namespace, pod string, lines int) (string, error)
}

// Diagnose describes why a Deployment's pods are not ready: their recent events and last log
// lines (up to three pods).
func Diagnose(ctx context.Context, dyn dynamic.Interface, logs PodLogs, ns, deployment string) []string {
	gvr, _, _ := resourceFor("Deployment")
	d, err := dyn.Resource(gvr).Namespace(ns).Get(ctx, deployment, metav1.GetOptions{})
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", deployment, err)}
	}
	sel, _, _ := unstructured.NestedStringMap(d.Object, "spec", "selector", "matchLabels")
	var parts []string
	for k, v := range sel {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	pods, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).Namespace(ns).
		List(ctx, metav1.ListOptions{LabelSelector: strings.Join(parts, ",")})
	if err != nil {
		return []string{fmt.Sprintf("%s: list pods: %v", deployment, err)}
	}
	var out []string
	if len(pods.Items) == 0 {
		out = append(out, fmt.Sprintf("%s: no pods (check the ReplicaSet's events: quota, image pull secrets, scheduling)", deployment))
	}
	for i, pod := range pods.Items {
		if i == 3 {
			break
		}
		evs, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "events"}).Namespace(ns).
			List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=Pod,involvedObject.name=" + pod.GetName()})
		if err == nil {
			items := evs.Items
			if len(items) > 5 {
				items = items[len(items)-5:]
			}
			for _, e := range items {
				reason, _, _ := unstructured.NestedString(e.Object, "reason")
				msg, _, _ := unstructured.NestedString(e.Object, "message")
				out = append(out, fmt.Sprintf("pod %s event %s: %s", pod.GetName(), reason, msg))
			}
		}
		if logs != nil {
			if tail, err := logs.Tail(ctx, ns, pod.GetName(), 10); err == nil && strings.TrimSpace(tail) != "" {
				for _, l := range strings.Split(strings.TrimRight(tail, "\n"), "\n") {
					out = append(out, fmt.Sprintf("pod %s | %s", pod.GetName(), l))
				}
			} else if err != nil {
				out = append(out, fmt.Sprintf("pod %s: no logs (%v)", pod.GetName(), firstLine(err.Error())))
			}
		}
	}
	return out
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
