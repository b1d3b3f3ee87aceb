package pulumiout

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// ReadEvents parses an engine event log (`pulumi up --event-log <file>`: one JSON
// apitype.EngineEvent per line).
func ReadEvents(data []byte) ([]apitype.EngineEvent, error) {
	var events []apitype.EngineEvent
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e apitype.EngineEvent
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("event log line %d: %w", i+1, err)
		}
		events = append(events, e)
	}
	return events, nil
}

// Describe renders one event as a progress line, or "" for events not worth a line: a
// finished step of a Kubernetes object or component, a warning or an error.
func Describe(e apitype.EngineEvent) string {
	switch {
	case e.ResOutputsEvent != nil && !e.ResOutputsEvent.Planning:
		m := e.ResOutputsEvent.Metadata
		if m.Op == apitype.OpSame || strings.HasPrefix(m.Type, "pulumi:") {
			return ""
		}
		return fmt.Sprintf("%-8s %s %s", m.Op, m.Type, URNName(m.URN))
	case e.ResOpFailedEvent != nil:
		m := e.ResOpFailedEvent.Metadata
		return fmt.Sprintf("FAILED   %s %s %s", m.Op, m.Type, URNName(m.URN))
	case e.DiagnosticEvent != nil && (e.DiagnosticEvent.Severity == "warning" || e.DiagnosticEvent.Severity == "error"):
		msg := strings.TrimSpace(e.DiagnosticEvent.Message)
		if !strings.HasPrefix(msg, e.DiagnosticEvent.Severity+":") {
			msg = e.DiagnosticEvent.Severity + ": " + msg
		}
		return msg
	}
	return ""
}

// Failures are the errors the engine reported per resource (by URN name): what failed and
// the provider's message.
func Failures(events []apitype.EngineEvent) map[string]string {
	out := map[string]string{}
	for _, e := range events {
		if d := e.DiagnosticEvent; d != nil && d.Severity == "error" && d.URN != "" {
			out[URNName(d.URN)] += d.Message
		}
	}
	return out
}

// URNName is the name part of a URN (after the last "::").
func URNName(urn string) string {
	if i := strings.LastIndex(urn, "::"); i >= 0 {
		return urn[i+2:]
	}
	return urn
}

// FollowEvents tails an event log that the CLI is writing and calls line for each
// described event. The returned function stops following (after reading what is left)
// and returns the final change summary, e.g. "create=47".
func FollowEvents(path string, line func(string)) (stop func() string) {
	summary := "no summary"
	stopRaw := FollowEngineEvents(path, func(e apitype.EngineEvent) {
		if s := Describe(e); s != "" {
			line(s)
		}
		if e.SummaryEvent != nil {
			summary = Summary(e.SummaryEvent.ResourceChanges)
		}
	})
	return func() string {
		stopRaw()
		return summary
	}
}

// FollowEngineEvents tails an event log that the CLI is writing and calls f for each event,
// in order, from one goroutine. The returned function stops following after reading what is
// left.
func FollowEngineEvents(path string, f func(apitype.EngineEvent)) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var file *os.File
		var r *bufio.Reader
		var pending []byte
		last := false
		for {
			if file == nil {
				if opened, err := os.Open(path); err == nil {
					file, r = opened, bufio.NewReader(opened)
				}
			}
			for r != nil {
				chunk, err := r.ReadBytes('\n')
				pending = append(pending, chunk...)
				if err == io.EOF {
					break
				}
				var e apitype.EngineEvent
				if json.Unmarshal(pending, &e) == nil {
					f(e)
				}
				pending = pending[:0]
			}
			if last {
				if file != nil {
					file.Close()
				}
				return
			}
			select {
			case <-done:
				last = true // one more read of whatever is left
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// HostOperations are the finished steps of host resources (the command provider's commands
// and uploads) that did something (every op but same), as "<op> <name>", in the order the
// engine finished them: what ran on the hosts.
func HostOperations(events []apitype.EngineEvent) []string {
	var out []string
	for _, e := range events {
		if e.ResOutputsEvent == nil || e.ResOutputsEvent.Planning {
			continue
		}
		m := e.ResOutputsEvent.Metadata
		if strings.HasPrefix(m.Type, "command:") && m.Op != apitype.OpSame {
			out = append(out, string(m.Op)+" "+URNName(m.URN))
		}
	}
	return out
}
