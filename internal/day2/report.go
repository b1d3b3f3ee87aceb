package day2

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// VerdictLine is the one line that says how the site is.
func (r *Report) VerdictLine() string {
	line := fmt.Sprintf("%s: %s", r.Site, strings.ToUpper(r.Verdict))
	if len(r.Problems) > 0 {
		line += " — " + strings.Join(r.Problems, "; ")
	}
	return line
}

// Write prints the report for a person: a section per part, then the verdict line.
func (r *Report) Write(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	section := func(title string) { fmt.Fprintf(tw, "\n%s\n", title) }
	if len(r.Hosts) > 0 {
		section("HOSTS\tADDRESS\tSSH\tK3S\tVERSION\tDISK FREE")
		for _, h := range r.Hosts {
			ssh := "ok"
			if !h.Reachable {
				ssh = "UNREACHABLE"
			}
			k3s := h.K3sUnit
			if k3s != "" {
				k3s += " " + h.K3sActive
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", h.Name, h.Address, ssh, k3s, h.K3sVersion, mb(h.DiskFreeMB))
		}
	}
	if len(r.Nodes) > 0 {
		section("NODES\tREADY\tVERSION\tTAINTS")
		for _, n := range r.Nodes {
			ready := "Ready"
			if !n.Ready {
				ready = "NotReady"
			}
			if n.Unschedulable {
				ready += ",cordoned"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.Name, ready, n.Version, strings.Join(n.Taints, ","))
		}
	}
	services := func(title string, list []Service) {
		section(title + "\tREADY\tRESTARTS (1H)\tNODES\tIMAGE\tDIGEST")
		for _, s := range list {
			ready := fmt.Sprintf("%d/%d", s.Ready, s.Desired)
			if s.Missing {
				ready = "missing"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", s.Name, ready, s.RestartsLastHour, strings.Join(s.Nodes, ","), s.Image, short(s.Digest))
		}
	}
	if len(r.Services) > 0 {
		services("SERVICES", r.Services)
	}
	for _, e := range r.Environments { // each environment beside the stack's own
		services(fmt.Sprintf("SERVICES OF %s (%s, %s)", strings.ToUpper(e.Name), e.Namespace, e.Domain), e.Services)
	}
	if inf := r.Infra; inf != nil {
		section("INFRA (" + inf.Host + ")\tSTATE\tHEALTH")
		for _, s := range inf.Services {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, s.State, s.Health)
		}
		if a := inf.BackupAgeHours; a != nil {
			age := "none yet"
			if *a >= 0 {
				age = (time.Duration(*a * float64(time.Hour))).Round(time.Minute).String() + " ago"
			}
			fmt.Fprintf(tw, "last backup\t%s\t\n", age)
		}
		if inf.Error != "" {
			fmt.Fprintf(tw, "error\t%s\t\n", inf.Error)
		}
	}
	if in := r.Ingress; in != nil {
		section("INGRESS\tREADY\tADDRESS\tCERTIFICATE\tPROBE")
		cert := "-"
		if in.CertificateExpires != nil {
			cert = "ends " + in.CertificateExpires.Format(time.DateOnly)
		}
		ready := "-" // not the site's to judge
		if in.Ready != nil {
			ready = fmt.Sprint(*in.Ready)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", in.Kind, ready, in.Address, cert, in.Probe)
	}
	section("INTERNET\tFLOWS (networkPolicy, services.<name>.egress)")
	if len(r.Internet) == 0 {
		fmt.Fprintf(tw, "none\t\n")
	}
	for _, line := range r.Internet {
		svc, flows, _ := strings.Cut(line, ": ")
		fmt.Fprintf(tw, "%s\t%s\n", svc, flows)
	}
	if d := r.Drift; d != nil {
		section("DRIFT\tCHANGES")
		fmt.Fprintf(tw, "refreshed preview\t%d\n", d.Changes)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\n%s\n", r.VerdictLine())
}

func mb(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%.1f GB", float64(n)/1024)
}

func short(digest string) string {
	if len(digest) > 19 {
		return digest[:19]
	}
	return digest
}
