package sites

import (
	"fmt"
	"math/big"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

var (
	dnsLabel     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	// A host name, optionally with a leading "*." wildcard label; "*" alone matches any host.
	hostPattern  = regexp.MustCompile(`^(\*|(\*\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*)$`)
	registryHost = regexp.MustCompile(`^[a-zA-Z0-9]([-a-zA-Z0-9.]*[a-zA-Z0-9])?(:[0-9]{1,5})?$`)
	imagePathSeg = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*$`)
	imageTag     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	envName      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	bucketName   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	quantity     = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$`)
	userName     = regexp.MustCompile(`^[^\s:]+$`)
)

// Validate reports every problem of a defaulted site config at once. prefix is the
// stack config key of the site object (e.g. "xgen-infra:site").
func Validate(c *Config, cat *Catalog, prefix string) Problems {
	p := &problemList{prefix: prefix}

	if !dnsLabel.MatchString(c.Project) {
		p.add("project", c.Project, "must be a lowercase DNS label (a-z, 0-9, '-'), e.g. \"xgen\"")
	}
	if !dnsLabel.MatchString(c.Namespace) {
		p.add("namespace", c.Namespace, "must be a lowercase DNS label (a-z, 0-9, '-', at most 63), e.g. \"xgen\"")
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
		if e.Domain != "" && !hostPattern.MatchString(e.Domain) {
			p.add(path+".domain", e.Domain, "must be a lowercase host name such as \"xgen.example.com\" (or \"*.example.com\"); leave it out for a site reached by IP")
		}
		if e.TLSCredentialName != "" && !dnsSubdomain.MatchString(e.TLSCredentialName) {
			p.add(path+".tlsCredentialName", e.TLSCredentialName, "must be the name of a Kubernetes TLS Secret (lowercase DNS name)")
		}
	}

	validateImage(p, &c.Image)
	validateInfra(p, &c.Infra)
	validateIngress(p, c)

	secretNames := secretEnvNames()
	for _, k := range sortedMapKeys(c.Vars) {
		validateEnvKey(p, "vars."+k, k, secretNames)
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
			validateEnvKey(p, "services."+name+".config."+k, k, secretNames)
		}
	}
	return p.list
}

func validateImage(p *problemList, im *ImageConfig) {
	if !registryHost.MatchString(im.Registry) {
		p.add("image.registry", im.Registry, "must be a registry host with an optional port, e.g. \"docker.x2bee.com\" or \"10.100.1.65:5000\" (no scheme, no path)")
	}
	if !imageTag.MatchString(im.Tag) {
		p.add("image.tag", im.Tag, "must be an image tag (letters, digits, '_', '.', '-'; at most 128)")
	}
	if !slices.Contains([]string{"IfNotPresent", "Always", "Never"}, im.PullPolicy) {
		p.add("image.pullPolicy", im.PullPolicy, "use IfNotPresent, Always or Never")
	}
	if im.RegistryUsername != "" && !userName.MatchString(im.RegistryUsername) {
		p.add("image.registryUsername", im.RegistryUsername, "must not contain spaces or ':'")
	}
}

func validateInfra(p *problemList, in *InfraConfig) {
	if !dnsLabel.MatchString(in.Namespace) {
		p.add("infra.namespace", in.Namespace, "must be a lowercase DNS label, e.g. \"xgen-system\"")
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
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t*?#") {
			p.add(fmt.Sprintf("ingress.streamingPaths[%d]", i), path, "must be a URL path starting with \"/\" (no spaces, wildcards or '#')")
		}
	}
	if n := *ing.NodePort; n != 0 && (n < 30000 || n > 32767) {
		p.add("ingress.nodePort", n, "must be in the node port range 30000-32767, or 0 to let Kubernetes pick")
	}
	if !slices.Contains([]string{"NodePort", "LoadBalancer"}, ing.ExposeType) {
		p.add("ingress.exposeType", ing.ExposeType, "use NodePort or LoadBalancer")
	}
	for _, k := range sortedMapKeys(ing.GatewaySelector) {
		if !dnsSubdomain.MatchString(strings.ReplaceAll(k, "/", ".")) || strings.ContainsAny(ing.GatewaySelector[k], " /") {
			p.add("ingress.gatewaySelector."+k, ing.GatewaySelector[k], "must be a Kubernetes label key and value")
		}
	}
	env := c.Environments[c.Environment]
	if ing.HTTPSRedirect && env.TLSCredentialName == "" && ing.SharedGateway == "" {
		p.add("ingress.httpsRedirect", true, "needs environments.%s.tlsCredentialName (the Gateway has no HTTPS server to redirect to)", c.Environment)
	}
}

func validateEnvKey(p *problemList, path, key string, secretNames map[string]string) {
	if !envName.MatchString(key) {
		p.add(path, nil, "%q is not an environment variable name (letters, digits, '_', not starting with a digit)", key)
	}
	if cfgKey, secret := secretNames[key]; secret {
		p.add(path, nil, "%s is a secret and must not be in plain config; remove it here and run: pulumi config set --secret %s <value>", key, cfgKey)
	}
}

// validateServices checks each resolved service: values may come from the catalog, the
// environment or the site; the key named is where the site would override it.
func validateServices(p *problemList, services []Service, ingressType string) {
	var domainServices []string
	for _, svc := range services {
		s, path := svc.Spec, "services."+svc.Name
		validatePort(p, path+".port", *s.Port)
		if s.Tag != "" && !imageTag.MatchString(s.Tag) {
			p.add(path+".tag", s.Tag, "must be an image tag (letters, digits, '_', '.', '-')")
		}
		if *s.Domain {
			domainServices = append(domainServices, svc.Name)
		}
		a := s.Autoscaling
		if *a.Enabled {
			if *a.MinReplicas < 1 {
				p.add(path+".autoscaling.minReplicas", *a.MinReplicas, "must be at least 1")
			}
			if *a.MaxReplicas < *a.MinReplicas {
				p.add(path+".autoscaling.maxReplicas", *a.MaxReplicas, "must be at least minReplicas (%d)", *a.MinReplicas)
			}
			if t := *a.TargetCPUUtilization; t < 1 || t > 100 {
				p.add(path+".autoscaling.targetCPUUtilization", t, "must be a percentage from 1 to 100")
			}
		} else if *s.Replicas < 0 {
			p.add(path+".replicas", *s.Replicas, "must be 0 or more")
		}
		validateResources(p, path+".resources", s.Resources)
		if *s.GPU.Count < 0 {
			p.add(path+".gpu.count", *s.GPU.Count, "must be 0 (no GPU) or more")
		}
		if *s.GPU.Count > 0 && len(s.GPU.NodeSelector) == 0 {
			p.add(path+".gpu.nodeSelector", nil, "a GPU service needs the label of GPU nodes, e.g. {nvidia.com/gpu.present: \"true\"}")
		}
		validateProbes(p, path+".probes", s.Probes)
		if *s.TerminationGracePeriodSeconds < 0 {
			p.add(path+".terminationGracePeriodSeconds", *s.TerminationGracePeriodSeconds, "must be 0 or more")
		}
		if *s.PreStopSleepSeconds < 0 || *s.PreStopSleepSeconds >= max(*s.TerminationGracePeriodSeconds, 1) {
			p.add(path+".preStopSleepSeconds", *s.PreStopSleepSeconds, "must be 0 or more and less than terminationGracePeriodSeconds (%d)", *s.TerminationGracePeriodSeconds)
		}
		if *s.RunAsUser < 1 {
			p.add(path+".runAsUser", *s.RunAsUser, "must be a non-root UID (1 or more)")
		}
		if d, err := time.ParseDuration(s.DeployTimeout); err != nil || d <= 0 {
			p.add(path+".deployTimeout", s.DeployTimeout, "must be a positive Go duration such as \"10m\" or \"1h\"")
		}
	}
	if ingressType != "none" && len(domainServices) != 1 {
		p.add("services", nil, "exactly one service must be the entry point (domain: true) when ingress.type is %q; found %d: %v (a site without a frontend sets ingress.type: none)",
			ingressType, len(domainServices), domainServices)
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

func validateResources(p *problemList, path string, r *ResourcesSpec) {
	for _, q := range []struct{ key, req, lim string }{
		{"cpu", r.Requests.CPU, r.Limits.CPU},
		{"memory", r.Requests.Memory, r.Limits.Memory},
	} {
		req, okReq := parseQuantity(q.req)
		lim, okLim := parseQuantity(q.lim)
		if !okReq {
			p.add(path+".requests."+q.key, q.req, "must be a Kubernetes quantity such as \"500m\" or \"2Gi\"")
		}
		if !okLim {
			p.add(path+".limits."+q.key, q.lim, "must be a Kubernetes quantity such as \"1000m\" or \"4Gi\"")
		}
		if okReq && okLim && req.Cmp(lim) > 0 {
			p.add(path+".requests."+q.key, q.req, "is more than the limit %s; Kubernetes rejects a request above its limit", q.lim)
		}
	}
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
		if *s.InitialDelaySeconds < 0 {
			p.add(pp+".initialDelaySeconds", *s.InitialDelaySeconds, "must be 0 or more")
		}
		if *s.PeriodSeconds < 1 {
			p.add(pp+".periodSeconds", *s.PeriodSeconds, "must be at least 1")
		}
		if *s.TimeoutSeconds < 1 || *s.TimeoutSeconds > *s.PeriodSeconds {
			p.add(pp+".timeoutSeconds", *s.TimeoutSeconds, "must be at least 1 and not more than periodSeconds (%d)", *s.PeriodSeconds)
		}
		if *s.FailureThreshold < 1 {
			p.add(pp+".failureThreshold", *s.FailureThreshold, "must be at least 1")
		}
	}
}

// parseQuantity reads a Kubernetes quantity exactly (no float rounding).
func parseQuantity(s string) (*big.Rat, bool) {
	m := quantity.FindStringSubmatch(s)
	if m == nil {
		return nil, false
	}
	v, ok := new(big.Rat).SetString(m[1])
	if !ok {
		return nil, false
	}
	mult := map[string]string{
		"": "1", "m": "1/1000", "k": "1000", "M": "1000000", "G": "1000000000", "T": "1000000000000",
		"P": "1000000000000000", "E": "1000000000000000000", "Ki": "1024", "Mi": "1048576",
		"Gi": "1073741824", "Ti": "1099511627776", "Pi": "1125899906842624", "Ei": "1152921504606846976",
	}[m[3]]
	f, _ := new(big.Rat).SetString(mult)
	return v.Mul(v, f), true
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
