package config

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
)

// Names and injected variables are derived here once, from (project, service), and used by every
// command: up, down, ps, logs and deploy all agree on them.

// Labels put on everything launcher creates; the state of a stack is read back from them.
const (
	LabelProject = "dev.launcher.project"
	LabelService = "dev.launcher.service" // service or infra name
	LabelRole    = "dev.launcher.role"    // "service" or "infra"
	LabelReplica = "dev.launcher.replica"
	LabelHash    = "dev.launcher.config-hash"
	LabelCommit  = "dev.launcher.commit" // on built images: the source commit ("-dirty" with local changes)
)

// ContainerName is the name of replica (1-based) of a service or infra.
func (p *Project) ContainerName(name string, replica int) string {
	return fmt.Sprintf("%s-%s-%d", p.Name, name, replica)
}

// NetworkName is the project's network.
func (p *Project) NetworkName() string { return p.Name + "-net" }

// VolumeName is the named volume that keeps an infra's data.
func (p *Project) VolumeName(infra string) string { return p.Name + "-" + infra + "-data" }

// Port returns an infra's main container port: the one its client connects to.
func (in *Infra) Port() int {
	switch in.Kind {
	case "nats":
		return 4222
	case "redis":
		return 6379
	case "postgres":
		return 5432
	case "mongo":
		return 27017
	}
	if in.Health != nil && in.Health.TCP != 0 {
		return in.Health.TCP
	}
	if len(in.Ports) > 0 {
		return in.Ports[0].Container
	}
	return 0
}

// Credentials returns the admin user and password of a postgres or mongo infra.
func (in *Infra) Credentials() (user, password string) {
	switch in.Kind {
	case "postgres":
		user = in.Env["POSTGRES_USER"]
		if user == "" {
			user = "postgres"
		}
		return user, in.Env["POSTGRES_PASSWORD"]
	case "mongo":
		return in.Env["MONGO_INITDB_ROOT_USERNAME"], in.Env["MONGO_INITDB_ROOT_PASSWORD"]
	case "redis":
		return "", in.Env["REDIS_PASSWORD"]
	}
	return "", ""
}

// DBName is the database (and postgres role) a service owns: its name with - as _.
func DBName(service string) string { return strings.ReplaceAll(service, "-", "_") }

// RolePassword is a service's postgres password: derived from the admin password, so it is stable
// across runs, needs no .env key of its own, and changes when the admin password does.
func (p *Project) RolePassword(infra, service string) string {
	in := p.Infra[infra]
	if in == nil {
		return ""
	}
	_, admin := in.Credentials()
	m := hmac.New(sha256.New, []byte(admin))
	fmt.Fprintf(m, "launcher/%s/%s/%s", p.Name, infra, service)
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// Endpoint is where a client reaches an infra: inside the project network, by its name, or from
// the host through a published port.
type Endpoint struct {
	Host string
	Port int
}

// ConnEnv returns the connection variables a service gets for the infra it uses, addressed at
// ep(infra). The plain names (NATS_URL, REDIS_URL, DATABASE_URL, MONGO_URI, MONGO_DB) go to the
// only infra of a kind a service uses; when it uses two of one kind, each is prefixed with its
// infra name (ORDERS_DB_DATABASE_URL).
func (p *Project) ConnEnv(service string, ep func(infra string) Endpoint) map[string]string {
	s := p.Services[service]
	out := map[string]string{}
	if s == nil {
		return out
	}
	count := map[string]int{}
	for _, u := range s.Uses {
		if in := p.Infra[u]; in != nil {
			count[in.Kind]++
		}
	}
	for _, u := range s.Uses {
		in := p.Infra[u]
		if in == nil {
			continue
		}
		prefix := ""
		if count[in.Kind] > 1 {
			prefix = strings.ToUpper(strings.ReplaceAll(u, "-", "_")) + "_"
		}
		e := ep(u)
		hp := fmt.Sprintf("%s:%d", e.Host, e.Port)
		switch in.Kind {
		case "nats":
			out[prefix+"NATS_URL"] = "nats://" + hp
		case "redis":
			u := &url.URL{Scheme: "redis", Host: hp, Path: "/0"}
			if _, pw := in.Credentials(); pw != "" {
				u.User = url.UserPassword("", pw)
			}
			out[prefix+"REDIS_URL"] = u.String()
		case "postgres":
			db := DBName(service)
			u := &url.URL{Scheme: "postgres", Host: hp, Path: "/" + db, RawQuery: "sslmode=disable",
				User: url.UserPassword(db, p.RolePassword(u, service))}
			out[prefix+"DATABASE_URL"] = u.String()
		case "mongo":
			db := DBName(service)
			mu := &url.URL{Scheme: "mongodb", Host: hp, Path: "/" + db}
			if user, pw := in.Credentials(); user != "" {
				mu.User = url.UserPassword(user, pw)
				mu.RawQuery = "authSource=admin"
			}
			out[prefix+"MONGO_URI"] = mu.String()
			out[prefix+"MONGO_DB"] = db
		default:
			out[prefix+strings.ToUpper(strings.ReplaceAll(u, "-", "_"))+"_ADDR"] = hp
		}
	}
	return out
}

// InNetwork addresses infra by name inside the project network.
func (p *Project) InNetwork(infra string) Endpoint {
	in := p.Infra[infra]
	if in == nil {
		return Endpoint{}
	}
	return Endpoint{Host: infra, Port: in.Port()}
}

// ServiceEnv is a service's whole environment inside the project: injected connection variables,
// then its own env, which wins.
func (p *Project) ServiceEnv(service string) map[string]string {
	env := p.ConnEnv(service, p.InNetwork)
	if s := p.Services[service]; s != nil {
		env["SERVICE_NAME"] = service
		for k, v := range s.Env {
			env[k] = v
		}
	}
	return env
}

// Secrets returns every secret value the project knows: secret .env values and derived
// passwords. Output edges mask them.
func (p *Project) Secrets() []string {
	vals := p.Env.Secrets()
	for _, in := range p.Infra {
		if _, pw := in.Credentials(); pw != "" {
			vals = append(vals, pw)
		}
	}
	for _, s := range p.Services {
		for _, u := range s.Uses {
			if in := p.Infra[u]; in != nil && in.Kind == "postgres" {
				vals = append(vals, p.RolePassword(u, s.Name))
			}
		}
	}
	return vals
}
