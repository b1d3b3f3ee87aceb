// Package compose builds the Docker Compose project that runs the stateful services on a
// site's host (PostgreSQL, Redis, Qdrant, MinIO), from compose-go's types, and the exact host
// commands that manage it (package hostscript). Everything here is a pure function of its
// inputs; secrets only ever reach the .env text (Env), never the compose file or a command.
package compose

import (
	"bytes"
	_ "embed"
	"fmt"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"xgen-infra/components/hostdefaults"

	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
)

var (
	//go:embed container/initdb.sh
	initDBScript string
	//go:embed container/redis-entrypoint.sh
	redisEntrypoint string
)

// DefaultProject is the compose project name.
const DefaultProject = "xgen-infra"

// Spec is the project. Nil services do not run.
type Spec struct {
	// Name is the compose project name. Default DefaultProject.
	Name string
	// DataDir holds the project's files and every service's data. Required.
	DataDir string
	// BindAddress is where the ports are published. Required.
	BindAddress string
	Postgres    *Postgres
	Redis       *Redis
	Qdrant      *Qdrant
	MinIO       *MinIO
	// Exporters, when set, run Prometheus' PostgreSQL and Redis exporters next to the
	// services they watch (the observability add-on scrapes them through the host Services).
	Exporters *Exporters
	// Environments are the site's environments deployed beside its own, each with its own
	// database and role in Postgres, its own Redis (redis-<name>) and Qdrant (qdrant-<name>)
	// on their own ports and volumes, from the same images and limits. Needs Postgres, Redis
	// and Qdrant.
	Environments []Environment
}

// Environment is the data of one environment deployed beside the site's own.
type Environment struct {
	Name           string
	Database, User string
	RedisPort      int
	QdrantHTTPPort int
	QdrantGRPCPort int
	// DBPasswordEnv and RedisPasswordEnv are the .env variables of its role's and its Redis'
	// passwords (sites.SecretKeys' names for the environment's secrets). Required.
	DBPasswordEnv, RedisPasswordEnv string
}

// envVar is a variable of environment env in the postgres container (what initdb.sh reads
// for each name in XGEN_ENVIRONMENTS): XGEN_DB → XGEN_DB_PRD.
func envVar(name, env string) string { return name + "_" + strings.ToUpper(env) }

// Exporters are the metrics exporters of the project's PostgreSQL and Redis (each only when
// its service runs), published on BindAddress at PostgresExporterPort and RedisExporterPort.
type Exporters struct {
	PostgresImage, RedisImage string
}

// The exporters' ports, on the host as in their containers (decided in hostdefaults).
const (
	PostgresExporterPort = hostdefaults.PostgresExporterPort
	RedisExporterPort    = hostdefaults.RedisExporterPort
)

// Postgres is PostgreSQL with the application's database and role.
type Postgres struct {
	Image, MemoryLimit string
	// Port published on the host.
	Port int
	// Database and User the applications use (created by the init script).
	Database, User string
}

// Redis is Redis with a password and a memory policy.
type Redis struct {
	Image, MemoryLimit         string
	Port                       int
	MaxMemory, MaxMemoryPolicy string
}

// Qdrant is the vector database.
type Qdrant struct {
	Image, MemoryLimit string
	HTTPPort, GRPCPort int
}

// MinIO is object storage and the one-shot service that creates the buckets.
type MinIO struct {
	Image, InitImage, MemoryLimit string
	Port, ConsolePort             int
	Buckets                       []string
}

// The labels every compose service's log lines carry (Docker sets them on the containers).
const (
	LogLabelProject = "com.docker.compose.project"
	LogLabelService = "com.docker.compose.service"
)

// DefaultWaitTimeout bounds `docker compose up --wait` (decided in hostdefaults).
const DefaultWaitTimeout = hostdefaults.ComposeWaitTimeout

// The .env variables that carry MinIO's root credentials; the minio-init alias
// (MinIOClientHostEnv) is made from them.
const (
	MinIORootUserEnv     = "XGEN_MINIO_ROOT_USER"
	MinIORootPasswordEnv = "XGEN_MINIO_ROOT_PASSWORD"
	minIOClientHostEnv   = "XGEN_MINIO_MC_HOST"
)

// Files of the project, relative to DataDir.
const (
	ComposeFile     = "compose.yaml"
	EnvFile         = ".env"
	InitDBFile      = "initdb/10-xgen-app.sh"
	RedisEntrypoint = "redis-entrypoint.sh"
	VolumesDir      = "volumes"
)

// Container ports (fixed by the images).
const (
	postgresPort    = 5432
	redisPort       = 6379
	qdrantHTTPPort  = 6333
	qdrantGRPCPort  = 6334
	minioPort       = 9000
	minioConsoleAPI = 9001
)

// ProjectName is Name or the default.
func (s Spec) ProjectName() string {
	if s.Name == "" {
		return DefaultProject
	}
	return s.Name
}

// Services lists the compose services that run (minio-init is a one-shot, not listed).
func (s Spec) Services() []string {
	var out []string
	for name, on := range map[string]bool{"postgres": s.Postgres != nil, "redis": s.Redis != nil, "qdrant": s.Qdrant != nil, "minio": s.MinIO != nil} {
		if on {
			out = append(out, name)
		}
	}
	for _, e := range s.Environments {
		out = append(out, "redis-"+e.Name, "qdrant-"+e.Name)
	}
	sort.Strings(out)
	return out
}

// Volumes lists the data directories (under DataDir/volumes), one per running service.
func (s Spec) Volumes() []string {
	var out []string
	for _, svc := range s.Services() {
		out = append(out, svc)
		if strings.HasPrefix(svc, "qdrant") {
			out = append(out, svc+"-snapshots")
		}
	}
	return out
}

// Project is the compose project as compose-go types.
func (s Spec) Project() *types.Project {
	p := &types.Project{Name: s.ProjectName(), Services: types.Services{}, Volumes: types.Volumes{}}
	dir := s.DataDir
	volume := func(name, target string) types.ServiceVolumeConfig {
		p.Volumes[name] = types.VolumeConfig{Driver: "local", DriverOpts: types.Options{
			"type": "none", "o": "bind", "device": path.Join(dir, VolumesDir, name),
		}}
		return types.ServiceVolumeConfig{Type: types.VolumeTypeVolume, Source: name, Target: target}
	}
	bind := func(file, target string) types.ServiceVolumeConfig {
		return types.ServiceVolumeConfig{Type: types.VolumeTypeBind, Source: path.Join(dir, file), Target: target, ReadOnly: true}
	}
	port := func(published, target int) types.ServicePortConfig {
		return types.ServicePortConfig{HostIP: s.BindAddress, Published: strconv.Itoa(published), Target: uint32(target), Protocol: "tcp"}
	}
	str := func(v string) *string { return &v }
	// ${VAR:?...}: Compose refuses to start the project without the .env that sets it.
	required := func(v string) *string { return str("${" + v + ":?is set in " + EnvFile + "}") }
	add := func(name, image, memory string, c types.ContainerSpec, w types.WorkloadSpec) {
		svc := types.ServiceConfig{Name: name, Restart: types.RestartPolicyUnlessStopped, ContainerSpec: c, WorkloadSpec: w}
		svc.Image = image
		svc.MemLimit = parseBytes(memory)
		// Rotated logs: a chatty service must not fill the host's disk. Each line carries
		// the project and service (json-file's "labels"): what the observability add-on's
		// collector labels the compose services' logs by.
		svc.Logging = &types.LoggingConfig{Driver: "json-file", Options: types.Options{"max-size": "10m", "max-file": "3",
			"labels": LogLabelProject + "," + LogLabelService}}
		p.Services[name] = svc
	}
	if pg := s.Postgres; pg != nil {
		env := types.MappingWithEquals{
			"POSTGRES_USER":     str("postgres"),
			"POSTGRES_PASSWORD": required("XGEN_POSTGRES_ADMIN_PASSWORD"),
			"XGEN_DB":           str(pg.Database),
			"XGEN_DB_USER":      str(pg.User),
			"XGEN_DB_PASSWORD":  required("XGEN_DB_PASSWORD"),
		}
		// Each environment beside: its database, role and password, under suffixed names
		// that initdb.sh reads for each name in XGEN_ENVIRONMENTS.
		var names []string
		for _, e := range s.Environments {
			names = append(names, e.Name)
			env[envVar("XGEN_DB", e.Name)] = str(e.Database)
			env[envVar("XGEN_DB_USER", e.Name)] = str(e.User)
			env[envVar("XGEN_DB_PASSWORD", e.Name)] = required(e.DBPasswordEnv)
		}
		if len(names) > 0 {
			env["XGEN_ENVIRONMENTS"] = str(strings.Join(names, " "))
		}
		add("postgres", pg.Image, pg.MemoryLimit, types.ContainerSpec{
			Environment: env,
			Volumes: []types.ServiceVolumeConfig{
				volume("postgres", "/var/lib/postgresql/data"),
				bind(path.Dir(InitDBFile), "/docker-entrypoint-initdb.d"),
			},
		}, types.WorkloadSpec{
			Ports: []types.ServicePortConfig{port(pg.Port, postgresPort)},
			// Over TCP: during initialisation the server listens on its socket only, so
			// the service is not healthy before the init scripts have run.
			HealthCheck: health(types.HealthCheckTest{"CMD-SHELL", "pg_isready -h 127.0.0.1 -p 5432 -U postgres -d postgres"}, 30*time.Second),
		})
	}
	addRedis := func(name, passwordEnv string, hostPort int) {
		r := s.Redis
		add(name, r.Image, r.MemoryLimit, types.ContainerSpec{
			// The entrypoint writes the password into a config file on a tmpfs: it is never
			// an argument (visible in every process list of the host).
			Entrypoint: types.ShellCommand{"/bin/sh", "/xgen/redis-entrypoint.sh"},
			Environment: types.MappingWithEquals{
				"REDISCLI_AUTH":         required(passwordEnv),
				"XGEN_REDIS_MAXMEMORY":  str(r.MaxMemory),
				"XGEN_REDIS_POLICY":     str(r.MaxMemoryPolicy),
				"XGEN_REDIS_CONFIG_DIR": str("/run/xgen-redis"),
			},
			Tmpfs:   types.StringList{"/run/xgen-redis:mode=0700,uid=999"},
			Volumes: []types.ServiceVolumeConfig{volume(name, "/data"), bind(RedisEntrypoint, "/xgen/redis-entrypoint.sh")},
		}, types.WorkloadSpec{
			Ports: []types.ServicePortConfig{port(hostPort, redisPort)},
			// redis-cli reads the password from REDISCLI_AUTH; NOAUTH would print no PONG.
			HealthCheck: health(types.HealthCheckTest{"CMD-SHELL", "redis-cli ping | grep -q PONG"}, 10*time.Second),
		})
	}
	addQdrant := func(name string, httpPort, grpcPort int) {
		q := s.Qdrant
		add(name, q.Image, q.MemoryLimit, types.ContainerSpec{
			Volumes: []types.ServiceVolumeConfig{volume(name, "/qdrant/storage"), volume(name+"-snapshots", "/qdrant/snapshots")},
		}, types.WorkloadSpec{
			Ports: []types.ServicePortConfig{port(httpPort, qdrantHTTPPort), port(grpcPort, qdrantGRPCPort)},
			// The image has no curl or wget; bash can open a TCP connection itself.
			HealthCheck: health(types.HealthCheckTest{"CMD-SHELL", "bash -c ':> /dev/tcp/127.0.0.1/6333' || exit 1"}, 20*time.Second),
		})
	}
	if r := s.Redis; r != nil {
		addRedis("redis", "XGEN_REDIS_PASSWORD", r.Port)
	}
	if q := s.Qdrant; q != nil {
		addQdrant("qdrant", q.HTTPPort, q.GRPCPort)
	}
	for _, e := range s.Environments {
		if s.Redis != nil {
			addRedis("redis-"+e.Name, e.RedisPasswordEnv, e.RedisPort)
		}
		if s.Qdrant != nil {
			addQdrant("qdrant-"+e.Name, e.QdrantHTTPPort, e.QdrantGRPCPort)
		}
	}
	if e := s.Exporters; e != nil {
		// The exporters need no root, no capability and no writable file.
		hardened := func(c types.ContainerSpec) types.ContainerSpec {
			c.User = "65534:65534"
			c.ReadOnly = true
			c.CapDrop = []string{"ALL"}
			c.SecurityOpt = []string{"no-new-privileges:true"}
			return c
		}
		after := func(svc string) types.DependsOnConfig {
			return types.DependsOnConfig{svc: {Condition: types.ServiceConditionHealthy, Required: true}}
		}
		if s.Postgres != nil {
			add("postgres-exporter", e.PostgresImage, "64m", hardened(types.ContainerSpec{
				// The password reaches the exporter from .env, never an argument.
				Environment: types.MappingWithEquals{
					"DATA_SOURCE_URI":  str(fmt.Sprintf("postgres:%d/postgres?sslmode=disable", postgresPort)),
					"DATA_SOURCE_USER": str("postgres"),
					"DATA_SOURCE_PASS": required("XGEN_POSTGRES_ADMIN_PASSWORD"),
				},
			}), types.WorkloadSpec{Ports: []types.ServicePortConfig{port(PostgresExporterPort, PostgresExporterPort)}, DependsOn: after("postgres")})
		}
		if s.Redis != nil {
			add("redis-exporter", e.RedisImage, "64m", hardened(types.ContainerSpec{
				Environment: types.MappingWithEquals{
					"REDIS_ADDR":     str(fmt.Sprintf("redis://redis:%d", redisPort)),
					"REDIS_PASSWORD": required("XGEN_REDIS_PASSWORD"),
				},
			}), types.WorkloadSpec{Ports: []types.ServicePortConfig{port(RedisExporterPort, RedisExporterPort)}, DependsOn: after("redis")})
		}
	}
	if m := s.MinIO; m != nil {
		add("minio", m.Image, m.MemoryLimit, types.ContainerSpec{
			Command: types.ShellCommand{"server", "/data", "--console-address", ":" + strconv.Itoa(minioConsoleAPI)},
			Environment: types.MappingWithEquals{
				"MINIO_ROOT_USER":     required(MinIORootUserEnv),
				"MINIO_ROOT_PASSWORD": required(MinIORootPasswordEnv),
			},
			Volumes: []types.ServiceVolumeConfig{volume("minio", "/data")},
		}, types.WorkloadSpec{
			Ports:       []types.ServicePortConfig{port(m.Port, minioPort), port(m.ConsolePort, minioConsoleAPI)},
			HealthCheck: health(types.HealthCheckTest{"CMD", "mc", "ready", "local"}, 20*time.Second),
		})
		var mb []string
		for _, b := range uniqueSorted(m.Buckets) {
			mb = append(mb, "local/"+b)
		}
		init := types.ServiceConfig{
			Name: "minio-init", Profiles: []string{"init"}, Restart: "no",
			WorkloadSpec: types.WorkloadSpec{DependsOn: types.DependsOnConfig{"minio": {Condition: types.ServiceConditionHealthy, Required: true}}},
			ContainerSpec: types.ContainerSpec{
				Image: m.InitImage,
				// The alias carries the credentials (from .env, URL-escaped): no argument does.
				Environment: types.MappingWithEquals{"MC_HOST_local": required(minIOClientHostEnv)},
				Entrypoint:  types.ShellCommand{"mc"},
				Command:     append(types.ShellCommand{"mb", "--ignore-existing"}, mb...),
			},
		}
		p.Services["minio-init"] = init
	}
	return p
}

func health(test types.HealthCheckTest, startPeriod time.Duration) *types.HealthCheckConfig {
	d := func(v time.Duration) *types.Duration { x := types.Duration(v); return &x }
	retries := uint64(10)
	return &types.HealthCheckConfig{Test: test, Interval: d(10 * time.Second), Timeout: d(5 * time.Second), Retries: &retries, StartPeriod: d(startPeriod)}
}

// YAML is the compose file. It is written in the subset that both Compose v2 and Debian's
// docker-compose 1.29 read (our offline validator): ports in the short form, no top-level
// name (the commands pass -p), no depends_on.required.
func (s Spec) YAML() (string, error) {
	p := s.Project()
	out, err := p.MarshalYAML()
	if err != nil {
		return "", err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(out, &doc); err != nil {
		return "", err
	}
	root := doc.Content[0]
	deleteKey(root, "name")
	services := lookup(root, "services")
	for i := 1; services != nil && i < len(services.Content); i += 2 {
		svc := services.Content[i]
		if deps := lookup(svc, "depends_on"); deps != nil {
			for j := 1; j < len(deps.Content); j += 2 {
				deleteKey(deps.Content[j], "required")
			}
		}
		if ports := lookup(svc, "ports"); ports != nil {
			for j, pn := range ports.Content {
				host, published, target := lookup(pn, "host_ip"), lookup(pn, "published"), lookup(pn, "target")
				short := fmt.Sprintf("%s:%s:%s", host.Value, published.Value, target.Value)
				ports.Content[j] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle, Value: short}
			}
		}
	}
	var b bytes.Buffer
	b.WriteString("# Written by xgen-infra from the site's infra.compose config; edits here are overwritten.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return "", err
	}
	return b.String(), nil
}

func lookup(m *yaml.Node, key string) *yaml.Node {
	for i := 0; m.Kind == yaml.MappingNode && i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func deleteKey(m *yaml.Node, key string) {
	for i := 0; m.Kind == yaml.MappingNode && i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// FileMode is the mode a project file is written with: root's only (0600), but the init
// scripts, which the postgres image's entrypoint runs as its postgres user (uid 999) from
// the bind-mounted directory (0644; they hold no secret: passwords come from the
// environment).
func FileMode(rel string) string {
	if path.Dir(rel) == path.Dir(InitDBFile) {
		return "0644"
	}
	return "0600"
}

// Files are the project's non-secret files by path relative to DataDir.
func (s Spec) Files() (map[string]string, error) {
	y, err := s.YAML()
	if err != nil {
		return nil, err
	}
	files := map[string]string{ComposeFile: y}
	if s.Postgres != nil {
		files[InitDBFile] = initDBScript
	}
	if s.Redis != nil {
		files[RedisEntrypoint] = redisEntrypoint
	}
	return files, nil
}

// SecretEnv are the .env variables the project reads that only the site's secrets give
// (sites.SecretKeys names each one's config key), sorted: what the project's compose file
// refers to as ${NAME:?...}, less what Env derives from them.
func (s Spec) SecretEnv() []string {
	var names []string
	for _, svc := range s.Project().Services {
		for _, v := range svc.Environment {
			if v == nil {
				continue
			}
			if name, ok := strings.CutPrefix(*v, "${"); ok {
				if name, _, ok = strings.Cut(name, ":?"); ok && name != minIOClientHostEnv {
					names = append(names, name)
				}
			}
		}
	}
	return uniqueSorted(names)
}

// Env is the .env file: each variable of SecretEnv from values (by name; a missing one is an
// error), and the minio-init alias made from MinIO's, double-quoted and escaped the way
// Compose's dotenv reader unescapes (no interpolation of $ in values). Values the project
// does not read are left out.
func (s Spec) Env(values map[string]string) (string, error) {
	vars := map[string]string{}
	var missing []string
	for _, name := range s.SecretEnv() {
		v, ok := values[name]
		if !ok {
			missing = append(missing, name)
		}
		vars[name] = v
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("the .env needs %s", strings.Join(missing, ", "))
	}
	if s.MinIO != nil {
		mc := url.URL{Scheme: "http", User: url.UserPassword(vars[MinIORootUserEnv], vars[MinIORootPasswordEnv]), Host: "minio:" + strconv.Itoa(minioPort)}
		vars[minIOClientHostEnv] = mc.String()
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Written by xgen-infra (secrets; mode 0600, root). Edits are overwritten.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, QuoteEnv(vars[k]))
	}
	return b.String(), nil
}

// QuoteEnv double-quotes v for a Compose .env file.
func QuoteEnv(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(v) + `"`
}

// parseBytes reads a validated Compose size ("2g", "512m").
func parseBytes(v string) types.UnitBytes {
	if v == "" {
		return 0
	}
	unit := map[byte]int64{'b': 1, 'k': 1 << 10, 'm': 1 << 20, 'g': 1 << 30}[v[len(v)-1]]
	n, _ := strconv.ParseInt(v[:len(v)-1], 10, 64)
	return types.UnitBytes(n * unit)
}

func uniqueSorted(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}
