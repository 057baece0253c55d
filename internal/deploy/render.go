// Package deploy ships the stack to Kubernetes: it renders typed k8s.io/api objects from the
// same launcher.yaml that `up` runs (one definition of the stack), with images referenced by
// digest. Secret values go to Secrets, never to ConfigMaps.
package deploy

import (
	"fmt"
	"sort"
	"strings"

	"github.com/propital/launcher/internal/config"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// Labels that tie every object to its stack; prune selects by them.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelName      = "app.kubernetes.io/name"
	LabelEnv       = "dev.launcher.env"
)

// Object is a rendered Kubernetes object.
type Object interface {
	runtime.Object
	metav1.Object
}

// Inputs are what rendering needs besides the project.
type Inputs struct {
	Env     string
	Images  map[string]string // built service → image reference by digest
	Commits map[string]string // built service → source commit, annotated on its Deployment
}

// Render returns the environment's objects in apply order: namespace, secrets, config maps,
// infra, services, ingresses.
func Render(p *config.Project, in Inputs) ([]Object, error) {
	env := p.Deploy[in.Env]
	if env == nil {
		var names []string
		for n := range p.Deploy {
			names = append(names, n)
		}
		sort.Strings(names)
		if len(names) == 0 {
			return nil, fmt.Errorf("launcher.yaml has no deploy: section; add one, e.g. deploy: {staging: {registry: REGION-docker.pkg.dev/PROJECT/REPO}}")
		}
		return nil, fmt.Errorf("no deploy environment %q (there are: %s)", in.Env, strings.Join(names, ", "))
	}
	r := &renderer{p: p, env: env, secrets: secretSet(p)}
	var objs []Object
	objs = append(objs, &corev1.Namespace{TypeMeta: tm("v1", "Namespace"), ObjectMeta: r.meta(env.Namespace, "")})
	var infra, svcs, ing []Object
	var cfg []Object
	for _, name := range p.InfraNames() {
		if di := env.Infra[name]; di != nil && di.External != "" {
			continue // a managed service: only the connection variables point at it
		}
		o, err := r.infra(name)
		if err != nil {
			return nil, err
		}
		infra = append(infra, o...)
	}
	for _, name := range p.ServiceNames() {
		o, c, err := r.service(name, in.Images, in.Commits[name])
		if err != nil {
			return nil, err
		}
		svcs = append(svcs, o...)
		cfg = append(cfg, c...)
		if ds := env.Services[name]; ds != nil && ds.Host != "" {
			ing = append(ing, r.ingress(name, ds.Host))
		}
	}
	objs = append(objs, cfg...)
	objs = append(objs, infra...)
	objs = append(objs, svcs...)
	return append(objs, ing...), nil
}

// YAML renders objects as one multi-document stream. With mask, Secret values read ********.
func YAML(objs []Object, mask bool) ([]byte, error) {
	var b strings.Builder
	for i, o := range objs {
		if s, ok := o.(*corev1.Secret); ok && mask {
			c := s.DeepCopy()
			for k := range c.StringData {
				c.StringData[k] = "********"
			}
			o = c
		}
		out, err := yaml.Marshal(o)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(out)
	}
	return []byte(b.String()), nil
}

type renderer struct {
	p       *config.Project
	env     *config.DeployEnv
	secrets []string
}

func tm(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

func (r *renderer) labels(component string) map[string]string {
	l := map[string]string{LabelManagedBy: "launcher", LabelPartOf: r.p.Name, LabelEnv: r.env.Name, config.LabelProject: r.p.Name}
	if component != "" {
		l[LabelName] = component
	}
	return l
}

func (r *renderer) meta(name, component string) metav1.ObjectMeta {
	m := metav1.ObjectMeta{Name: name, Labels: r.labels(component)}
	if name != r.env.Namespace {
		m.Namespace = r.env.Namespace
	}
	return m
}

// secretSet are the values that make an env var secret: .env secrets and derived passwords.
func secretSet(p *config.Project) []string {
	var out []string
	for _, v := range p.Secrets() {
		if len(v) >= 4 {
			out = append(out, v)
		}
	}
	return out
}

func (r *renderer) isSecret(key, value string) bool {
	for _, s := range r.secrets {
		if strings.Contains(value, s) {
			return true
		}
	}
	return value != "" && (strings.Contains(strings.ToUpper(key), "PASSWORD") || strings.Contains(strings.ToUpper(key), "SECRET") || strings.Contains(strings.ToUpper(key), "TOKEN"))
}

// split puts an environment into plain and secret halves.
func (r *renderer) split(env map[string]string) (plain, secret map[string]string) {
	plain, secret = map[string]string{}, map[string]string{}
	for k, v := range env {
		if r.isSecret(k, v) {
			secret[k] = v
		} else {
			plain[k] = v
		}
	}
	return plain, secret
}

func (r *renderer) infra(name string) ([]Object, error) {
	in := r.p.Infra[name]
	labels := r.labels(name)
	objs, envFrom := r.envObjects(name, in.Env)
	ports, svcPorts := portSpecs(append([]config.Port{{Container: in.Port(), Protocol: "tcp"}}, in.Ports...))
	c := corev1.Container{Name: name, Image: in.Image, Args: in.Command, Ports: ports, EnvFrom: envFrom}
	if probe := tcpProbe(in.Port()); probe != nil {
		c.ReadinessProbe = probe
	}
	storage := "10Gi"
	if di := r.env.Infra[name]; di != nil && di.Storage != "" {
		storage = di.Storage
	}
	qty, err := resource.ParseQuantity(storage)
	if err != nil {
		return nil, fmt.Errorf("deploy.%s.infra.%s.storage: %w", r.env.Name, name, err)
	}
	ss := &appsv1.StatefulSet{TypeMeta: tm("apps/v1", "StatefulSet"), ObjectMeta: r.meta(name, name),
		Spec: appsv1.StatefulSetSpec{
			ServiceName: name,
			Replicas:    ptr(int32(1)),
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{LabelName: name, LabelPartOf: r.p.Name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{c}}},
		}}
	if in.Volume != "" {
		ss.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: in.Volume}}
		ss.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{
			ObjectMeta: metav1.ObjectMeta{Name: "data", Labels: labels},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: qty}}},
		}}
	}
	svc := &corev1.Service{TypeMeta: tm("v1", "Service"), ObjectMeta: r.meta(name, name),
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{LabelName: name, LabelPartOf: r.p.Name}, Ports: svcPorts}}
	return append(objs, ss, svc), nil
}

// envObjects puts a component's environment into a ConfigMap (plain values) and a Secret (secret
// ones), and returns them with the envFrom that loads both.
func (r *renderer) envObjects(name string, env map[string]string) ([]Object, []corev1.EnvFromSource) {
	plain, secret := r.split(env)
	var objs []Object
	var envFrom []corev1.EnvFromSource
	if len(plain) > 0 {
		objs = append(objs, &corev1.ConfigMap{TypeMeta: tm("v1", "ConfigMap"), ObjectMeta: r.meta(name+"-config", name), Data: plain})
		envFrom = append(envFrom, corev1.EnvFromSource{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name + "-config"}}})
	}
	if len(secret) > 0 {
		objs = append(objs, &corev1.Secret{TypeMeta: tm("v1", "Secret"), ObjectMeta: r.meta(name+"-secrets", name), Type: corev1.SecretTypeOpaque, StringData: secret})
		envFrom = append(envFrom, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name + "-secrets"}}})
	}
	return objs, envFrom
}

// portSpecs turns container ports (each once) into container and Service ports of one name.
func portSpecs(ports []config.Port) ([]corev1.ContainerPort, []corev1.ServicePort) {
	var cps []corev1.ContainerPort
	var sps []corev1.ServicePort
	seen := map[int]bool{}
	for _, p := range ports {
		if p.Container == 0 || seen[p.Container] {
			continue
		}
		seen[p.Container] = true
		name := fmt.Sprintf("p%d", p.Container)
		cps = append(cps, corev1.ContainerPort{Name: name, ContainerPort: int32(p.Container)})
		sps = append(sps, corev1.ServicePort{Name: name, Port: int32(p.Container), TargetPort: intstr.FromInt32(int32(p.Container))})
	}
	return cps, sps
}

func tcpProbe(port int) *corev1.Probe {
	if port == 0 {
		return nil
	}
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(port))}}, PeriodSeconds: 5}
}

// serviceEnv is a service's environment in the cluster: in-cluster infra by its Service name (as
// in the Docker network), external infra by their URL.
func (r *renderer) serviceEnv(name string) map[string]string {
	env := r.p.ServiceEnv(name)
	s := r.p.Services[name]
	for _, u := range s.Uses {
		di := r.env.Infra[u]
		if di == nil || di.External == "" {
			continue
		}
		in := r.p.Infra[u]
		single := r.p.ConnEnv(name, func(string) config.Endpoint { return config.Endpoint{Host: "x", Port: 1} })
		for k := range single {
			if k == "MONGO_DB" || strings.HasSuffix(k, "_MONGO_DB") {
				continue
			}
			if _, own := s.Env[k]; own {
				continue // the service's own env wins, as in up
			}
			if connVarOf(k, in.Kind) {
				env[k] = di.External
			}
		}
	}
	return env
}

func connVarOf(key, kind string) bool {
	suffix := map[string]string{"nats": "NATS_URL", "redis": "REDIS_URL", "postgres": "DATABASE_URL", "mongo": "MONGO_URI"}[kind]
	return suffix != "" && strings.HasSuffix(key, suffix)
}

func (r *renderer) service(name string, images map[string]string, commit string) ([]Object, []Object, error) {
	var objs []Object
	s := r.p.Services[name]
	image := s.Image
	if s.Build != nil {
		image = images[name]
		if image == "" {
			return nil, nil, fmt.Errorf("service %s has no built image for this environment", name)
		}
	}
	labels := r.labels(name)
	cfg, envFrom := r.envObjects(name, r.serviceEnv(name))
	ports, svcPorts := portSpecs(s.Ports)
	c := corev1.Container{Name: name, Image: image, Args: s.Command, Ports: ports, EnvFrom: envFrom}
	if h := s.Health; h != nil {
		var probe *corev1.Probe
		switch {
		case h.HTTP != "":
			port := h.Port
			if port == 0 && len(s.Ports) > 0 {
				port = s.Ports[0].Container
			}
			probe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: h.HTTP, Port: intstr.FromInt32(int32(port))}}, PeriodSeconds: 5}
		case h.TCP != 0:
			probe = tcpProbe(h.TCP)
		}
		c.ReadinessProbe = probe
	}
	replicas := int32(max(1, s.Replicas))
	if ds := r.env.Services[name]; ds != nil {
		if ds.Replicas > 0 {
			replicas = int32(ds.Replicas)
		}
		req := corev1.ResourceList{}
		lim := corev1.ResourceList{}
		if ds.CPU != "" {
			req[corev1.ResourceCPU] = resource.MustParse(ds.CPU)
		}
		if ds.Memory != "" {
			req[corev1.ResourceMemory] = resource.MustParse(ds.Memory)
			lim[corev1.ResourceMemory] = resource.MustParse(ds.Memory)
		}
		if len(req) > 0 {
			c.Resources = corev1.ResourceRequirements{Requests: req, Limits: lim}
		}
	}
	dep := &appsv1.Deployment{TypeMeta: tm("apps/v1", "Deployment"), ObjectMeta: r.meta(name, name),
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelName: name, LabelPartOf: r.p.Name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{c}}},
		}}
	if commit != "" {
		// on the Deployment, not its pods: a new commit with the same binary restarts nothing
		dep.Annotations = map[string]string{config.LabelCommit: commit}
	}
	objs = append(objs, dep)
	if len(svcPorts) > 0 {
		objs = append(objs, &corev1.Service{TypeMeta: tm("v1", "Service"), ObjectMeta: r.meta(name, name),
			Spec: corev1.ServiceSpec{Selector: map[string]string{LabelName: name, LabelPartOf: r.p.Name}, Ports: svcPorts}})
	}
	return objs, cfg, nil
}

// ingress routes host to the service's first port, with GKE's ingress class.
func (r *renderer) ingress(name, host string) Object {
	s := r.p.Services[name]
	pathType := networkingv1.PathTypePrefix
	return &networkingv1.Ingress{TypeMeta: tm("networking.k8s.io/v1", "Ingress"), ObjectMeta: r.meta(name, name),
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr("gce"),
			Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &pathType, Backend: networkingv1.IngressBackend{
					Service: &networkingv1.IngressServiceBackend{Name: name, Port: networkingv1.ServiceBackendPort{Number: int32(s.Ports[0].Container)}},
				}}},
			}}}},
		}}
}

func ptr[T any](v T) *T { return &v }
