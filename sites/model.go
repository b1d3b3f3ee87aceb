// Package sites is the typed site model: one structured stack-config object per site
// (`xgen-infra:site`) plus separate secret keys, decoded strictly, defaulted in one place,
// validated with every problem reported at once, and resolved against the service catalog.
package sites

// Environments a site can run. The environment selects the catalog's per-environment
// overrides and the site's domain.
var Environments = []string{"dev", "stg", "prd"}

// Config is the stack config object `xgen-infra:site`. Every field is optional unless
// stated; defaults are applied by SetDefaults.
type Config struct {
	// Project is the image path segment after the registry and the default namespace.
	// Default "xgen".
	Project string `json:"project,omitempty"`
	// Namespace the application services run in. Default: Project.
	Namespace string `json:"namespace,omitempty"`
	// SitePath is the image path segment naming the site's source branch:
	// {registry}/{project}/{sitePath}/{service}:{tag}. Default "main".
	SitePath string `json:"sitePath,omitempty"`
	// Environment is one of dev, stg, prd. Default "prd".
	Environment string `json:"environment,omitempty"`
	// Environments holds per-environment settings, keyed by environment name: the entry
	// for Environment, and any other environment deployed beside it (deploy: true).
	Environments map[string]EnvironmentConfig `json:"environments,omitempty"`
	// Image says where the service images come from.
	Image ImageConfig `json:"image,omitempty"`
	// Infra says where PostgreSQL, Redis, Qdrant and object storage are reached.
	Infra InfraConfig `json:"infra,omitempty"`
	// Vars are site-wide environment variables for every service (e.g. APP_SITE).
	// They win over catalog config; see Precedence.
	Vars map[string]string `json:"vars,omitempty"`
	// Services this site runs, keyed by catalog service name, each with optional
	// overrides. A service that is not listed is not deployed. Required.
	Services map[string]ServiceSpec `json:"services,omitempty"`
	// Ingress says how the site is reached from outside the cluster.
	Ingress IngressConfig `json:"ingress,omitempty"`
	// Cluster installs K3s on the site's hosts over SSH (see ClusterConfig). Without it the
	// program deploys to the cluster of the `kubeconfig` secret.
	Cluster *ClusterConfig `json:"cluster,omitempty"`
	// AWS makes the object storage S3 buckets the program manages and/or builds the
	// kubeconfig from an EKS cluster (see AWSConfig). Nothing AWS without it.
	AWS *AWSConfig `json:"aws,omitempty"`
	// NetworkPolicy says whether the application namespace denies every flow the catalog
	// does not declare (see NetworkPolicyConfig).
	NetworkPolicy NetworkPolicyConfig `json:"networkPolicy,omitempty"`
	// ExternalMonitoring is monitoring the site does not run (bring your own): the
	// cluster's existing Prometheus, on a cluster whose monitoring is someone else's (EKS).
	// Default none. On a K3s site, the observability add-on is the way.
	ExternalMonitoring *ExternalMonitoringConfig `json:"externalMonitoring,omitempty"`
}

// NetworkPolicyConfig: default-deny ingress and egress in the application namespace, then
// exactly the flows of the catalog (services' calls and infra, the ingress to the entry
// points, DNS).
type NetworkPolicyConfig struct {
	// Enabled creates the policies. Default true. A cluster whose network plugin does not
	// enforce NetworkPolicy ignores them; turn them off only to debug a flow.
	Enabled *bool `json:"enabled,omitempty"`
	// ClosedNetwork declares a site without a route to the internet: the catalog's flows
	// to the internet (ServiceSpec.Egress, to: internet) are not opened there, and a
	// service's egress to: internet in the stack file is refused. Default false.
	ClosedNetwork bool `json:"closedNetwork,omitempty"`
}

// ExternalMonitoringConfig is the customer's own monitoring of the site.
type ExternalMonitoringConfig struct {
	// Prometheus is the cluster's existing Prometheus: every service's pods carry the
	// prometheus.io/scrape, port and path annotations (the catalog's metrics port and path,
	// what the common kubernetes-pods scrape job reads), and the site's network policies
	// admit these pods, and only them, to each service's metrics port. Required.
	Prometheus *ScraperConfig `json:"prometheus,omitempty"`
}

// ScraperConfig names the pods that scrape the site's services.
type ScraperConfig struct {
	// Namespace the scraper runs in, e.g. "monitoring". Required.
	Namespace string `json:"namespace,omitempty"`
	// PodLabels select the scraper's pods in Namespace, e.g.
	// {app.kubernetes.io/name: prometheus}. Required (at least one).
	PodLabels map[string]string `json:"podLabels,omitempty"`
}

// EnvironmentConfig is what differs per environment at the site level.
type EnvironmentConfig struct {
	// Domain is the public host name of the site in this environment, e.g.
	// "xgen.x2bee.com". Empty means no domain: the site is reached by IP.
	Domain string `json:"domain,omitempty"`
	// TLSCredentialName is the Kubernetes TLS Secret (in the ingress gateway's
	// namespace) that Istio serves HTTPS with. Empty: HTTP only.
	TLSCredentialName string `json:"tlsCredentialName,omitempty"`
	// Aliases are more public host names the environment answers on, routed like Domain
	// (the seeds' per-environment frontend hosts, e.g. xgen.infoedu.co.kr for the head
	// office's dev). Needs Domain. Default none.
	Aliases []string `json:"aliases,omitempty"`
	// Deploy runs this environment beside the stack's own (Environment), on the same hosts,
	// cluster, gateway and compose project: in its own Namespace, on its own Domain, with its
	// own data (Data). The stack's own environment is always deployed; this is for the
	// others (the head office's prd beside its dev). Default false: the entry only names
	// the environment's domain.
	Deploy bool `json:"deploy,omitempty"`
	// Namespace the environment's services run in (deploy only). Default
	// "<namespace>-<environment>", e.g. "xgen-prd".
	Namespace string `json:"namespace,omitempty"`
	// Tag is the image tag of the environment's services (deploy only), e.g. a release
	// tag for prd while dev follows "latest-amd64". Default image.tag; a service's own tag
	// (services.<name>.tag) still wins.
	Tag string `json:"tag,omitempty"`
	// Services the environment runs (deploy only): names from services. Default: all of
	// them. A GPU service takes its GPU in every environment that runs it.
	Services []string `json:"services,omitempty"`
	// Data names the environment's own data (deploy only); see EnvironmentData.
	Data EnvironmentData `json:"data,omitempty"`
}

// EnvironmentData is the data of an environment deployed beside the stack's own, in the
// site's compose project: its own PostgreSQL database and role (password: the secret
// `<env>PostgresPassword`), its own Redis and Qdrant (compose services redis-<env> and
// qdrant-<env>, Redis password: the secret `<env>RedisPassword`) and its own buckets in the
// site's object storage. Nothing of it is shared with another environment but the servers
// PostgreSQL and MinIO run on.
type EnvironmentData struct {
	// Database is the PostgreSQL database. Default "plateerag_<env>".
	Database string `json:"database,omitempty"`
	// User is the database's role. Default "xgen_<env>".
	User string `json:"user,omitempty"`
	// RedisPort is the host port of the environment's Redis. Default 6379 + n, where n
	// counts the environments deployed beside (1 for the first, in dev, stg, prd order).
	RedisPort int `json:"redisPort,omitempty"`
	// QdrantPort and QdrantGRPCPort are the host ports of the environment's Qdrant.
	// Default 6333 + 10n and 6334 + 10n.
	QdrantPort     int `json:"qdrantPort,omitempty"`
	QdrantGRPCPort int `json:"qdrantGrpcPort,omitempty"`
	// DocumentBucket and FileStorageBucket are the environment's buckets. Default
	// "documents-<env>" and "files-<env>".
	DocumentBucket    string `json:"documentBucket,omitempty"`
	FileStorageBucket string `json:"fileStorageBucket,omitempty"`
}

// ImageConfig says where service images are pulled from.
type ImageConfig struct {
	// Registry host (and port). Default "docker.x2bee.com".
	Registry string `json:"registry,omitempty"`
	// Tag used for every service unless the service overrides it. Default "latest-amd64".
	Tag string `json:"tag,omitempty"`
	// PullPolicy is IfNotPresent, Always or Never for every service. Default: by tag (see
	// PullPolicyFor): Always for a mutable tag such as "latest-amd64", IfNotPresent for a
	// release tag or a digest. An air-gapped site whose images are preloaded into containerd
	// (no registry) sets IfNotPresent: nothing could be pulled there.
	PullPolicy string `json:"pullPolicy,omitempty"`
	// RegistryUsername, when set, makes the program create an image pull Secret for the
	// registry; its password is the secret stack config key `registryPassword`.
	RegistryUsername string `json:"registryUsername,omitempty"`
	// RegistryPlainHTTP talks to Registry over http:// (a registry without TLS, such as a
	// site registry on a node port) for the preflight. Default false: https://.
	RegistryPlainHTTP bool `json:"registryPlainHTTP,omitempty"`
	// Preflight checks at every run that each image of the site's services is in Registry
	// (registry v2 API, with the site's pull credentials), failing with the list of missing
	// images, and deploys each by the digest its tag points at. Default true.
	// XGEN_IMAGE_PREFLIGHT=off skips it for one run: the tags are deployed.
	Preflight *bool `json:"preflight,omitempty"`
}

// InfraConfig says where the stateful services are. On-prem sites reach them through
// in-cluster Services in Namespace (Docker Compose on the host behind them); other
// sites name external addresses.
type InfraConfig struct {
	// Namespace of the in-cluster infra Services. Default "xgen-system".
	Namespace string `json:"namespace,omitempty"`
	// HostAddress is the IP address of the host that runs the infra containers (default:
	// the infra.compose host, else the first cluster server). When set,
	// selector-less Services named postgresql, redis, qdrant and minio are created in
	// Namespace with EndpointSlices pointing at it. Must not be a loopback address.
	HostAddress string `json:"hostAddress,omitempty"`
	// Postgres connection. Host default "postgresql.<namespace>.svc.cluster.local".
	Postgres PostgresConfig `json:"postgres,omitempty"`
	// Redis connection. Host default "redis.<namespace>.svc.cluster.local".
	Redis EndpointConfig `json:"redis,omitempty"`
	// Qdrant connection. Host default "qdrant.<namespace>.svc.cluster.local".
	Qdrant QdrantConfig `json:"qdrant,omitempty"`
	// ObjectStorage is MinIO on-prem or S3 (any S3-compatible endpoint).
	ObjectStorage ObjectStorageConfig `json:"objectStorage,omitempty"`
	// Compose runs the services that the site reaches by in-cluster name as a Docker
	// Compose project on a host (see ComposeConfig); HostAddress then follows that host.
	// Without it those services are someone else's to run at HostAddress.
	Compose *ComposeConfig `json:"compose,omitempty"`
	// beside is the environment this infra is of when it is deployed beside the site's own
	// (its own Redis and Qdrant are redis-<env> and qdrant-<env>); "" for the site's own.
	beside string
}

// EndpointConfig is a host and a TCP port.
type EndpointConfig struct {
	// Host name or IP address.
	Host string `json:"host,omitempty"`
	// Port number (1-65535).
	Port int `json:"port,omitempty"`
}

// PostgresConfig is the PostgreSQL connection (the password is the secret `postgresPassword`).
type PostgresConfig struct {
	// Host name or IP address.
	Host string `json:"host,omitempty"`
	// Port. Default 5432.
	Port int `json:"port,omitempty"`
	// Database name. Default "plateerag".
	Database string `json:"database,omitempty"`
	// User name. Default "xgen".
	User string `json:"user,omitempty"`
}

// QdrantConfig is the Qdrant connection.
type QdrantConfig struct {
	// Host name or IP address.
	Host string `json:"host,omitempty"`
	// Port of the HTTP API. Default 6333.
	Port int `json:"port,omitempty"`
	// GRPCPort of the gRPC API. Default 6334.
	GRPCPort int `json:"grpcPort,omitempty"`
}

// ObjectStorageConfig is MinIO or S3. The keys are the secrets `objectStorageAccessKey`
// and `objectStorageSecretKey` (MINIO_DATA_ACCESS_KEY / MINIO_DATA_SECRET_KEY in pods).
type ObjectStorageConfig struct {
	// Endpoint URL. Default "http://minio.<namespace>.svc.cluster.local:9000".
	Endpoint string `json:"endpoint,omitempty"`
	// Secure says whether TLS is used. Default: true when Endpoint is https.
	Secure *bool `json:"secure,omitempty"`
	// DocumentBucket is MINIO_DOCUMENT_BUCKET. Default "documents".
	DocumentBucket string `json:"documentBucket,omitempty"`
	// FileStorageBucket is MINIO_FILE_STORAGE_BUCKET. Default "files".
	FileStorageBucket string `json:"fileStorageBucket,omitempty"`
}

// IngressConfig says how the site is reached from outside the cluster.
type IngressConfig struct {
	// Type is istio, traefik or none. Default "istio".
	Type string `json:"type,omitempty"`
	// SharedGateway names an existing Istio Gateway as "namespace/name"; then no Gateway
	// is created and the VirtualService binds to it.
	SharedGateway string `json:"sharedGateway,omitempty"`
	// HTTPSRedirect redirects HTTP to HTTPS on the site's own Gateway (needs a TLS
	// credential). Default false.
	HTTPSRedirect bool `json:"httpsRedirect,omitempty"`
	// StreamingPaths are routed to the frontend (Server-Sent Events) before "/api/".
	// Default: the workflow execution stream paths.
	StreamingPaths []string `json:"streamingPaths,omitempty"`
	// NodePort exposes the frontend when the site has no domain: the fixed node port
	// (30000-32767), or 0 to let Kubernetes pick. Default 30080.
	NodePort *int `json:"nodePort,omitempty"`
	// ExposeType is NodePort or LoadBalancer for a site without a domain. Default "NodePort".
	ExposeType string `json:"exposeType,omitempty"`
	// GatewaySelector selects the Istio ingress gateway pods of the site's own Gateway.
	// Default {istio: ingressgateway}.
	GatewaySelector map[string]string `json:"gatewaySelector,omitempty"`
}

// ServiceSpec is one service's settings. The catalog gives every field for every service;
// a site overrides only what it names. Pointers distinguish "not set" from zero.
type ServiceSpec struct {
	// Port the container listens on and the Service exposes.
	Port *int `json:"port,omitempty"`
	// Domain says whether the service takes the site domain (the ingress entry point:
	// "/" and the streaming paths go to it).
	Domain *bool `json:"domain,omitempty"`
	// Routes are URL path prefixes the ingress sends to this service (e.g. "/api/").
	Routes []string `json:"routes,omitempty"`
	// Tag overrides the site image tag for this service.
	Tag string `json:"tag,omitempty"`
	// Digest pins the service's image to one build ("sha256:" and 64 hex digits): deployed
	// as <image>:<tag>@<digest> whatever the tag points at now, to hold a known-good build or
	// roll one service back (`site status --json` shows the digest each service runs). The image
	// preflight checks the registry still has it. Default none: the tag's current build.
	Digest string `json:"digest,omitempty"`
	// Replicas when autoscaling is off.
	Replicas *int `json:"replicas,omitempty"`
	// Autoscaling with an autoscaling/v2 HorizontalPodAutoscaler on CPU.
	Autoscaling *AutoscalingSpec `json:"autoscaling,omitempty"`
	// Resources are the container requests and limits.
	Resources *ResourcesSpec `json:"resources,omitempty"`
	// GPU placement; Count > 0 requests nvidia.com/gpu and pins pods to GPU nodes.
	GPU *GPUSpec `json:"gpu,omitempty"`
	// Probes are the HTTP health checks.
	Probes *ProbesSpec `json:"probes,omitempty"`
	// Config is the service's environment (ConfigMap). See Precedence.
	Config map[string]string `json:"config,omitempty"`
	// SpreadAcrossNodes adds a topology spread constraint over kubernetes.io/hostname.
	SpreadAcrossNodes *bool `json:"spreadAcrossNodes,omitempty"`
	// TerminationGracePeriodSeconds is how long a pod may take to stop.
	TerminationGracePeriodSeconds *int `json:"terminationGracePeriodSeconds,omitempty"`
	// PreStopSleepSeconds keeps a stopping pod serving while endpoints drain.
	PreStopSleepSeconds *int `json:"preStopSleepSeconds,omitempty"`
	// RunAsUser is the non-root UID the containers run as. Default 10000 (above the UIDs
	// an image or the host hands out, so a container escape lands on no one's account).
	RunAsUser *int `json:"runAsUser,omitempty"`
	// RunAsGroup is the GID the containers run as, also the pod's fsGroup (owner of its
	// volumes). Default 10000.
	RunAsGroup *int `json:"runAsGroup,omitempty"`
	// ReadOnlyRootFilesystem mounts the image read-only; the service writes only to
	// WritablePaths. Default true.
	ReadOnlyRootFilesystem *bool `json:"readOnlyRootFilesystem,omitempty"`
	// WritablePaths are absolute directories the service writes (an emptyDir each, counted
	// against its ephemeral storage). A site's list replaces the catalog's. Default ["/tmp"].
	WritablePaths []string `json:"writablePaths,omitempty"`
	// Calls are the services this one calls on their port; the network policies allow
	// exactly these flows (a call to a service the site does not run is dropped). A site's
	// list replaces the catalog's. Default none.
	Calls []string `json:"calls,omitempty"`
	// Infra are the infra endpoints the service reaches: postgres, redis, qdrant,
	// objectStorage. A site's list replaces the catalog's. Default none.
	Infra []string `json:"infra,omitempty"`
	// Egress are the service's outbound flows beyond its calls, infra and DNS, by flow
	// name (see EgressSpec); the network policies open exactly these. A site's flows merge
	// with the catalog's by name. Default none.
	Egress map[string]EgressSpec `json:"egress,omitempty"`
	// Metrics is where the observability add-on's Prometheus scrapes the service.
	Metrics *MetricsSpec `json:"metrics,omitempty"`
	// DeployTimeout is how long `pulumi up` waits for the Deployment to become
	// available (Go duration, e.g. "10m"); slow model loads need more.
	DeployTimeout string `json:"deployTimeout,omitempty"`
}

// MetricsSpec is a service's Prometheus metrics endpoint.
type MetricsSpec struct {
	// Enabled says the service serves metrics. A service without (Next.js serves none by
	// default) is not scraped, so it raises no TargetDown; no scraper is let in. Default true
	// (catalog: xgen-frontend false).
	Enabled *bool `json:"enabled,omitempty"`
	// Path of the metrics (Prometheus' text format). Default "/metrics".
	Path *string `json:"path,omitempty"`
	// Port the metrics are served on; 0 means the service's port. Default 0.
	Port *int `json:"port,omitempty"`
}

// AutoscalingSpec configures the HorizontalPodAutoscaler.
type AutoscalingSpec struct {
	// Enabled turns the HPA on; when off, Replicas is used.
	Enabled *bool `json:"enabled,omitempty"`
	// MinReplicas (>= 1).
	MinReplicas *int `json:"minReplicas,omitempty"`
	// MaxReplicas (>= MinReplicas).
	MaxReplicas *int `json:"maxReplicas,omitempty"`
	// TargetCPUUtilization in percent of the CPU request.
	TargetCPUUtilization *int `json:"targetCPUUtilization,omitempty"`
}

// ResourcesSpec is requests and limits in Kubernetes quantities ("500m", "2Gi").
type ResourcesSpec struct {
	// Requests are what the scheduler reserves.
	Requests *ResourceList `json:"requests,omitempty"`
	// Limits are the hard caps (memory over the limit is OOMKilled).
	Limits *ResourceList `json:"limits,omitempty"`
}

// ResourceList is CPU, memory and ephemeral storage quantities.
type ResourceList struct {
	// CPU quantity, e.g. "500m".
	CPU string `json:"cpu,omitempty"`
	// Memory quantity, e.g. "2Gi".
	Memory string `json:"memory,omitempty"`
	// EphemeralStorage is the container's writable layer, logs and emptyDir volumes, e.g.
	// "1Gi": a pod over its limit is evicted instead of filling the node's disk.
	EphemeralStorage string `json:"ephemeralStorage,omitempty"`
}

// GPUSpec places a service on GPU nodes.
type GPUSpec struct {
	// Count of nvidia.com/gpu per pod; 0 means no GPU.
	Count *int `json:"count,omitempty"`
	// NodeSelector labels of GPU nodes.
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
}

// ProbesSpec are HTTP GET health checks on the service port.
type ProbesSpec struct {
	// Path of the health endpoint, e.g. "/health".
	Path string `json:"path,omitempty"`
	// Liveness restarts a container that stops answering.
	Liveness *ProbeSpec `json:"liveness,omitempty"`
	// Readiness takes a pod out of its Service while it does not answer.
	Readiness *ProbeSpec `json:"readiness,omitempty"`
	// Startup holds the other probes back while a slow service starts (0 failures: none).
	Startup *ProbeSpec `json:"startup,omitempty"`
}

// ProbeSpec is one probe's timing, in seconds and counts.
type ProbeSpec struct {
	InitialDelaySeconds *int `json:"initialDelaySeconds,omitempty"`
	PeriodSeconds       *int `json:"periodSeconds,omitempty"`
	TimeoutSeconds      *int `json:"timeoutSeconds,omitempty"`
	FailureThreshold    *int `json:"failureThreshold,omitempty"`
}
