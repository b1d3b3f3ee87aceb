package sites

import (
	"fmt"
	"net/url"
)

// Defaults that are not per service (those live in catalog.yaml).
const (
	DefaultProject        = "xgen"
	DefaultSitePath       = "main"
	DefaultEnvironment    = "prd"
	DefaultRegistry       = "docker.x2bee.com"
	DefaultTag            = "latest-amd64"
	DefaultInfraNamespace = "xgen-system"
	DefaultIngressType    = "istio"
	DefaultExposeType     = "NodePort"
	DefaultNodePort       = 30080
)

// The infra's defaults: the stack's own environment's, and the base of the data names and
// ports of an environment deployed beside it (never the stack's own settings: a change to
// them must not move another environment's data).
const (
	DefaultDatabase          = "plateerag"
	DefaultDatabaseUser      = "xgen"
	DefaultRedisPort         = 6379
	DefaultQdrantPort        = 6333
	DefaultQdrantGRPCPort    = 6334
	DefaultDocumentBucket    = "documents"
	DefaultFileStorageBucket = "files"
)

// DefaultStreamingPaths are the Server-Sent Events endpoints the frontend serves itself.
var DefaultStreamingPaths = []string{
	"/api/workflow/execute/based_id/stream",
	"/api/workflow/execute/deploy/stream",
}

// SetDefaults fills every unset site-level field of stack's site. It is the only place site
// defaults are applied; per-service defaults come from the catalog.
func SetDefaults(c *Config, stack string) {
	setString(&c.Project, DefaultProject)
	setString(&c.Namespace, c.Project)
	setString(&c.SitePath, DefaultSitePath)
	setString(&c.Environment, DefaultEnvironment)

	setString(&c.Image.Registry, DefaultRegistry)
	setString(&c.Image.Tag, DefaultTag)

	setAWSDefaults(c, stack) // before the infra's: the object storage endpoint follows S3
	in := &c.Infra
	setString(&in.Namespace, DefaultInfraNamespace)
	setString(&in.Postgres.Host, clusterHost("postgresql", in.Namespace))
	setInt(&in.Postgres.Port, 5432)
	setString(&in.Postgres.Database, DefaultDatabase)
	setString(&in.Postgres.User, DefaultDatabaseUser)
	setString(&in.Redis.Host, clusterHost("redis", in.Namespace))
	setInt(&in.Redis.Port, DefaultRedisPort)
	setString(&in.Qdrant.Host, clusterHost("qdrant", in.Namespace))
	setInt(&in.Qdrant.Port, DefaultQdrantPort)
	setInt(&in.Qdrant.GRPCPort, DefaultQdrantGRPCPort)
	setString(&in.ObjectStorage.Endpoint, fmt.Sprintf("http://%s:9000", clusterHost("minio", in.Namespace)))
	if in.ObjectStorage.Secure == nil {
		u, err := url.Parse(in.ObjectStorage.Endpoint)
		secure := err == nil && u.Scheme == "https"
		in.ObjectStorage.Secure = &secure
	}
	// S3 bucket names are global: with aws.s3 they must be named (validateAWS says so).
	if c.AWS == nil || c.AWS.S3 == nil {
		setString(&in.ObjectStorage.DocumentBucket, DefaultDocumentBucket)
		setString(&in.ObjectStorage.FileStorageBucket, DefaultFileStorageBucket)
	}

	setEnvironmentDefaults(c) // after the infra's: an environment's data names follow them
	setComposeDefaults(c)     // before the cluster's: infra.hostAddress follows the compose host
	setClusterDefaults(c)

	ing := &c.Ingress
	setString(&ing.Type, DefaultIngressType)
	setString(&ing.ExposeType, DefaultExposeType)
	if ing.StreamingPaths == nil {
		ing.StreamingPaths = append([]string(nil), DefaultStreamingPaths...)
	}
	if ing.GatewaySelector == nil {
		ing.GatewaySelector = map[string]string{"istio": "ingressgateway"}
	}
	if ing.NodePort == nil {
		port := DefaultNodePort
		ing.NodePort = &port
	}
	setAddonDefaults(c) // after the ingress': Istio follows ingress.type and the gateway selector
	if c.Image.Preflight == nil {
		on := true
		c.Image.Preflight = &on
	}
	if c.NetworkPolicy.Enabled == nil {
		on := true
		c.NetworkPolicy.Enabled = &on
	}
}

// clusterHost is the in-cluster DNS name of a Service.
func clusterHost(service, namespace string) string {
	return fmt.Sprintf("%s.%s.svc.cluster.local", service, namespace)
}

func setString(p *string, def string) {
	if *p == "" {
		*p = def
	}
}

func setInt(p *int, def int) {
	if *p == 0 {
		*p = def
	}
}
