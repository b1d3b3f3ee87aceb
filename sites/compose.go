package sites

import (
	"net"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
	"xgen-infra/components/hostdefaults"
)

// ComposeConfig runs the stateful services (PostgreSQL, Redis, Qdrant, MinIO) as one Docker
// Compose project on a host of the site (`infra.compose`), the way the seeds' setup-k3s.sh
// did, and points the in-cluster infra Services at it.
type ComposeConfig struct {
	// Host names the cluster node (site.cluster servers or agents) that runs the project.
	// Default: the first server, when the site has a cluster and no Address.
	Host string `json:"host,omitempty"`
	// Address of a host outside the cluster that runs the project (with HostKey; SSH from
	// ssh, or the cluster's). Use Host or Address, not both.
	Address string `json:"address,omitempty"`
	// HostKey pins Address's SSH host key, one OpenSSH line ("ssh-ed25519 AAAA..."). Required
	// with Address; a cluster node's key is its cluster.*.hostKey.
	HostKey string `json:"hostKey,omitempty"`
	// SSH logs in to Address. Default: site.cluster.ssh; required without a cluster.
	SSH *SSHConfig `json:"ssh,omitempty"`
	// DataDir holds the compose files, the .env and every service's data (one directory
	// per service). Default "/srv/xgen-infra".
	DataDir string `json:"dataDir,omitempty"`
	// BindAddress is the address the services' ports are published on. Default: the host's
	// address (the cluster-facing one). "0.0.0.0" publishes on every interface and must be
	// written out.
	BindAddress string `json:"bindAddress,omitempty"`
	// Services says which services run and how. Default: every infra endpoint that the
	// site reaches by its in-cluster name (infra.*.host left at its default), each with the
	// defaults below. When given, exactly the services listed run (`postgres: {}` runs it
	// with the defaults); an endpoint with an external host needs no service here.
	Services *ComposeServices `json:"services,omitempty"`
	// WaitTimeout bounds `docker compose up --wait` (Go duration). Default "5m".
	WaitTimeout string `json:"waitTimeout,omitempty"`
	// RemoveDataOnDestroy lets `pulumi destroy` remove the volumes and DataDir. Default
	// false: destroy stops the project and keeps every byte of data.
	RemoveDataOnDestroy bool `json:"removeDataOnDestroy,omitempty"`
	// AllowMove lets an update move the project to another host or DataDir. Default false:
	// such a change is refused before anything on a host changes, because the data does
	// not move with the project (move it first, or start empty on purpose).
	AllowMove bool `json:"allowMove,omitempty"`
	// Backup turns on a nightly pg_dump and Qdrant snapshot on the host. Default off.
	Backup *BackupConfig `json:"backup,omitempty"`
}

// ComposeServices are the services of the project, by compose service name.
type ComposeServices struct {
	// Postgres serves infra.postgres. Default image "postgres:15.4".
	Postgres *ComposeService `json:"postgres,omitempty"`
	// Redis serves infra.redis. Default image "redis:8.0-alpine".
	Redis *RedisService `json:"redis,omitempty"`
	// Qdrant serves infra.qdrant. Default image "qdrant/qdrant:v1.13.4".
	Qdrant *ComposeService `json:"qdrant,omitempty"`
	// MinIO serves infra.objectStorage. Default image
	// "minio/minio:RELEASE.2025-04-22T22-12-26Z".
	MinIO *MinIOService `json:"minio,omitempty"`
}

// ComposeService is one service's image and memory cap.
type ComposeService struct {
	// Image with a pinned tag or digest (`latest` and untagged images are refused).
	Image string `json:"image,omitempty"`
	// MemoryLimit caps the container, Compose units ("2g", "512m"). Default per service:
	// postgres 2g, qdrant 2g.
	MemoryLimit string `json:"memoryLimit,omitempty"`
}

// RedisService is Redis with the seeds' memory policy.
type RedisService struct {
	// Image with a pinned tag. Default "redis:8.0-alpine".
	Image string `json:"image,omitempty"`
	// MemoryLimit caps the container. Default "3g" (above MaxMemory: Redis needs headroom).
	MemoryLimit string `json:"memoryLimit,omitempty"`
	// MaxMemory is Redis' maxmemory ("2gb"). Default "2gb".
	MaxMemory string `json:"maxMemory,omitempty"`
	// MaxMemoryPolicy is Redis' maxmemory-policy. Default "allkeys-lru".
	MaxMemoryPolicy string `json:"maxMemoryPolicy,omitempty"`
}

// MinIOService is MinIO and the one-shot service that creates the buckets.
type MinIOService struct {
	// Image with a pinned tag. Default "minio/minio:RELEASE.2025-04-22T22-12-26Z".
	Image string `json:"image,omitempty"`
	// MemoryLimit caps the container. Default "2g".
	MemoryLimit string `json:"memoryLimit,omitempty"`
	// ConsolePort publishes the web console. Default 9001.
	ConsolePort int `json:"consolePort,omitempty"`
	// InitImage runs `mc mb` for the buckets. Default "minio/mc:RELEASE.2025-04-16T18-13-26Z".
	InitImage string `json:"initImage,omitempty"`
}

// BackupConfig is the nightly backup on the compose host.
type BackupConfig struct {
	// Time of day (host's local time, "HH:MM"). Default "03:00".
	Time string `json:"time,omitempty"`
	// RetentionDays keeps backups this many days. Default 7.
	RetentionDays int `json:"retentionDays,omitempty"`
	// Dir receives the dumps and snapshots. Default "<dataDir>/backups".
	Dir string `json:"dir,omitempty"`
}

// Compose defaults. Images pin the seeds' versions (postgres 15.4, redis 8.0); the seeds ran
// qdrant and minio at `latest`, pinned here to releases current when this was written.
const (
	DefaultComposeDataDir   = "/srv/xgen-infra"
	DefaultPostgresImage    = "postgres:15.4"
	DefaultRedisImage       = "redis:8.0-alpine"
	DefaultQdrantImage      = "qdrant/qdrant:v1.13.4"
	DefaultMinIOImage       = "minio/minio:RELEASE.2025-04-22T22-12-26Z"
	DefaultMinIOInitImage   = "minio/mc:RELEASE.2025-04-16T18-13-26Z"
	DefaultMinIOConsolePort = 9001
	DefaultRedisMaxMemory   = "2gb"
	DefaultRedisPolicy      = "allkeys-lru"
	DefaultBackupTime       = "03:00"
	DefaultBackupRetention  = 7
)

// DefaultComposeWaitTimeout is the compose package's (what InfraCompose would use too).
var DefaultComposeWaitTimeout = durationText(hostdefaults.ComposeWaitTimeout)

// RedisPolicies are Redis' maxmemory-policy values.
var RedisPolicies = []string{"noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"}

var (
	// An image reference with a tag or a digest: [registry/]path:tag or ...@sha256:hex.
	pinnedImage  = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})$`)
	composeBytes = regexp.MustCompile(`^[1-9][0-9]*(b|k|m|g)$`)
	redisBytes   = regexp.MustCompile(`^[1-9][0-9]*(b|kb|mb|gb)?$`)
	clockTime    = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
)

// setComposeDefaults fills infra.compose; part of SetDefaults, before the cluster's defaults
// (infra.hostAddress follows the compose host).
func setComposeDefaults(c *Config) {
	cc := c.Infra.Compose
	if cc == nil {
		return
	}
	if cc.Host == "" && cc.Address == "" && c.Cluster != nil && len(c.Cluster.Servers) > 0 {
		cc.Host = c.Cluster.Servers[0].Name
	}
	setString(&cc.DataDir, DefaultComposeDataDir)
	setString(&cc.WaitTimeout, DefaultComposeWaitTimeout)
	if cc.SSH != nil {
		setInt(&cc.SSH.Port, DefaultSSHPort)
		setString(&cc.SSH.ConnectTimeout, DefaultSSHTimeout)
	}
	addr, _, _ := ComposeHost(c)
	setString(&cc.BindAddress, addr)
	setString(&c.Infra.HostAddress, addr)
	if cc.Services == nil {
		cc.Services = &ComposeServices{}
		for _, hs := range inClusterInfra(c) {
			switch hs.Name {
			case "postgresql":
				cc.Services.Postgres = &ComposeService{}
			case "redis":
				cc.Services.Redis = &RedisService{}
			case "qdrant":
				cc.Services.Qdrant = &ComposeService{}
			case "minio":
				cc.Services.MinIO = &MinIOService{}
			}
		}
	}
	s := cc.Services
	if p := s.Postgres; p != nil {
		setString(&p.Image, DefaultPostgresImage)
		setString(&p.MemoryLimit, "2g")
	}
	if r := s.Redis; r != nil {
		setString(&r.Image, DefaultRedisImage)
		setString(&r.MemoryLimit, "3g")
		setString(&r.MaxMemory, DefaultRedisMaxMemory)
		setString(&r.MaxMemoryPolicy, DefaultRedisPolicy)
	}
	if q := s.Qdrant; q != nil {
		setString(&q.Image, DefaultQdrantImage)
		setString(&q.MemoryLimit, "2g")
	}
	if m := s.MinIO; m != nil {
		setString(&m.Image, DefaultMinIOImage)
		setString(&m.MemoryLimit, "2g")
		setInt(&m.ConsolePort, DefaultMinIOConsolePort)
		setString(&m.InitImage, DefaultMinIOInitImage)
	}
	if b := cc.Backup; b != nil {
		setString(&b.Time, DefaultBackupTime)
		setInt(&b.RetentionDays, DefaultBackupRetention)
		setString(&b.Dir, path.Join(cc.DataDir, "backups"))
	}
}

// ComposeHost is the compose host's address, pinned host key and SSH settings (a cluster
// node's, or infra.compose.address's); empty when it cannot be found (validation says why).
func ComposeHost(c *Config) (address, hostKey string, ssh *SSHConfig) {
	cc := c.Infra.Compose
	if cc == nil {
		return "", "", nil
	}
	ssh = cc.SSH
	if ssh == nil && c.Cluster != nil {
		ssh = &c.Cluster.SSH
	}
	if cc.Address != "" {
		return cc.Address, cc.HostKey, ssh
	}
	for _, n := range clusterNodes(c) {
		if n.Name == cc.Host {
			return n.Address, n.HostKey, ssh
		}
	}
	return "", "", ssh
}

// clusterNodes are the cluster's servers, then its agents (none without a cluster).
func clusterNodes(c *Config) []NodeConfig {
	if c.Cluster == nil {
		return nil
	}
	return append(append([]NodeConfig(nil), c.Cluster.Servers...), c.Cluster.Agents...)
}

// ComposeServiceNames lists the services the project runs, by compose name, sorted.
func ComposeServiceNames(c *Config) []string {
	cc := c.Infra.Compose
	if cc == nil || cc.Services == nil {
		return nil
	}
	var out []string
	s := cc.Services
	for name, on := range map[string]bool{"postgres": s.Postgres != nil, "redis": s.Redis != nil, "qdrant": s.Qdrant != nil, "minio": s.MinIO != nil} {
		if on {
			out = append(out, name)
		}
	}
	for _, env := range c.SideEnvironments() { // each environment beside: its own Redis and Qdrant
		for _, e := range ownEntries(sideConfig(c, env).Infra) {
			out = append(out, e.compose)
		}
	}
	slices.Sort(out)
	return out
}

// validateCompose reports every problem of infra.compose.
func validateCompose(p *problemList, c *Config) {
	cc := c.Infra.Compose
	if cc == nil {
		return
	}
	const key = "infra.compose"
	switch {
	case cc.Host != "" && cc.Address != "":
		p.add(key+".address", cc.Address, "and infra.compose.host %q both name the host; keep one", cc.Host)
	case cc.Address != "":
		validateHostAddress(p, key+".address", cc.Address)
		validateHostKey(p, key+".hostKey", cc.HostKey)
		if cc.SSH == nil && c.Cluster == nil {
			p.add(key+".ssh", nil, "is required for a compose host outside a cluster: ssh: {user: <user with passwordless sudo>}")
		}
	case c.Cluster == nil:
		p.add(key+".address", nil, "is required without site.cluster: the IP address of the host that runs Docker (with hostKey and ssh)")
	default:
		if addr, _, _ := ComposeHost(c); addr == "" {
			var names []string
			for _, n := range clusterNodes(c) {
				names = append(names, n.Name)
			}
			p.add(key+".host", cc.Host, "is not a node of site.cluster; use one of %s, or address + hostKey for another host", strings.Join(names, ", "))
		}
		if cc.HostKey != "" {
			p.add(key+".hostKey", cc.HostKey, "is only used with infra.compose.address; a cluster node's key is its hostKey under site.cluster")
		}
		if cc.SSH != nil {
			p.add(key+".ssh", nil, "is only used with infra.compose.address; the cluster's nodes are reached with site.cluster.ssh")
		}
	}
	if s := cc.SSH; s != nil && cc.Address != "" {
		if s.User == "" {
			p.add(key+".ssh.user", nil, "is required: the user the program logs in as (it needs passwordless sudo)")
		} else if !sshUser.MatchString(s.User) {
			p.add(key+".ssh.user", s.User, "must be a Unix user name")
		}
		validatePort(p, key+".ssh.port", s.Port)
		if d, err := time.ParseDuration(s.ConnectTimeout); err != nil || d < time.Second || d > 5*time.Minute {
			p.add(key+".ssh.connectTimeout", s.ConnectTimeout, "must be a Go duration from 1s to 5m, e.g. \"10s\"")
		}
		if s.Bastion != nil {
			p.add(key+".ssh.bastion", nil, "is not supported for the compose host; reach it directly or make it a cluster node")
		}
	}
	if d := cc.DataDir; !path.IsAbs(d) || path.Clean(d) != d || d == "/" || strings.ContainsAny(d, " \t\n'\"$`\\") {
		p.add(key+".dataDir", d, "must be an absolute, clean directory path other than / without spaces or quotes, e.g. %q", DefaultComposeDataDir)
	}
	addr, _, _ := ComposeHost(c)
	if ip := net.ParseIP(cc.BindAddress); ip == nil || ip.To4() == nil || (ip.IsLoopback()) {
		p.add(key+".bindAddress", cc.BindAddress, "must be an IPv4 address of the compose host that the cluster's nodes reach (default: the host's address); 0.0.0.0 publishes on every interface")
	}
	if addr != "" && c.Infra.HostAddress != addr {
		p.add("infra.hostAddress", c.Infra.HostAddress, "differs from the compose host's address %s; the in-cluster infra Services point at the compose host: remove infra.hostAddress", addr)
	}
	if d, err := time.ParseDuration(cc.WaitTimeout); err != nil || d < 10*time.Second || d > time.Hour {
		p.add(key+".waitTimeout", cc.WaitTimeout, "must be a Go duration from 10s to 1h, e.g. \"5m\"")
	}
	validateComposeServices(p, c)
	if b := cc.Backup; b != nil {
		if !clockTime.MatchString(b.Time) {
			p.add(key+".backup.time", b.Time, "must be a time of day \"HH:MM\" (24 h, the host's local time), e.g. \"03:00\"")
		}
		if b.RetentionDays < 1 || b.RetentionDays > 3650 {
			p.add(key+".backup.retentionDays", b.RetentionDays, "must be from 1 to 3650 days")
		}
		if !path.IsAbs(b.Dir) || path.Clean(b.Dir) != b.Dir || b.Dir == "/" || strings.ContainsAny(b.Dir, " \t\n'\"$`\\") {
			p.add(key+".backup.dir", b.Dir, "must be an absolute, clean directory path without spaces or quotes, e.g. \"/srv/backups\"")
		}
		if cc.Services.Postgres == nil && cc.Services.Qdrant == nil {
			p.add(key+".backup", nil, "has nothing to back up: the project runs neither postgres nor qdrant; remove it")
		}
	}
}

// validateComposeServices: images pinned, sizes in their units, ports distinct, and the
// project serves exactly the endpoints the site reaches by in-cluster name.
func validateComposeServices(p *problemList, c *Config) {
	cc := c.Infra.Compose
	const key = "infra.compose.services"
	s := cc.Services
	image := func(path, img string) {
		switch {
		case !pinnedImage.MatchString(img):
			p.add(path, img, "must be an image with a pinned tag or digest, e.g. %q (latest and untagged images change under you)", DefaultPostgresImage)
		case strings.HasSuffix(img, ":latest"):
			p.add(path, img, "pin a release tag instead of latest (a host that pulls again gets another version)")
		}
	}
	memory := func(path, v string) {
		if !composeBytes.MatchString(v) {
			p.add(path, v, "must be a Compose memory size: a number and b, k, m or g, e.g. \"2g\"")
		}
	}
	if v := s.Postgres; v != nil {
		image(key+".postgres.image", v.Image)
		memory(key+".postgres.memoryLimit", v.MemoryLimit)
	}
	if v := s.Redis; v != nil {
		image(key+".redis.image", v.Image)
		memory(key+".redis.memoryLimit", v.MemoryLimit)
		if !redisBytes.MatchString(v.MaxMemory) {
			p.add(key+".redis.maxMemory", v.MaxMemory, "must be a Redis size: a number with an optional kb, mb or gb, e.g. \"2gb\"")
		}
		if !slices.Contains(RedisPolicies, v.MaxMemoryPolicy) {
			p.add(key+".redis.maxMemoryPolicy", v.MaxMemoryPolicy, "use one of %s", strings.Join(RedisPolicies, ", "))
		}
	}
	if v := s.Qdrant; v != nil {
		image(key+".qdrant.image", v.Image)
		memory(key+".qdrant.memoryLimit", v.MemoryLimit)
	}
	if v := s.MinIO; v != nil {
		image(key+".minio.image", v.Image)
		image(key+".minio.initImage", v.InitImage)
		memory(key+".minio.memoryLimit", v.MemoryLimit)
		validatePort(p, key+".minio.consolePort", v.ConsolePort)
	}

	// Served exactly the in-cluster endpoints.
	running := ComposeServiceNames(c)
	for _, e := range infraEntries(c.Infra) {
		inCluster, runs := e.host == clusterHost(e.service, c.Infra.Namespace), slices.Contains(running, e.compose)
		switch {
		case runs && !inCluster:
			p.add(key+"."+e.compose, nil, "runs on the compose host, but %s points elsewhere; remove this service, or leave %s at its default (the in-cluster name)", e.hostKey, e.hostKey)
		case inCluster && !runs:
			p.add(key, nil, "has no %s, but %s is the in-cluster name, which only the compose project would serve; add services.%s: {} or set %s to the external address", e.compose, e.hostKey, e.compose, e.hostKey)
		}
	}

	// Every published port once on the host.
	ports := map[int]string{}
	publish := func(path string, port int) {
		if prev, dup := ports[port]; dup && port != 0 {
			p.add(path, port, "is also published by %s; each port is published once on the compose host", prev)
		}
		ports[port] = path
	}
	// The exporters' ports are fixed: a configured port that meets one is the key named.
	postgres, redis := c.ComposeExporters()
	if postgres {
		publish("the PostgreSQL exporter of the observability add-on", hostdefaults.PostgresExporterPort)
	}
	if redis {
		publish("the Redis exporter of the observability add-on", hostdefaults.RedisExporterPort)
	}
	for _, e := range infraEntries(c.Infra) {
		if e.host != clusterHost(e.service, c.Infra.Namespace) {
			continue
		}
		for _, hp := range e.ports {
			publish(infraPortKey(e, hp.Name), hp.Port)
		}
	}
	if v := s.MinIO; v != nil {
		publish(key+".minio.consolePort", v.ConsolePort)
	}
}

// infraPortKey is the config key that sets one port of an infra endpoint.
func infraPortKey(e infraEntry, port string) string {
	switch {
	case e.endpoint == "objectStorage":
		return "infra.objectStorage.endpoint"
	case port == "grpc":
		return "infra." + e.endpoint + ".grpcPort"
	default:
		return "infra." + e.endpoint + ".port"
	}
}
