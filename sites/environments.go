package sites

// Environments deployed beside the stack's own: one site, one set of hosts, one cluster, one
// compose project, one gateway; each environment its own namespace, domain, services and
// data (docs/configuration.md "Several environments in one site").
//
// Why one stack and not a stack per environment: the hosts, K3s and the compose project
// have one owner (a second stack would install them a second time, or share their state
// through stack references); every environment's passwords then live in the one stack that
// creates its database and Redis, never passed between stacks; and each environment's
// resources are its own objects in its own namespace, so a change to one environment's
// settings changes nothing of another (tests/mock TestSideEnvironmentIsIndependent).

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"xgen-infra/components/endpoint"
)

// SideEnvironments are the environments deployed beside the stack's own (deploy: true), in
// Environments order.
func (c *Config) SideEnvironments() []string {
	var out []string
	for _, env := range Environments {
		if e, ok := c.Environments[env]; ok && e.Deploy && env != c.Environment {
			out = append(out, env)
		}
	}
	return out
}

// EnvironmentSecretKey is the secret config key of an environment deployed beside the
// stack's own, for a per-environment secret: "prd" + "postgresPassword" →
// "prdPostgresPassword".
func EnvironmentSecretKey(env, key string) string {
	return env + strings.ToUpper(key[:1]) + key[1:]
}

// environmentComposeEnv is the compose .env variable of a per-environment secret:
// XGEN_DB_PASSWORD → XGEN_DB_PASSWORD_PRD.
func environmentComposeEnv(env, name string) string {
	return name + "_" + strings.ToUpper(env)
}

// siteSecretKeys are SecretKeys and, for every environment, its copies of the
// per-environment secrets (required when that environment is deployed beside).
func siteSecretKeys() []SecretKey {
	out := append([]SecretKey(nil), SecretKeys...)
	for _, env := range Environments {
		for _, k := range SecretKeys {
			if !k.PerEnvironment {
				continue
			}
			k.ConfigKey = EnvironmentSecretKey(env, k.ConfigKey)
			k.ComposeEnv = environmentComposeEnv(env, k.ComposeEnv)
			k.What = fmt.Sprintf("%s of environment %s (deployed beside the stack's own)", k.What, env)
			k.requiredWhen = func(c *Config) bool { return slices.Contains(c.SideEnvironments(), env) }
			k.unusedBecause = fmt.Sprintf("environments.%s.deploy is not true, so nothing runs environment %s beside the stack's own", env, env)
			out = append(out, k)
		}
	}
	return out
}

// RequiredSecretKeys are the secret keys the site uses: SecretKeys' and those of every
// environment deployed beside.
func RequiredSecretKeys(c *Config) []SecretKey {
	var out []SecretKey
	for _, k := range siteSecretKeys() {
		if k.Required(c) {
			out = append(out, k)
		}
	}
	return out
}

// sideComposeService names an environment's own compose service (and its in-cluster
// Service): redis → redis-prd.
func sideComposeService(service, env string) string { return service + "-" + env }

// setEnvironmentDefaults fills the settings of each environment deployed beside. Its data
// names and ports derive from the defaults, never from the stack's own environment's
// settings: changing those must not move another environment's data.
func setEnvironmentDefaults(c *Config) {
	for n, env := range c.SideEnvironments() {
		e := c.Environments[env]
		setString(&e.Namespace, c.Namespace+"-"+env)
		setString(&e.Tag, c.Image.Tag)
		if e.Services == nil {
			e.Services = sortedMapKeys(c.Services)
		}
		d := &e.Data
		setString(&d.Database, DefaultDatabase+"_"+env)
		setString(&d.User, DefaultDatabaseUser+"_"+env)
		setInt(&d.RedisPort, DefaultRedisPort+n+1)
		setInt(&d.QdrantPort, DefaultQdrantPort+10*(n+1))
		setInt(&d.QdrantGRPCPort, DefaultQdrantGRPCPort+10*(n+1))
		setString(&d.DocumentBucket, DefaultDocumentBucket+"-"+env)
		setString(&d.FileStorageBucket, DefaultFileStorageBucket+"-"+env)
		c.Environments[env] = e
	}
}

// sideConfig is the config of env deployed beside c's own environment: c with env's
// namespace, tag, services and data. The hosts, cluster and compose project stay c's (the
// program builds them once, for the stack's own environment).
func sideConfig(c *Config, env string) Config {
	e := c.Environments[env]
	s := *c
	s.Environment = env
	s.Namespace = e.Namespace
	s.Image.Tag = e.Tag
	s.Services = map[string]ServiceSpec{}
	for _, name := range e.Services {
		s.Services[name] = c.Services[name]
	}
	d := e.Data
	s.Infra.Postgres.Database, s.Infra.Postgres.User = d.Database, d.User
	s.Infra.Redis = EndpointConfig{Host: clusterHost(sideComposeService("redis", env), c.Infra.Namespace), Port: d.RedisPort}
	s.Infra.Qdrant = QdrantConfig{Host: clusterHost(sideComposeService("qdrant", env), c.Infra.Namespace), Port: d.QdrantPort, GRPCPort: d.QdrantGRPCPort}
	s.Infra.ObjectStorage.DocumentBucket, s.Infra.ObjectStorage.FileStorageBucket = d.DocumentBucket, d.FileStorageBucket
	s.Infra.beside = env
	return s
}

// validateEnvironments checks the environments deployed beside the stack's own, and that
// the other entries set nothing that needs deploy.
func validateEnvironments(p *problemList, c *Config) {
	side := c.SideEnvironments()
	namespaces := map[string]string{c.Namespace: "namespace", c.Infra.Namespace: "infra.namespace"}
	domains := map[string]string{}
	own := c.Environments[c.Environment]
	if own.Domain != "" {
		domains[own.Domain] = "environments." + c.Environment + ".domain"
	}
	for i, alias := range own.Aliases {
		domains[alias] = fmt.Sprintf("environments.%s.aliases[%d]", c.Environment, i)
	}
	databases := map[string]string{c.Infra.Postgres.Database: "infra.postgres.database"}
	users := map[string]string{c.Infra.Postgres.User: "infra.postgres.user"}
	buckets := map[string]string{c.Infra.ObjectStorage.DocumentBucket: "infra.objectStorage.documentBucket", c.Infra.ObjectStorage.FileStorageBucket: "infra.objectStorage.fileStorageBucket"}
	ports := map[int]string{}
	for _, e := range infraEntries(c.Infra) {
		for _, port := range e.ports {
			ports[port.Port] = infraPortKey(e, port.Name)
		}
	}
	unique := func(seen map[string]string, key, value string) {
		if other, ok := seen[value]; ok && value != "" {
			p.add(key, value, "is also %s: each environment needs its own", other)
			return
		}
		seen[value] = key
	}
	for _, env := range sortedMapKeys(c.Environments) {
		e := c.Environments[env]
		path := "environments." + env
		if !e.Deploy {
			if e.Namespace != "" || e.Tag != "" || e.Services != nil || e.Data != (EnvironmentData{}) {
				p.add(path, nil, "sets namespace, tag, services or data, which only an environment deployed beside the stack's own uses; add deploy: true, or remove them")
			}
			continue
		}
		if env == c.Environment {
			p.add(path+".deploy", true, "is this stack's own environment (environment: %s), always deployed; remove deploy", env)
			continue
		}
		if !slices.Contains(side, env) {
			continue // not an environment: reported by the caller
		}
		// Its own Redis and Qdrant are on the infra host: run by the compose project, or by
		// whoever runs the site's at infra.hostAddress (as the site's own are then).
		cc := c.Infra.Compose
		composed := cc != nil && cc.Services != nil && cc.Services.Postgres != nil && cc.Services.Redis != nil && cc.Services.Qdrant != nil
		if !composed && (cc != nil || c.Infra.HostAddress == "") {
			p.add(path+".deploy", true, "needs infra.compose running postgres, redis and qdrant (or, without infra.compose, an infra.hostAddress whose host runs them): the environment's own database, Redis and Qdrant live beside the site's; or give the environment a stack of its own")
		}
		if c.Ingress.Type == "none" {
			p.add(path+".deploy", true, "needs an ingress (ingress.type istio or traefik): environments share the cluster's ingress, told apart by their domains")
		}
		if e.Domain == "" {
			p.add(path+".domain", "", "is required for an environment deployed beside: it is how the gateway tells it from environment %s; e.g. prd.xgen.example", c.Environment)
		}
		unique(domains, path+".domain", e.Domain)
		for i, alias := range e.Aliases {
			unique(domains, fmt.Sprintf("%s.aliases[%d]", path, i), alias)
		}
		if !dnsLabel.MatchString(e.Namespace) {
			p.add(path+".namespace", e.Namespace, "must be a Kubernetes namespace name (lowercase letters, digits, '-'; at most 63)")
		} else if slices.Contains(reservedNamespaces, e.Namespace) {
			p.add(path+".namespace", e.Namespace, "belongs to Kubernetes itself; e.g. %q", c.Namespace+"-"+env)
		}
		unique(namespaces, path+".namespace", e.Namespace)
		if e.Tag != c.Image.Tag && !imageTag.MatchString(e.Tag) {
			p.add(path+".tag", e.Tag, "must be an image tag (letters, digits, '_', '.', '-'; at most 128), e.g. \"1.4.2\"")
		}
		if len(e.Services) == 0 {
			p.add(path+".services", e.Services, "lists no service; list the services the environment runs, or remove the key to run all of them")
		}
		for i, name := range e.Services {
			if _, ok := c.Services[name]; !ok {
				p.add(fmt.Sprintf("%s.services[%d]", path, i), name, "is not one of the site's services (%s); add it to services first", strings.Join(sortedMapKeys(c.Services), ", "))
			}
		}
		d := e.Data
		for _, kv := range [][2]string{{"database", d.Database}, {"user", d.User}} {
			if !envName.MatchString(kv[1]) || len(kv[1]) > 63 {
				p.add(path+".data."+kv[0], kv[1], "must be a plain PostgreSQL name (letters, digits, '_'; not starting with a digit; at most 63)")
			}
		}
		unique(databases, path+".data.database", d.Database)
		unique(users, path+".data.user", d.User)
		for _, kv := range [][2]string{{"documentBucket", d.DocumentBucket}, {"fileStorageBucket", d.FileStorageBucket}} {
			if !bucketName.MatchString(kv[1]) || strings.Contains(kv[1], "..") {
				p.add(path+".data."+kv[0], kv[1], "must be a bucket name (3-63 lowercase letters, digits, '.', '-')")
			}
		}
		unique(buckets, path+".data.documentBucket", d.DocumentBucket)
		unique(buckets, path+".data.fileStorageBucket", d.FileStorageBucket)
		for _, kp := range []struct {
			key  string
			port int
		}{{"redisPort", d.RedisPort}, {"qdrantPort", d.QdrantPort}, {"qdrantGrpcPort", d.QdrantGRPCPort}} {
			key, port := kp.key, kp.port
			if port < 1 || port > 65535 {
				p.add(path+".data."+key, port, "must be a port (1-65535)")
				continue
			}
			if other, ok := ports[port]; ok {
				p.add(path+".data."+key, port, "is also %s on the compose host; pick a free port", other)
				continue
			}
			ports[port] = path + ".data." + key
		}
	}
}

// appSecrets are the secrets in the applications' Secret of environment env ("" for the
// stack's own), under that environment's config keys.
func appSecrets(c *Config, env string) []SecretKey {
	var out []SecretKey
	for _, k := range SecretKeys {
		if k.EnvName == "" || !k.Required(c) {
			continue
		}
		if env != "" && k.PerEnvironment {
			k.ConfigKey = EnvironmentSecretKey(env, k.ConfigKey)
			k.ComposeEnv = environmentComposeEnv(env, k.ComposeEnv)
		}
		out = append(out, k)
	}
	return out
}

// sideSite resolves environment env of site (deployed beside it) as a site of its own.
func sideSite(site *Site, env string, cat *Catalog) (*Site, error) {
	c := sideConfig(&site.Config, env)
	services, err := resolveServices(&c, cat)
	if err != nil {
		return nil, fmt.Errorf("site %s: environment %s: %w", site.Name, env, err)
	}
	sp := &problemList{prefix: SiteKey}
	validateServices(sp, services, &c, cat)
	if len(sp.list) > 0 {
		return nil, sp.list
	}
	e := c.Environments[env]
	return &Site{
		Name:                   site.Name,
		Config:                 c,
		Domain:                 e.Domain,
		Aliases:                e.Aliases,
		TLSCredentialName:      e.TLSCredentialName,
		Services:               services,
		Secrets:                appSecrets(&c, env),
		HasRegistryCredentials: site.HasRegistryCredentials,
	}, nil
}

// ownEntries are the infra endpoints an environment deployed beside has of its own (its
// Redis and Qdrant: named after it); none for the stack's own environment.
func ownEntries(in InfraConfig) []infraEntry {
	if in.beside == "" {
		return nil
	}
	var out []infraEntry
	for _, e := range infraEntries(in) {
		if strings.HasSuffix(e.compose, "-"+in.beside) { // infraEntries names them so
			out = append(out, e)
		}
	}
	return out
}

// sideHostServices are the host Services of the environments deployed beside: each one's
// own Redis and Qdrant on the compose host (PostgreSQL and MinIO are the site's).
func sideHostServices(c *Config) []endpoint.Service {
	if c.Infra.HostAddress == "" {
		return nil
	}
	var out []endpoint.Service
	for _, env := range c.SideEnvironments() {
		for _, e := range ownEntries(sideConfig(c, env).Infra) {
			out = append(out, endpoint.Service{Name: e.service, Ports: e.ports})
		}
	}
	return out
}

// OwnInfraProbes are the infra endpoints an environment deployed beside has of its own (its
// Redis and Qdrant), named after their compose services (redis-prd): what the observability
// add-on probes beside the site's own. None for the site's own environment.
func (s *Site) OwnInfraProbes() []InfraProbe {
	var out []InfraProbe
	for _, e := range ownEntries(s.Config.Infra) {
		out = append(out, InfraProbe{Name: e.service, Address: net.JoinHostPort(e.host, strconv.Itoa(e.ports[0].Port))})
	}
	return out
}

// Beside says whether the site is an environment deployed beside the stack's own (one of
// Others).
func (s *Site) Beside() bool { return s.Config.Infra.beside != "" }
