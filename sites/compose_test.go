package sites

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
)

// composeSite is a site with a one-server cluster and infra.compose (lines under compose:).
func composeSite(composeYAML string) string { return composeSiteInfra("", composeYAML) }

// composeSiteInfra also has other infra lines (two-space indented) before compose.
func composeSiteInfra(infraLines, composeYAML string) string {
	return clusterSite(oneServer) + "infra:\n" + infraLines + "  compose:\n" + composeYAML
}

func TestComposeDefaults(t *testing.T) {
	site := mustParse(t, composeSite("    backup: {}\n"))
	cc := site.Config.Infra.Compose
	if cc.Host != "s1" || cc.DataDir != DefaultComposeDataDir || cc.BindAddress != "10.0.0.11" || cc.WaitTimeout != "5m" || cc.RemoveDataOnDestroy {
		t.Errorf("defaults: %+v", cc)
	}
	if got := ComposeServiceNames(&site.Config); !slices.Equal(got, []string{"minio", "postgres", "qdrant", "redis"}) {
		t.Errorf("services = %v, want every in-cluster endpoint", got)
	}
	s := cc.Services
	if s.Postgres.Image != "postgres:15.4" || s.Redis.Image != "redis:8.0-alpine" || s.Redis.MaxMemory != "2gb" || s.Redis.MaxMemoryPolicy != "allkeys-lru" ||
		s.MinIO.ConsolePort != 9001 || !strings.Contains(s.Qdrant.Image, ":v") || !strings.Contains(s.MinIO.InitImage, "minio/mc:RELEASE.") {
		t.Errorf("service defaults: %+v %+v %+v %+v", s.Postgres, s.Redis, s.Qdrant, s.MinIO)
	}
	if b := cc.Backup; b.Time != "03:00" || b.RetentionDays != 7 || b.Dir != "/srv/xgen-infra/backups" {
		t.Errorf("backup defaults: %+v", b)
	}
	if site.Config.Infra.HostAddress != "10.0.0.11" || len(site.HostServices) != 4 {
		t.Errorf("host address %q, host services %v", site.Config.Infra.HostAddress, site.HostServices)
	}
}

// An agent as the compose host: the in-cluster Services point at it, not at the server.
func TestComposeOnAnAgent(t *testing.T) {
	site := mustParse(t, clusterSite(oneServer+"  agents: [{name: a1, address: 10.0.0.21, hostKey: '"+hostKey+"'}]\n")+
		"infra:\n  compose: {host: a1}\n")
	if site.Config.Infra.HostAddress != "10.0.0.21" || site.Config.Infra.Compose.BindAddress != "10.0.0.21" {
		t.Errorf("host address %q bind %q, want the agent's", site.Config.Infra.HostAddress, site.Config.Infra.Compose.BindAddress)
	}
}

// A site with an external database runs only what it reaches by in-cluster name.
func TestComposeLeavesOutExternalEndpoints(t *testing.T) {
	site := mustParse(t, composeSiteInfra("  postgres: {host: 10.0.0.70}\n", "    dataDir: /data/xgen\n"))
	if got := ComposeServiceNames(&site.Config); !slices.Equal(got, []string{"minio", "qdrant", "redis"}) {
		t.Errorf("services = %v, want no postgres", got)
	}
	for _, hs := range site.HostServices {
		if hs.Name == "postgresql" {
			t.Error("an in-cluster Service for the external database")
		}
	}
}

func TestComposeSecrets(t *testing.T) {
	required := func(siteYAML string) []string {
		js, err := yamlToJSON([]byte(siteYAML))
		if err != nil {
			t.Fatal(err)
		}
		keys, err := RequiredSecrets(map[string]string{SiteKey: string(js)})
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}
	if keys := required(composeSite("    backup: {}\n")); !slices.Contains(keys, "postgresAdminPassword") || !slices.Contains(keys, "sshPrivateKey") {
		t.Errorf("with compose postgres: %v", keys)
	}
	if keys := required(composeSiteInfra("  postgres: {host: 10.0.0.70}\n", "    services: {redis: {}, qdrant: {}, minio: {}}\n")); slices.Contains(keys, "postgresAdminPassword") {
		t.Errorf("postgresAdminPassword asked for without a compose postgres: %v", keys)
	}
	// A compose host outside any cluster needs the SSH key too.
	outside := minimalSite + "infra:\n  compose: {address: 10.0.0.50, hostKey: '" + hostKey + "', ssh: {user: ops}}\n"
	if keys := required(outside); !slices.Contains(keys, "sshPrivateKey") || !slices.Contains(keys, "kubeconfig") {
		t.Errorf("compose host outside a cluster: %v", keys)
	}
	site := mustParse(t, outside)
	if addr, key, ssh := ComposeHost(&site.Config); addr != "10.0.0.50" || key != hostKey || ssh.User != "ops" || ssh.Port != 22 {
		t.Errorf("compose host = %s %s %+v", addr, key, ssh)
	}
}

func TestBadComposeConfigs(t *testing.T) {
	cases := []badConfig{
		{"host and address", composeSite("    host: s1\n    address: 10.0.0.50\n"), "site.infra.compose.address", "keep one"},
		{"unknown host", composeSite("    host: db-1\n"), "site.infra.compose.host", "not a node of site.cluster; use one of s1"},
		{"no host without cluster", minimalSite + "infra:\n  compose: {}\n", "site.infra.compose.address", "is required without site.cluster"},
		{"address without key", minimalSite + "infra:\n  compose: {address: 10.0.0.50, ssh: {user: ops}}\n", "site.infra.compose.hostKey", "ssh-keyscan"},
		{"address without ssh", minimalSite + "infra:\n  compose: {address: 10.0.0.50, hostKey: '" + hostKey + "'}\n", "site.infra.compose.ssh", "is required"},
		{"loopback address", minimalSite + "infra:\n  compose: {address: 127.0.0.1, hostKey: '" + hostKey + "', ssh: {user: ops}}\n", "site.infra.compose.address", "not loopback"},
		{"host key on a node", composeSite("    hostKey: '" + hostKey + "'\n"), "site.infra.compose.hostKey", "only used with infra.compose.address"},
		{"relative data dir", composeSite("    dataDir: data/xgen\n"), "site.infra.compose.dataDir", "absolute"},
		{"root data dir", composeSite("    dataDir: /\n"), "site.infra.compose.dataDir", "other than /"},
		{"bind address", composeSite("    bindAddress: 127.0.0.1\n"), "site.infra.compose.bindAddress", "IPv4 address of the compose host"},
		{"host address differs", composeSiteInfra("  hostAddress: 10.0.0.99\n", "    dataDir: /srv/x\n"), "site.infra.hostAddress", "differs from the compose host's address 10.0.0.11"},
		{"latest image", composeSite("    services: {postgres: {image: 'postgres:latest'}, redis: {}, qdrant: {}, minio: {}}\n"), "site.infra.compose.services.postgres.image", "pin a release tag"},
		{"untagged image", composeSite("    services: {postgres: {}, redis: {image: redis}, qdrant: {}, minio: {}}\n"), "site.infra.compose.services.redis.image", "pinned tag or digest"},
		{"memory unit", composeSite("    services: {postgres: {memoryLimit: 2Gi}, redis: {}, qdrant: {}, minio: {}}\n"), "site.infra.compose.services.postgres.memoryLimit", "Compose memory size"},
		{"redis maxmemory", composeSite("    services: {postgres: {}, redis: {maxMemory: 2G}, qdrant: {}, minio: {}}\n"), "site.infra.compose.services.redis.maxMemory", "Redis size"},
		{"redis policy", composeSite("    services: {postgres: {}, redis: {maxMemoryPolicy: lru}, qdrant: {}, minio: {}}\n"), "site.infra.compose.services.redis.maxMemoryPolicy", "allkeys-lru"},
		{"missing service", composeSite("    services: {redis: {}, qdrant: {}, minio: {}}\n"), "site.infra.compose.services", "has no postgres, but infra.postgres.host is the in-cluster name"},
		{"external service listed", composeSiteInfra("  redis: {host: 10.0.0.70}\n", "    services: {postgres: {}, redis: {}, qdrant: {}, minio: {}}\n"), "site.infra.compose.services.redis", "infra.redis.host points elsewhere"},
		{"console port clash", composeSite("    services: {postgres: {}, redis: {}, qdrant: {}, minio: {consolePort: 6379}}\n"), "site.infra.compose.services.minio.consolePort", "also published by"},
		{"wait timeout", composeSite("    waitTimeout: 2s\n"), "site.infra.compose.waitTimeout", "10s to 1h"},
		{"backup time", composeSite("    backup: {time: '3am'}\n"), "site.infra.compose.backup.time", "HH:MM"},
		{"backup retention", composeSite("    backup: {retentionDays: -1}\n"), "site.infra.compose.backup.retentionDays", "1 to 3650"},
		{"backup dir", composeSite("    backup: {dir: backups}\n"), "site.infra.compose.backup.dir", "absolute"},
		{"backup with nothing to back up", composeSiteInfra("  postgres: {host: 10.0.0.70}\n  qdrant: {host: 10.0.0.70}\n", "    backup: {}\n"), "site.infra.compose.backup", "nothing to back up"},
		{"ssh on a node", composeSite("    ssh: {user: other}\n"), "site.infra.compose.ssh", "site.cluster.ssh"},
	}
	checkBadConfigs(t, cases)
}

// With the observability add-on the compose project runs the exporters of what it runs: the
// host Services get their metrics port, Prometheus their addresses, the bundle their images.
func TestComposeExporters(t *testing.T) {
	obs := clusterSite(oneServer + "  addons: {observability: {enabled: true}}\n")
	for _, tc := range []struct {
		name, site string
		want       map[string]int // host Service -> metrics port
		images     []string
	}{
		{"observability", obs + "infra:\n  compose: {}\n",
			map[string]int{"postgresql": 9187, "redis": 9121}, []string{"postgres-exporter", "redis-exporter"}},
		{"external database", obs + "infra:\n  postgres: {host: 10.0.0.70}\n  compose: {}\n",
			map[string]int{"redis": 9121}, []string{"redis-exporter"}},
		{"no observability", composeSite("    dataDir: /srv/x\n"), map[string]int{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			site := mustParse(t, tc.site)
			got := map[string]int{}
			for _, hs := range site.HostServices {
				if port := site.HostPort(hs.Name, MetricsPortName); port != 0 {
					got[hs.Name] = port
				}
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("metrics ports %v, want %v", got, tc.want)
			}
			exporters := map[string]string{}
			for _, e := range site.InfraExporters() {
				exporters[e.Name] = e.Address
			}
			for svc, port := range tc.want {
				endpoint := map[string]string{"postgresql": "postgres", "redis": "redis"}[svc]
				if want := fmt.Sprintf("%s.xgen-system.svc.cluster.local:%d", svc, port); exporters[endpoint] != want {
					t.Errorf("exporter of %s at %q, want %q", endpoint, exporters[endpoint], want)
				}
			}
			if len(exporters) != len(tc.want) {
				t.Errorf("exporters %v, want %d", exporters, len(tc.want))
			}
			images, err := site.Images()
			if err != nil {
				t.Fatal(err)
			}
			var docker []string
			for _, im := range images {
				if strings.HasSuffix(im.For, "-exporter") && im.Runtime == RuntimeDocker {
					docker = append(docker, im.For)
				}
			}
			if !slices.Equal(docker, tc.images) {
				t.Errorf("exporter images in Docker %v, want %v", docker, tc.images)
			}
		})
	}
	obsCompose := func(infra, observability string) string {
		return clusterSite(oneServer+"  addons: {observability: {enabled: true"+observability+"}}\n") + "infra:\n" + infra + "  compose: {}\n"
	}
	const k = "site.cluster.addons.observability.images."
	checkBadConfigs(t, []badConfig{
		{"postgres exporter without postgres", obsCompose("  postgres: {host: 10.0.0.70}\n", ", images: {postgresExporter: 'quay.io/prometheuscommunity/postgres-exporter:v0.17.1'}"), k + "postgresExporter", "runs no PostgreSQL"},
		{"redis exporter without compose", clusterSite(oneServer + "  addons: {observability: {enabled: true, images: {redisExporter: 'oliver006/redis_exporter:v1.74.0'}}}\n"), k + "redisExporter", "runs no Redis"},
		{"exporter image unpinned", obsCompose("", ", images: {redisExporter: oliver006/redis_exporter}"), k + "redisExporter", "pinned tag"},
		{"a port of an exporter", obsCompose("  redis: {port: 9187}\n", ""), "site.infra.redis.port", "also published by the PostgreSQL exporter"},
	})
}

func TestComposeBogusFieldFixture(t *testing.T) {
	data, err := os.ReadFile("testdata/compose-bogus-field.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = parseSite(t, string(data))
	if err == nil || !strings.Contains(err.Error(), "xgen-infra:site.infra.compose.services.redis.maxmemory") || !strings.Contains(err.Error(), `did you mean "maxMemory"`) {
		t.Errorf("a misspelt compose field: %v", err)
	}
}

func TestComposePlaceholderAddress(t *testing.T) {
	site := mustParse(t, minimalSite+"infra:\n  compose: {address: 192.0.2.50, hostKey: '"+hostKey+"', ssh: {user: ops}}\n")
	if !slices.Contains(site.Placeholders, "xgen-infra:site.infra.compose.address: 192.0.2.50") {
		t.Errorf("placeholders = %v", site.Placeholders)
	}
}
