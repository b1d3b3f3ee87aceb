package sites

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

var (
	dnsLabel     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	// A host name, optionally with a leading "*." wildcard label; "*" alone matches any host.
	hostPattern  = regexp.MustCompile(`^(\*|(\*\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*)$`)
	registryHost = regexp.MustCompile(`^[a-zA-Z0-9]([-a-zA-Z0-9.]*[a-zA-Z0-9])?(:[0-9]{1,5})?$`)
	imagePathSeg = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*$`)
	imageTag     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	imageDigest  = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	envName      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	bucketName   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	userName     = regexp.MustCompile(`^[^\s:]+$`)
	// Plain config names that say they hold a credential; their values belong in secrets.
	credentialName = regexp.MustCompile(`(?i)(PASSWORD|PASSWD|SECRET|TOKEN|ACCESS_?KEY|PRIVATE_?KEY|API_?KEY|CREDENTIAL)`)
	// A URL with a password in it, e.g. postgresql://user:pass@host/db.
	urlWithPassword = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*:[^/@\s]+@`)
)

// reservedNamespaces belong to Kubernetes itself; a site must never deploy into them.
var reservedNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

// Validate reports every problem of a defaulted site config at once. prefix is the
// stack config key of the site object (e.g. "xgen-infra:site").
func Validate(c *Config, cat *Catalog, prefix string) Problems {
	p := &problemList{prefix: prefix}

	if !dnsLabel.MatchString(c.Project) {
		p.add("project", c.Project, "must be a lowercase DNS label (a-z, 0-9, '-'), e.g. \"xgen\"")
	}
	if !dnsLabel.MatchString(c.Namespace) {
		p.add("namespace", c.Namespace, "must be a lowercase DNS label (a-z, 0-9, '-', at most 63), e.g. \"xgen\"")
	} else if slices.Contains(reservedNamespaces, c.Namespace) {
		p.add("namespace", c.Namespace, "belongs to Kubernetes itself (%s); give the site its own namespace, e.g. \"xgen\"", strings.Join(reservedNamespaces, ", "))
	}
	if !imagePathSeg.MatchString(c.SitePath) {
		p.add("sitePath", c.SitePath, "must be a lowercase image path segment (a-z, 0-9, '.', '_', '-'), e.g. \"main\"")
	}
	if !slices.Contains(Environments, c.Environment) {
		p.add("environment", c.Environment, "is not an environment; use one of %s", strings.Join(Environments, ", "))
	}
	for _, env := range sortedMapKeys(c.Environments) {
		e := c.Environments[env]
		path := "environments." + env
		if !slices.Contains(Environments, env) {
			p.add(path, nil, "%q is not an environment; use one of %s", env, strings.Join(Environments, ", "))
		}
		validateDomain(p, path+".domain", e.Domain, c.Ingress.Type)
		for i, alias := range e.Aliases {
			key := fmt.Sprintf("%s.aliases[%d]", path, i)
			switch {
			case e.Domain == "":
				p.add(key, alias, "needs environments.%s.domain: an alias is one more name of a site reached by its domain", env)
			case alias == "" || alias == "*":
				p.add(key, alias, "must be a host name such as \"xgen.example.com\"")
			case alias == e.Domain || slices.Index(e.Aliases, alias) < i:
				p.add(key, alias, "is listed already; name each host once")
			default:
				validateDomain(p, key, alias, c.Ingress.Type)
			}
		}
		if e.TLSCredentialName != "" && len(validation.IsDNS1123Subdomain(e.TLSCredentialName)) > 0 {
			p.add(path+".tlsCredentialName", e.TLSCredentialName, "must be the name of a Kubernetes TLS Secret (lowercase DNS name)")
		}
	}
	if env := c.Environments[c.Environment]; env.Domain == "" && env.TLSCredentialName != "" {
		p.add("environments."+c.Environment+".tlsCredentialName", env.TLSCredentialName,
			"has no effect: the site has no domain in environment %s, so there is no Gateway to serve HTTPS; set environments.%s.domain or remove it", c.Environment, c.Environment)
	}

	validateEnvironments(p, c)
	validateImage(p, &c.Image)
	validateInfra(p, &c.Infra)
	validateIngress(p, c)
	validateCluster(p, c)
	validateAddons(p, c)
	validateCompose(p, c)
	validateAWS(p, c)
	validateExternalMonitoring(p, c)

	secretNames := secretEnvNames()
	for _, k := range sortedMapKeys(c.Vars) {
		validateEnvVar(p, "vars."+k, k, c.Vars[k], secretNames)
	}

	if len(c.Services) == 0 {
		p.add("services", nil, "no services listed; name every service this site runs, e.g. services: {xgen-frontend: {}, xgen-core: {}}")
	}
	known := map[string]struct{}{}
	for name := range cat.Services {
		known[name] = struct{}{}
	}
	for _, name := range sortedMapKeys(c.Services) {
		if _, ok := cat.Services[name]; !ok {
			p.add("services."+name, nil, "is not a service in the catalog%s", suggestName(name, known))
			continue
		}
		for _, k := range sortedMapKeys(c.Services[name].Config) {
			validateEnvVar(p, "services."+name+".config."+k, k, c.Services[name].Config[k], secretNames)
		}
	}
	return p.list
}

// validateDomain: a domain ends up as an Istio host or an Ingress host, which must be a DNS
// name (a wildcard "*.example.com" too; "*" alone only for Istio).
func validateDomain(p *problemList, path, domain, ingressType string) {
	switch {
	case domain == "":
	case net.ParseIP(domain) != nil:
		p.add(path, domain, "is an IP address; a domain must be a DNS name. A site reached by IP has no domain: leave it out (the frontend is then exposed on a node port)")
	case domain == "*":
		if ingressType == "traefik" {
			p.add(path, domain, "a Kubernetes Ingress host cannot be \"*\"; use a wildcard such as \"*.example.com\", or leave the domain out")
		}
	case strings.HasPrefix(domain, "*."):
		if !hostPattern.MatchString(domain) || len(validation.IsWildcardDNS1123Subdomain(domain)) > 0 {
			p.add(path, domain, "must be a lowercase wildcard host name such as \"*.example.com\"")
		}
	case !hostPattern.MatchString(domain) || len(validation.IsDNS1123Subdomain(domain)) > 0:
		p.add(path, domain, "must be a lowercase host name such as \"xgen.example.com\" (or \"*.example.com\"); leave it out for a site reached by IP")
	}
}

func validateImage(p *problemList, im *ImageConfig) {
	if !registryHost.MatchString(im.Registry) {
		p.add("image.registry", im.Registry, "must be a registry host with an optional port, e.g. \"docker.x2bee.com\" or \"10.100.1.65:5000\" (no scheme, no path)")
	} else if _, port, ok := strings.Cut(im.Registry, ":"); ok {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			p.add("image.registry", im.Registry, "has port %s; a registry port is from 1 to 65535", port)
		}
	}
	if !imageTag.MatchString(im.Tag) {
		p.add("image.tag", im.Tag, "must be an image tag (letters, digits, '_', '.', '-'; at most 128)")
	}
	if im.PullPolicy != "" && !slices.Contains([]string{"IfNotPresent", "Always", "Never"}, im.PullPolicy) {
		p.add("image.pullPolicy", im.PullPolicy, "use IfNotPresent, Always or Never")
	}
	if im.RegistryUsername != "" && !userName.MatchString(im.RegistryUsername) {
		p.add("image.registryUsername", im.RegistryUsername, "must not contain spaces or ':'")
	}
}

func validateInfra(p *problemList, in *InfraConfig) {
	if !dnsLabel.MatchString(in.Namespace) {
		p.add("infra.namespace", in.Namespace, "must be a lowercase DNS label, e.g. \"xgen-system\"")
	} else if slices.Contains(reservedNamespaces, in.Namespace) {
		p.add("infra.namespace", in.Namespace, "belongs to Kubernetes itself (%s); use a namespace of the site's own, e.g. \"xgen-system\"", strings.Join(reservedNamespaces, ", "))
	}
	if in.HostAddress != "" {
		ip := net.ParseIP(in.HostAddress)
		switch {
		case ip == nil:
			p.add("infra.hostAddress", in.HostAddress, "must be an IP address of the infra host, e.g. \"10.0.0.5\"")
		case ip.IsLoopback() || ip.IsUnspecified() || ip.IsLinkLocalUnicast():
			p.add("infra.hostAddress", in.HostAddress, "Kubernetes refuses loopback, unspecified and link-local endpoint addresses; use the host's network address")
		}
	}
	validateEndpoint(p, "infra.postgres", in.Postgres.Host, in.Postgres.Port)
	validateEndpoint(p, "infra.redis", in.Redis.Host, in.Redis.Port)
	validateEndpoint(p, "infra.qdrant", in.Qdrant.Host, in.Qdrant.Port)
	validatePort(p, "infra.qdrant.grpcPort", in.Qdrant.GRPCPort)
	if in.Qdrant.GRPCPort == in.Qdrant.Port {
		p.add("infra.qdrant.grpcPort", in.Qdrant.GRPCPort, "equals infra.qdrant.port; Qdrant serves HTTP and gRPC on two different ports (default 6333 and 6334)")
	}
	if !dnsLabel.MatchString(in.Postgres.Database) && !envName.MatchString(in.Postgres.Database) {
		p.add("infra.postgres.database", in.Postgres.Database, "must be a plain database name (letters, digits, '_')")
	}
	if !userName.MatchString(in.Postgres.User) {
		p.add("infra.postgres.user", in.Postgres.User, "must be a plain user name")
	}
	os := in.ObjectStorage
	u, err := url.Parse(os.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		p.add("infra.objectStorage.endpoint", os.Endpoint, "must be an http(s) URL with a host and no path, e.g. \"https://s3.ap-northeast-2.amazonaws.com\"")
	} else if *os.Secure != (u.Scheme == "https") {
		p.add("infra.objectStorage.secure", *os.Secure, "contradicts the %s endpoint; leave secure out (it follows the scheme) or fix the endpoint", u.Scheme)
	}
	for key, b := range map[string]string{"documentBucket": os.DocumentBucket, "fileStorageBucket": os.FileStorageBucket} {
		if b == "" {
			continue // only with aws.s3, where validateAWS asks for a name
		}
		if !bucketName.MatchString(b) || strings.Contains(b, "..") {
			p.add("infra.objectStorage."+key, b, "must be a bucket name: 3-63 lowercase letters, digits, '.', '-'")
		}
	}
}

func validateEndpoint(p *problemList, path, host string, port int) {
	if net.ParseIP(host) == nil && !dnsSubdomain.MatchString(host) {
		p.add(path+".host", host, "must be a host name or IP address")
	}
	validatePort(p, path+".port", port)
}

func validatePort(p *problemList, path string, port int) {
	if port < 1 || port > 65535 {
		p.add(path, port, "must be a TCP port from 1 to 65535")
	}
}

func validateIngress(p *problemList, c *Config) {
	ing := &c.Ingress
	if !slices.Contains([]string{"istio", "traefik", "none"}, ing.Type) {
		p.add("ingress.type", ing.Type, "use istio, traefik or none")
	}
	if ing.SharedGateway != "" {
		ns, name, ok := strings.Cut(ing.SharedGateway, "/")
		if !ok || !dnsLabel.MatchString(ns) || !dnsSubdomain.MatchString(name) {
			p.add("ingress.sharedGateway", ing.SharedGateway, "must be \"namespace/name\" of an existing Istio Gateway, e.g. \"istio-system/istio-gateway\"")
		}
		if ing.Type != "istio" {
			p.add("ingress.sharedGateway", ing.SharedGateway, "is an Istio Gateway but ingress.type is %q; remove it or set type istio", ing.Type)
		}
	}
	for i, path := range ing.StreamingPaths {
		key := fmt.Sprintf("ingress.streamingPaths[%d]", i)
		switch {
		case !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t*?#"):
			p.add(key, path, "must be a URL path starting with \"/\" (no spaces, wildcards or '#')")
		case path == "/":
			p.add(key, path, "would send every request, /api/ included, down the streaming route; name the stream endpoints, e.g. \"/api/workflow/execute/deploy/stream\"")
		}
	}
	if n := *ing.NodePort; n != 0 && (n < 30000 || n > 32767) {
		p.add("ingress.nodePort", n, "must be in the node port range 30000-32767, or 0 to let Kubernetes pick")
	}
	if !slices.Contains([]string{"NodePort", "LoadBalancer"}, ing.ExposeType) {
		p.add("ingress.exposeType", ing.ExposeType, "use NodePort or LoadBalancer")
	}
	validateLabels(p, "ingress.gatewaySelector", ing.GatewaySelector)
	env := c.Environments[c.Environment]
	switch {
	case ing.HTTPSRedirect && env.Domain == "":
		p.add("ingress.httpsRedirect", true, "has no effect: the site has no domain in environment %s (it is reached by IP, over HTTP); remove it or set environments.%s.domain", c.Environment, c.Environment)
	case ing.HTTPSRedirect && ing.SharedGateway != "":
		p.add("ingress.httpsRedirect", true, "would be ignored: ingress.sharedGateway %q is someone else's Gateway, and its servers (HTTPS and any redirect) are theirs; remove it", ing.SharedGateway)
	case ing.HTTPSRedirect && env.TLSCredentialName == "":
		p.add("ingress.httpsRedirect", true, "needs environments.%s.tlsCredentialName (the Gateway has no HTTPS server to redirect to)", c.Environment)
	}
	if ing.SharedGateway != "" && env.TLSCredentialName != "" {
		p.add("environments."+c.Environment+".tlsCredentialName", env.TLSCredentialName,
			"would be ignored: ingress.sharedGateway %q is someone else's Gateway, and its certificate is theirs; remove it", ing.SharedGateway)
	}
}

// validateLabels checks label keys and values with Kubernetes' own rules.
func validateLabels(p *problemList, path string, labels map[string]string) {
	for _, k := range sortedMapKeys(labels) {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			p.add(path+"."+k, nil, "is not a Kubernetes label key (an optional DNS-subdomain prefix and '/', then a name of at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit)")
		}
		if errs := validation.IsValidLabelValue(labels[k]); len(errs) > 0 {
			p.add(path+"."+k, labels[k], "is not a Kubernetes label value (at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit; no spaces)")
		}
	}
}

// validateEnvVar checks one plain environment variable of the site (vars or a service's
// config): a valid name, not a secret's name, nothing that looks like a credential.
func validateEnvVar(p *problemList, path, key, value string, secretNames map[string]string) {
	if !envName.MatchString(key) {
		p.add(path, nil, "%q is not an environment variable name (letters, digits, '_', not starting with a digit)", key)
	}
	if cfgKey, secret := secretNames[key]; secret {
		p.add(path, nil, "%s is a secret and must not be in plain config; remove it here and run: pulumi config set --secret %s", key, cfgKey)
		return
	}
	if credentialName.MatchString(key) {
		p.add(path, nil, "looks like a credential, and plain config is stored and shown in clear text; the secrets the apps read are the stack's secret keys (docs/configuration.md \"Secrets\": postgresPassword, redisPassword, objectStorageAccessKey, objectStorageSecretKey, registryPassword), set with pulumi config set --secret")
	}
	if urlWithPassword.MatchString(value) {
		p.add(path, nil, "holds a URL with a password in it, which plain config would store in clear text; give host, user and database as separate values and the password as a secret (pulumi config set --secret postgresPassword)")
	}
}

// validateServices checks each resolved service: values may come from the catalog, the
// environment or the site; the key named is where the site would override it. Every number
// that ends up in an int32 field of a Kubernetes object is checked against that range.
func validateServices(p *problemList, services []Service, c *Config, cat *Catalog) {
	var domainServices []string
	for _, svc := range services {
		s, path := svc.Spec, "services."+svc.Name
		site := c.Services[svc.Name] // what the site itself wrote (nil fields: not set)
		validatePort(p, path+".port", *s.Port)
		if m := s.Metrics; !strings.HasPrefix(*m.Path, "/") || strings.ContainsAny(*m.Path, " ?#") {
			p.add(path+".metrics.path", *m.Path, "must be a URL path like \"/metrics\"")
		}
		if m := s.Metrics; *m.Port != 0 {
			validatePort(p, path+".metrics.port", *m.Port)
		}
		if s.Tag != "" && !imageTag.MatchString(s.Tag) {
			p.add(path+".tag", s.Tag, "must be an image tag (letters, digits, '_', '.', '-')")
		}
		if s.Digest != "" && !imageDigest.MatchString(s.Digest) {
			p.add(path+".digest", s.Digest, "must be \"sha256:\" and 64 lowercase hex digits, the image's manifest digest (`site status --json` shows the digest each service runs; or `crane digest <image>`)")
		}
		if *s.Domain {
			domainServices = append(domainServices, svc.Name)
		}
		a := s.Autoscaling
		if *a.Enabled {
			if *a.MinReplicas < 1 || *a.MinReplicas > math.MaxInt32 {
				p.add(path+".autoscaling.minReplicas", *a.MinReplicas, "must be from 1 to %d", math.MaxInt32)
			}
			if *a.MaxReplicas < *a.MinReplicas || *a.MaxReplicas > math.MaxInt32 {
				p.add(path+".autoscaling.maxReplicas", *a.MaxReplicas, "must be at least minReplicas (%d) and at most %d", *a.MinReplicas, math.MaxInt32)
			}
			if t := *a.TargetCPUUtilization; t < 1 || t > 100 {
				p.add(path+".autoscaling.targetCPUUtilization", t, "must be a percentage from 1 to 100")
			}
			if site.Replicas != nil {
				p.add(path+".replicas", *site.Replicas, "has no effect while autoscaling is on (the HPA sets the replica count from %d to %d); set autoscaling.minReplicas/maxReplicas instead, or autoscaling: {enabled: false} for a fixed count",
					*a.MinReplicas, *a.MaxReplicas)
			}
		} else {
			if r := *s.Replicas; r < 1 || r > math.MaxInt32 {
				p.add(path+".replicas", r, "must be from 1 to %d; to stop running a service, remove it from services", math.MaxInt32)
			}
			if sa := site.Autoscaling; sa != nil && (sa.MinReplicas != nil || sa.MaxReplicas != nil || sa.TargetCPUUtilization != nil) {
				p.add(path+".autoscaling", nil, "has no effect: autoscaling is off for %s in environment %s, so the fixed replicas (%d) apply; add enabled: true to autoscale, or remove the range",
					svc.Name, c.Environment, *s.Replicas)
			}
		}
		validateResources(p, path+".resources", s.Resources)
		if n := *s.GPU.Count; n < 0 || n > math.MaxInt32 {
			p.add(path+".gpu.count", n, "must be 0 (no GPU) or more")
		}
		if *s.GPU.Count > 0 && len(s.GPU.NodeSelector) == 0 {
			p.add(path+".gpu.nodeSelector", nil, "a GPU service needs the label of GPU nodes, e.g. {nvidia.com/gpu.present: \"true\"}")
		}
		validateLabels(p, path+".gpu.nodeSelector", s.GPU.NodeSelector)
		validateProbes(p, path+".probes", s.Probes)
		if g := *s.TerminationGracePeriodSeconds; g < 0 || g > math.MaxInt32 {
			p.add(path+".terminationGracePeriodSeconds", g, "must be 0 or more (seconds)")
		}
		if *s.PreStopSleepSeconds < 0 || *s.PreStopSleepSeconds >= max(*s.TerminationGracePeriodSeconds, 1) {
			p.add(path+".preStopSleepSeconds", *s.PreStopSleepSeconds, "must be 0 or more and less than terminationGracePeriodSeconds (%d)", *s.TerminationGracePeriodSeconds)
		}
		if u := *s.RunAsUser; u < 1 || u > math.MaxInt32 {
			p.add(path+".runAsUser", u, "must be a non-root UID (1 to %d)", math.MaxInt32)
		}
		if g := *s.RunAsGroup; g < 1 || g > math.MaxInt32 {
			p.add(path+".runAsGroup", g, "must be a non-root GID (1 to %d)", math.MaxInt32)
		}
		validateWritablePaths(p, path+".writablePaths", s.WritablePaths)
		for i, callee := range s.Calls {
			if _, ok := cat.Services[callee]; !ok || callee == svc.Name {
				p.add(fmt.Sprintf("%s.calls[%d]", path, i), callee, "must be another service of the catalog: one of %v", catalogNames(cat))
			}
		}
		seenInfra := map[string]bool{}
		for i, e := range s.Infra {
			if !slices.Contains(InfraEndpointNames, e) || seenInfra[e] {
				p.add(fmt.Sprintf("%s.infra[%d]", path, i), e, "must be one of %v, each once", InfraEndpointNames)
			}
			seenInfra[e] = true
		}
		validateEgress(p, path+".egress", s.Egress, site, c)
		if d, err := time.ParseDuration(s.DeployTimeout); err != nil || d <= 0 {
			p.add(path+".deployTimeout", s.DeployTimeout, "must be a positive Go duration such as \"10m\" or \"1h\"")
		}
	}
	if c.Ingress.Type != "none" && len(domainServices) != 1 {
		p.add("services", nil, "exactly one service must be the entry point (domain: true) when ingress.type is %q; found %d: %v (a site without a frontend sets ingress.type: none)",
			c.Ingress.Type, len(domainServices), domainServices)
	}
	seen := map[string]string{}
	for _, svc := range services {
		for i, r := range svc.Spec.Routes {
			path := fmt.Sprintf("services.%s.routes[%d]", svc.Name, i)
			if !strings.HasPrefix(r, "/") || r == "/" || strings.ContainsAny(r, " \t*?#") {
				p.add(path, r, "must be a URL path prefix starting with \"/\" other than \"/\" itself (\"/\" goes to the domain service)")
			}
			if other, dup := seen[r]; dup {
				p.add(path, r, "is already routed to %s", other)
			}
			seen[r] = svc.Name
		}
	}
}

// validateResources parses every quantity with Kubernetes' own parser. A memory quantity in
// milli-units ("512m" is 0.512 bytes) is refused: it is always a typo for Mi.
func validateResources(p *problemList, path string, r *ResourcesSpec) {
	for _, q := range []struct{ key, req, lim string }{
		{"cpu", r.Requests.CPU, r.Limits.CPU},
		{"memory", r.Requests.Memory, r.Limits.Memory},
		{"ephemeralStorage", r.Requests.EphemeralStorage, r.Limits.EphemeralStorage},
	} {
		req, okReq := parseQuantity(p, path+".requests."+q.key, q.key, q.req)
		lim, okLim := parseQuantity(p, path+".limits."+q.key, q.key, q.lim)
		if okReq && okLim && req.Cmp(lim) > 0 {
			p.add(path+".requests."+q.key, q.req, "is more than the limit %s; Kubernetes rejects a request above its limit", q.lim)
		}
	}
}

func parseQuantity(p *problemList, key, resourceName, s string) (resource.Quantity, bool) {
	example := map[string]string{"cpu": "\"500m\" or \"2\"", "memory": "\"512Mi\" or \"2Gi\""}[resourceName]
	q, err := resource.ParseQuantity(s)
	switch {
	case err != nil:
		p.add(key, s, "must be a Kubernetes quantity such as %s", example)
		return q, false
	case q.Sign() <= 0:
		p.add(key, s, "must be more than zero, e.g. %s", example)
		return q, false
	case resourceName == "memory" && strings.HasSuffix(s, "m"):
		p.add(key, s, "is in milli-bytes (\"m\" means 1/1000); for mebibytes write %sMi", strings.TrimSuffix(s, "m"))
		return q, false
	}
	return q, true
}

func validateProbes(p *problemList, path string, pr *ProbesSpec) {
	if !strings.HasPrefix(pr.Path, "/") {
		p.add(path+".path", pr.Path, "must be an HTTP path starting with \"/\", e.g. \"/health\"")
	}
	for _, probe := range []struct {
		name     string
		spec     *ProbeSpec
		optional bool
	}{{"liveness", pr.Liveness, false}, {"readiness", pr.Readiness, false}, {"startup", pr.Startup, true}} {
		s, pp := probe.spec, path+"."+probe.name
		if probe.optional && *s.FailureThreshold == 0 {
			continue // no startup probe
		}
		if *s.InitialDelaySeconds < 0 || *s.InitialDelaySeconds > math.MaxInt32 {
			p.add(pp+".initialDelaySeconds", *s.InitialDelaySeconds, "must be 0 or more (seconds)")
		}
		if *s.PeriodSeconds < 1 || *s.PeriodSeconds > math.MaxInt32 {
			p.add(pp+".periodSeconds", *s.PeriodSeconds, "must be at least 1 (seconds)")
		}
		if *s.TimeoutSeconds < 1 || *s.TimeoutSeconds > *s.PeriodSeconds {
			p.add(pp+".timeoutSeconds", *s.TimeoutSeconds, "must be at least 1 and not more than periodSeconds (%d)", *s.PeriodSeconds)
		}
		if *s.FailureThreshold < 1 || *s.FailureThreshold > math.MaxInt32 {
			p.add(pp+".failureThreshold", *s.FailureThreshold, "must be at least 1")
		}
	}
}

func suggestName(name string, known map[string]struct{}) string {
	best, bestDist := "", len(name)/2+2
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
		if d := editDistance(name, k); d < bestDist || (d == bestDist && k < best) {
			best, bestDist = k, d
		}
	}
	sort.Strings(names)
	if best != "" {
		return fmt.Sprintf("; did you mean %q? (known: %s)", best, strings.Join(names, ", "))
	}
	return fmt.Sprintf("; known: %s", strings.Join(names, ", "))
}

func sortedMapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// validateWritablePaths: absolute, clean directories other than "/", each once.
func validateWritablePaths(p *problemList, path string, paths []string) {
	seen := map[string]bool{}
	for i, dir := range paths {
		if !strings.HasPrefix(dir, "/") || dir == "/" || filepath.Clean(dir) != dir || seen[dir] {
			p.add(fmt.Sprintf("%s[%d]", path, i), dir, "must be an absolute, clean directory other than \"/\", listed once (e.g. /tmp)")
		}
		seen[dir] = true
	}
	if len(paths) > 16 {
		p.add(path, len(paths), "at most 16 writable paths; mount a parent directory instead")
	}
}

// catalogNames lists the catalog's services, sorted.
func catalogNames(cat *Catalog) []string {
	names := make([]string, 0, len(cat.Services))
	for n := range cat.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
