package sites

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"xgen-infra/components/endpoint"
	"xgen-infra/components/hostdefaults"
	"xgen-infra/images/bundle"
)

// Site is a validated, fully resolved site: what the program deploys.
type Site struct {
	// Name is the stack name (e.g. "xgen-jeju").
	Name string
	// Config is the decoded stack config with defaults applied.
	Config Config
	// Domain is the public host for the site's environment; empty when reached by IP.
	Domain string
	// Aliases are the environment's other public host names (routed like Domain).
	Aliases []string
	// TLSCredentialName for the site's Gateway; empty for HTTP only.
	TLSCredentialName string
	// Services the site runs, sorted by name, each fully resolved.
	Services []Service
	// Secrets are the secret stack config keys the site uses that end up in the
	// Kubernetes Secret, in SecretKeys order.
	Secrets []SecretKey
	// HasRegistryCredentials says whether an image pull Secret is created.
	HasRegistryCredentials bool
	// HostServices are the infra services reached through in-cluster Services backed by
	// infra.hostAddress; empty without a host address.
	HostServices []endpoint.Service
	// Warnings are things an operator should know that do not stop a deployment.
	Warnings []string
	// Placeholders are cluster host addresses that are TEST-NET-1 placeholders
	// ("key: address"): a preview shows the plan, `pulumi up` refuses to run.
	Placeholders []string
	// ImageBundle is cluster.k3s.imageBundle's manifest, checked (nil without one).
	ImageBundle *bundle.Manifest
	// Artifacts are cluster.k3s.artifacts' files, checked (nil unless air-gapped).
	Artifacts *Artifacts
	// AbsentInputs are the air-gapped folders this machine lacks ("key dir"): the lock file
	// identifies them, so a preview works; `pulumi up` uploads from them and refuses.
	AbsentInputs []string
	// Others are the environments deployed beside this one (environments.<env>.deploy),
	// each resolved as a site of its own: its namespace, domain, services, secrets and
	// data. The hosts, cluster, compose project, add-ons and host Services are this site's
	// (HostServices lists theirs too); an Other has none of them.
	Others []*Site
}

// Environments is the site and the environments deployed beside it, the site first.
func (s *Site) Environments() []*Site {
	return append([]*Site{s}, s.Others...)
}

// hostServices lists the infra endpoints that point at their in-cluster default name,
// i.e. that live on the host: an external address (e.g. S3, a database VM) needs none.
func hostServices(c *Config) []endpoint.Service {
	if c.Infra.HostAddress == "" {
		return nil
	}
	out := append(inClusterInfra(c), sideHostServices(c)...)
	// The compose project's exporters answer on the same host: their port is one more port
	// of the Service of what they watch.
	postgres, redis := c.ComposeExporters()
	for i, hs := range out {
		switch {
		case hs.Name == "postgresql" && postgres:
			out[i].Ports = append(out[i].Ports, endpoint.Port{Name: MetricsPortName, Port: hostdefaults.PostgresExporterPort})
		case hs.Name == "redis" && redis:
			out[i].Ports = append(out[i].Ports, endpoint.Port{Name: MetricsPortName, Port: hostdefaults.RedisExporterPort})
		}
	}
	return out
}

// MetricsPortName names a host Service's port of its exporter (the compose project's
// PostgreSQL and Redis exporters).
const MetricsPortName = "metrics"

// infraEntry is one infra endpoint: its name for services (ServiceSpec.Infra), the name of
// its in-cluster Service, the compose service that serves it on a compose host, the config
// key of its host, the host the site addresses it by, and its ports.
type infraEntry struct {
	endpoint, service, compose, hostKey, host string
	ports                                     []endpoint.Port
}

// infraEntries is every infra endpoint of the site: the one table the host Services, the
// compose project's services and the network policies are derived from.
func infraEntries(in InfraConfig) []infraEntry {
	// An environment deployed beside the site's own has its own Redis and Qdrant.
	redis, qdrant := "redis", "qdrant"
	if in.beside != "" {
		redis, qdrant = sideComposeService(redis, in.beside), sideComposeService(qdrant, in.beside)
	}
	out := []infraEntry{
		{"postgres", "postgresql", "postgres", "infra.postgres.host", in.Postgres.Host, []endpoint.Port{{Name: "postgres", Port: in.Postgres.Port}}},
		{"redis", redis, redis, "infra.redis.host", in.Redis.Host, []endpoint.Port{{Name: "redis", Port: in.Redis.Port}}},
		{"qdrant", qdrant, qdrant, "infra.qdrant.host", in.Qdrant.Host, []endpoint.Port{{Name: "http", Port: in.Qdrant.Port}, {Name: "grpc", Port: in.Qdrant.GRPCPort}}},
	}
	if u, err := url.Parse(in.ObjectStorage.Endpoint); err == nil {
		port, _ := strconv.Atoi(u.Port())
		if port == 0 {
			port = map[string]int{"http": 80, "https": 443}[u.Scheme]
		}
		out = append(out, infraEntry{"objectStorage", "minio", "minio", "infra.objectStorage.endpoint", u.Hostname(), []endpoint.Port{{Name: "api", Port: port}}})
	}
	return out
}

// inClusterInfra lists the infra endpoints addressed by their in-cluster default name.
func inClusterInfra(c *Config) []endpoint.Service {
	var out []endpoint.Service
	for _, e := range infraEntries(c.Infra) {
		if e.host == clusterHost(e.service, c.Infra.Namespace) {
			out = append(out, endpoint.Service{Name: e.service, Ports: e.ports})
		}
	}
	return out
}

// InfraEndpointNames are the infra endpoints a service can reach (ServiceSpec.Infra).
var InfraEndpointNames = []string{"postgres", "redis", "qdrant", "objectStorage"}

// InfraEndpoint is where an infra endpoint really is, for network policies: Address is an
// IP address, or a DNS name when the endpoint is outside the cluster and named (S3), or
// empty when it is a Service of Namespace with pods behind it (no infra.hostAddress).
type InfraEndpoint struct {
	Name      string // one of InfraEndpointNames
	Address   string
	Namespace string
	Ports     []int
	// CIDR is what a network policy allows for an endpoint outside the cluster (no
	// Namespace): the address's /32 (or /128), or 0.0.0.0/0 for a DNS name.
	CIDR string
}

// InfraEndpoints: an endpoint addressed by its in-cluster Service name is the host behind
// that Service (infra.hostAddress); any other is its own host.
func (s *Site) InfraEndpoints() []InfraEndpoint {
	in := s.Config.Infra
	var out []InfraEndpoint
	for _, e := range infraEntries(in) {
		ep := InfraEndpoint{Name: e.endpoint, Address: e.host}
		for _, p := range e.ports {
			ep.Ports = append(ep.Ports, p.Port)
		}
		if e.host == clusterHost(e.service, in.Namespace) {
			ep.Address = in.HostAddress
			if ep.Address == "" {
				ep.Namespace = in.Namespace
			}
		}
		if ep.Namespace == "" { // outside the cluster: the address only, or (a DNS name) anywhere
			ep.CIDR = "0.0.0.0/0"
			if ip := net.ParseIP(ep.Address); ip != nil && ip.To4() != nil {
				ep.CIDR = ep.Address + "/32"
			} else if ip != nil {
				ep.CIDR = ep.Address + "/128"
			}
		}
		out = append(out, ep)
	}
	return out
}

// InfraProbe is an infra endpoint as the applications address it ("host:port", the first
// port), for the observability add-on's probes.
type InfraProbe struct {
	Name    string // postgres, redis, qdrant, objectStorage
	Address string
}

// InfraProbes are the site's infra endpoints, probed by the observability add-on through
// the same names (the host Services, or the external address) the applications use.
func (s *Site) InfraProbes() []InfraProbe {
	var out []InfraProbe
	for _, e := range infraEntries(s.Config.Infra) {
		if e.host != "" && len(e.ports) > 0 && e.ports[0].Port > 0 {
			out = append(out, InfraProbe{Name: e.endpoint, Address: net.JoinHostPort(e.host, strconv.Itoa(e.ports[0].Port))})
		}
	}
	return out
}

// InfraExporters are the metrics exporters of the site's infra (the compose project's, next
// to PostgreSQL and Redis), as Prometheus reaches them: through the host Services, at the
// same names the applications use.
func (s *Site) InfraExporters() []InfraProbe {
	var out []InfraProbe
	for _, e := range infraEntries(s.Config.Infra) {
		if port := s.HostPort(e.service, MetricsPortName); port != 0 {
			out = append(out, InfraProbe{Name: e.endpoint, Address: net.JoinHostPort(e.host, strconv.Itoa(port))})
		}
	}
	return out
}

// Service is one resolved service.
type Service struct {
	// Name is the catalog name, also the Deployment/Service name (e.g. "xgen-core").
	Name string
	// Image is {registry}/{project}/{sitePath}/{name}:{tag}.
	Image string
	// PullPolicy is image.pullPolicy, else PullPolicyFor the tag.
	PullPolicy string
	// Spec has every field set: catalog defaults < catalog service < catalog
	// environment < site override.
	Spec ServiceSpec
	// Config is the ConfigMap data after precedence; secret keys are left out.
	Config map[string]string
	// ConfigSource names the layer each environment key came from (see Precedence).
	ConfigSource map[string]string
}

// ClusterDisable is the K3s components the cluster leaves out: cluster.disable, Traefik
// unless the site is routed by it, and K3s' RuntimeClasses on a GPU site (sorted).
func (s *Site) ClusterDisable() []string {
	if s.Config.Cluster == nil {
		return nil
	}
	disable := append([]string(nil), s.Config.Cluster.Disable...)
	if s.Config.Ingress.Type != "traefik" && !slices.Contains(disable, "traefik") {
		disable = append(disable, "traefik")
	}
	// On a GPU site the program owns the nvidia RuntimeClass (sites/gpu.go).
	if s.Config.GPUAddonEnabled() && !slices.Contains(disable, K3sRuntimesComponent) {
		disable = append(disable, K3sRuntimesComponent)
	}
	sort.Strings(disable)
	return disable
}

// HostPort is the port named port of host Service service (0 when the site has none).
func (s *Site) HostPort(service, port string) int {
	for _, hs := range s.HostServices {
		for _, p := range hs.Ports {
			if hs.Name == service && p.Name == port {
				return p.Port
			}
		}
	}
	return 0
}

// ExposedToIngress says whether the ingress reaches svc: nothing with ingress.type none;
// the frontend (domain: true) on a site without a domain; else the domain's service and the
// services with routes.
func (s *Site) ExposedToIngress(svc Service) bool {
	switch {
	case s.Config.Ingress.Type == "none":
		return false
	case s.Domain == "":
		return *svc.Spec.Domain
	default:
		return *svc.Spec.Domain || len(svc.Spec.Routes) > 0
	}
}

// Pinned is svc deployed by digest (the image preflight's; "" leaves it on its tag), with
// IfNotPresent unless image.pullPolicy says otherwise: a digest never changes.
func (s *Site) Pinned(svc Service, digest string) Service {
	if digest == "" || strings.Contains(svc.Image, "@") {
		return svc
	}
	svc.Image += "@" + digest
	if s.Config.Image.PullPolicy == "" {
		svc.PullPolicy = "IfNotPresent"
	}
	return svc
}

// Service returns the named service, if the site runs it.
func (s *Site) Service(name string) (Service, bool) {
	for _, svc := range s.Services {
		if svc.Name == name {
			return svc, true
		}
	}
	return Service{}, false
}

// resolveServices merges catalog and site layers for every service the site runs.
func resolveServices(c *Config, cat *Catalog) ([]Service, error) {
	names := make([]string, 0, len(c.Services))
	for name := range c.Services {
		names = append(names, name)
	}
	sort.Strings(names)

	specs := map[string]ServiceSpec{}
	for _, name := range names {
		entry := cat.Services[name]
		spec, err := mergeSpecs(cat.Global.Defaults, entry.ServiceSpec, entry.Environments[c.Environment], c.Services[name])
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", name, err)
		}
		spec.Config = nil
		specs[name] = spec
	}

	derived := derivedConfig(c, cat, specs)
	secretLayer := map[string]string{}
	for _, k := range SecretKeys {
		if k.EnvName != "" && k.Required(c) {
			secretLayer[k.EnvName] = ""
		}
	}

	services := make([]Service, 0, len(names))
	for _, name := range names {
		entry := cat.Services[name]
		global := derived
		if endpoint := c.TracesEndpoint(); endpoint != "" {
			// The OpenTelemetry SDKs' standard variables: where to send, and as whom.
			global = maps.Clone(derived)
			global["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
			global["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
			global["OTEL_SERVICE_NAME"] = name
		}
		cfg, source, err := MergeConfig([]ConfigLayer{
			{LayerGlobal, global},
			{LayerService, entry.Config},
			{LayerEnvironment, entry.Environments[c.Environment].Config},
			{LayerSiteVars, c.Vars},
			{LayerSiteService, c.Services[name].Config},
			{LayerSecret, secretLayer},
		})
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", name, err)
		}
		spec := specs[name]
		tag := c.Image.Tag
		if spec.Tag != "" {
			tag = spec.Tag
		}
		pull := c.Image.PullPolicy
		image := fmt.Sprintf("%s/%s/%s/%s:%s", c.Image.Registry, c.Project, c.SitePath, name, tag)
		if spec.Digest != "" { // one build, whatever the tag points at now
			image += "@" + spec.Digest
			if pull == "" {
				pull = "IfNotPresent"
			}
		}
		if pull == "" {
			pull = PullPolicyFor(tag)
		}
		services = append(services, Service{
			Name:         name,
			PullPolicy:   pull,
			Image:        image,
			Spec:         spec,
			Config:       cfg,
			ConfigSource: source,
		})
	}
	return services, nil
}

// derivedConfig is the global layer: catalog global config, the infra addresses, and the
// base URL of every service the site runs (and only those).
func derivedConfig(c *Config, cat *Catalog, running map[string]ServiceSpec) map[string]string {
	in := c.Infra
	out := map[string]string{
		"POSTGRES_HOST":             in.Postgres.Host,
		"POSTGRES_PORT":             strconv.Itoa(in.Postgres.Port),
		"POSTGRES_DB":               in.Postgres.Database,
		"POSTGRES_USER":             in.Postgres.User,
		"REDIS_HOST":                in.Redis.Host,
		"REDIS_PORT":                strconv.Itoa(in.Redis.Port),
		"QDRANT_HOST":               in.Qdrant.Host,
		"QDRANT_PORT":               strconv.Itoa(in.Qdrant.Port),
		"QDRANT_GRPC_PORT":          strconv.Itoa(in.Qdrant.GRPCPort),
		"MINIO_ENDPOINT":            in.ObjectStorage.Endpoint,
		"MINIO_SECURE":              strconv.FormatBool(*in.ObjectStorage.Secure),
		"MINIO_DOCUMENT_BUCKET":     in.ObjectStorage.DocumentBucket,
		"MINIO_FILE_STORAGE_BUCKET": in.ObjectStorage.FileStorageBucket,
	}
	for k, v := range cat.Global.Config {
		out[k] = v
	}
	for name, spec := range running {
		out[ServiceURLKey(name)] = fmt.Sprintf("http://%s:%d", name, *spec.Port)
	}
	return out
}

// ServiceURLKey is the environment key holding a service's in-cluster base URL:
// xgen-core → CORE_SERVICE_BASE_URL, xgen-mcp-station → MCP_STATION_SERVICE_BASE_URL.
func ServiceURLKey(service string) string {
	short := strings.TrimPrefix(service, "xgen-")
	return strings.ToUpper(strings.ReplaceAll(short, "-", "_")) + "_SERVICE_BASE_URL"
}

// releaseTag is a version tag ("1.4.2", "v2.0", "1.4.2-rc1"): pinned by convention.
var releaseTag = regexp.MustCompile(`^v?[0-9]+(\.[0-9]+)+([-+][0-9A-Za-z.-]+)?$`)

// PullPolicyFor is the pull policy a tag needs: IfNotPresent for a release tag or a digest,
// which never change; Always for anything else ("latest-amd64", "main"), which the registry
// may move: with IfNotPresent a node keeps running the image it pulled first (why the old
// system needed `rollout restart` after every push).
func PullPolicyFor(tag string) string {
	if strings.HasPrefix(tag, "sha256:") || releaseTag.MatchString(tag) {
		return "IfNotPresent"
	}
	return "Always"
}
