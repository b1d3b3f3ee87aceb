package compose

import (
	"embed"
	"fmt"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"

	"xgen-infra/components/hostdefaults"
	"xgen-infra/components/hostscript"
)

//go:embed scripts/*.sh
var scripts embed.FS

// scriptSet is the compose host scripts; log lines read "xgen-infra[host]: ...".
var scriptSet = hostscript.Set{FS: scripts, Tag: "xgen-infra"}

// ScriptNames lists the scripts a command can be built from (without lib), for tests.
func ScriptNames() []string { return scriptSet.Names() }

// JobPath is where the nightly backup job is installed.
func (s Spec) JobPath() string { return "/usr/local/sbin/xgen-infra-backup-" + s.ProjectName() }

// command builds a script with the project's parameters first.
func (s Spec) command(name, host string, params ...hostscript.Param) string {
	base := []hostscript.Param{{Name: "PROJECT", Value: s.ProjectName()}, {Name: "DATA_DIR", Value: s.DataDir}}
	return scriptSet.Command(name, host, append(base, params...)...)
}

func param(name, value string) hostscript.Param { return hostscript.Param{Name: name, Value: value} }

// Ports lists every port the project publishes on the host, ascending.
func (s Spec) Ports() []int {
	var out []int
	if p := s.Postgres; p != nil {
		out = append(out, p.Port)
	}
	if r := s.Redis; r != nil {
		out = append(out, r.Port)
	}
	if q := s.Qdrant; q != nil {
		out = append(out, q.HTTPPort, q.GRPCPort)
	}
	if m := s.MinIO; m != nil {
		out = append(out, m.Port, m.ConsolePort)
	}
	if s.Exporters != nil && s.Postgres != nil {
		out = append(out, PostgresExporterPort)
	}
	if s.Exporters != nil && s.Redis != nil {
		out = append(out, RedisExporterPort)
	}
	slices.Sort(out)
	return out
}

// Preflight checks the host before any change (Docker, Compose >= 2.20, disk, ports).
func (s Spec) Preflight(host string, minDiskMB int, backup bool) string {
	var ports []string
	for _, p := range s.Ports() {
		ports = append(ports, strconv.Itoa(p))
	}
	return s.command("preflight", host, param("PORTS", strings.Join(ports, " ")),
		param("MIN_DISK_MB", strconv.Itoa(minDiskMB)), param("NEED_BACKUP", strconv.FormatBool(backup)))
}

// Placement is the local check of where the project lives (address:DataDir): it refuses a
// move unless allowMove, and a move away from a place deployed with removeData. It runs on
// the operator's machine, not on the host.
func (s Spec) Placement(host, address string, allowMove, removeData bool) string {
	return s.command("placement", host, param("PLACEMENT", address+":"+s.DataDir),
		param("ALLOW_MOVE", strconv.FormatBool(allowMove)), param("REMOVE_DATA", strconv.FormatBool(removeData)))
}

// CreateProject makes the directories and records generation gen.
func (s Spec) CreateProject(host, gen string) string {
	return s.command("project", host, param("VOLUMES", strings.Join(s.Volumes(), " ")), param("GEN", gen))
}

// DeleteProject stops the project; removeData also removes volumes and DataDir.
func (s Spec) DeleteProject(host, gen string, removeData bool) string {
	return s.command("project-delete", host, param("GEN", gen), param("REMOVE_DATA", strconv.FormatBool(removeData)))
}

// WriteFile writes standard input to DataDir/rel as root with mode.
func (s Spec) WriteFile(host, rel, mode string) string {
	return s.command("write-file", host, param("TARGET", path.Join(s.DataDir, rel)), param("MODE", mode))
}

// Up starts the project and waits for it (timeout in seconds), then inits the database and
// the buckets.
func (s Spec) Up(host string, waitTimeoutSeconds int) string {
	return s.command("up", host, param("WAIT_TIMEOUT", strconv.Itoa(waitTimeoutSeconds)),
		param("INIT_DB", strconv.FormatBool(s.Postgres != nil)), param("INIT_BUCKETS", strconv.FormatBool(s.MinIO != nil)))
}

// StagingPrefix is where the compose host's bundle tarballs are uploaded
// (hostscript.StagedPath).
const StagingPrefix = "/var/tmp/xgen-infra"

// StagedPath is where a bundle tarball is uploaded.
func StagedPath(name, sha string) string { return hostscript.StagedPath(StagingPrefix, name, sha) }

// LoadImages has docker load the uploaded tarballs it has not loaded yet.
func (s Spec) LoadImages(host string, images []hostscript.StagedFile) string {
	return s.command("load-images", host, hostscript.StagedFilesParam(images))
}

// Backup is the nightly backup's schedule.
type Backup struct {
	// Time "HH:MM"; RetentionDays; Dir receives the files.
	Time          string
	RetentionDays int
	Dir           string
}

// BackupJob is the job script installed on the host (run by the timer as root).
func (s Spec) BackupJob(host string, b Backup) string {
	// Every environment's database and Qdrant: "name=URL" for each Qdrant, the site's own
	// named qdrant, those beside it qdrant-<env> (the snapshot files are named after them).
	var dbs, qdrants []string
	addr := s.BindAddress
	if addr == "0.0.0.0" {
		addr = "127.0.0.1"
	}
	qdrantURL := func(port int) string { return "http://" + net.JoinHostPort(addr, strconv.Itoa(port)) }
	if s.Postgres != nil {
		dbs = append(dbs, s.Postgres.Database)
	}
	if s.Qdrant != nil {
		qdrants = append(qdrants, "qdrant="+qdrantURL(s.Qdrant.HTTPPort))
	}
	for _, e := range s.Environments {
		if s.Postgres != nil {
			dbs = append(dbs, e.Database)
		}
		if s.Qdrant != nil {
			qdrants = append(qdrants, "qdrant-"+e.Name+"="+qdrantURL(e.QdrantHTTPPort))
		}
	}
	return "#!/bin/sh\n# xgen-infra nightly backup (installed by xgen-infra; edits are overwritten)\n" +
		s.command("backup", host, param("BACKUP_DIR", b.Dir), param("RETENTION_DAYS", strconv.Itoa(b.RetentionDays)),
			param("DBS", strings.Join(dbs, " ")), param("QDRANTS", strings.Join(qdrants, " ")), param("METRICS_DIR", hostdefaults.MetricsTextfileDir))
}

// InstallBackup installs the job (standard input) and its timer; gen as for the project.
func (s Spec) InstallBackup(host string, b Backup, gen string) string {
	return s.command("backup-install", host, param("JOB", s.JobPath()), param("TIME", b.Time), param("GEN", gen),
		param("METRICS_DIR", hostdefaults.MetricsTextfileDir))
}

// DeleteBackup removes the job and timer (the backups stay).
func (s Spec) DeleteBackup(host, gen string) string {
	return s.command("backup-delete", host, param("JOB", s.JobPath()), param("GEN", gen), param("METRICS_DIR", hostdefaults.MetricsTextfileDir))
}

// MigrateCheck reads, for a switch-over from the seeds' system, whether the project's data
// directory is free and which volumes the old compose project (oldProject) has. Read-only.
func (s Spec) MigrateCheck(host, oldProject string) string {
	return s.command("migrate-check", host, param("OLD_PROJECT", oldProject))
}

// Check reports what is wrong with a spec a component was given (programming errors: the
// site model validates what operators write).
func (s Spec) Check() error {
	switch {
	case s.DataDir == "" || !path.IsAbs(s.DataDir):
		return fmt.Errorf("DataDir %q must be an absolute path", s.DataDir)
	case net.ParseIP(s.BindAddress) == nil:
		return fmt.Errorf("BindAddress %q must be an IP address", s.BindAddress)
	case len(s.Services()) == 0:
		return fmt.Errorf("no services")
	}
	for _, e := range s.Environments {
		if e.Name == "" || e.DBPasswordEnv == "" || e.RedisPasswordEnv == "" {
			return fmt.Errorf("environment %q: Name, DBPasswordEnv and RedisPasswordEnv are required", e.Name)
		}
	}
	return nil
}

// Status reads the project's state on its host for `site status`: each service's state and
// health as Compose reports them, and the newest backup's age (with backupDir). Read-only.
func (s Spec) Status(host, backupDir string) string {
	return s.command("status", host, param("BACKUP_DIR", backupDir))
}
