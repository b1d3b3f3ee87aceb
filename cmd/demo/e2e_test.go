package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"xgen-infra/internal/testkit/livetest"
)

// TestDemoEndToEnd runs `make demo`'s command as an operator does, from the repository's
// root: bare test hosts to the xgen site's apps in one real `pulumi up`, a second `up` that
// must change nothing and run no host command (the demo fails otherwise), the summary; then
// Ctrl-C, which must destroy the stack and exit cleanly.
func TestDemoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("the whole xgen site on test hosts under the real engine: make test runs it")
	}
	livetest.ToolsDir(t) // the real engine and the stand-ins' tools (skips outside make test)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "demo")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/demo: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "demo")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	waitingForCtrlC := false
	scanner := bufio.NewScanner(stdout)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		line := scanner.Text()
		lines = append(lines, line)
		if strings.Contains(line, "Press Ctrl-C") {
			waitingForCtrlC = true
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	out := strings.Join(lines, "\n")
	if err != nil || !waitingForCtrlC {
		t.Fatalf("make demo: %v (reached the summary: %v)\nstdout (last lines):\n%s\nstderr:\n%s", err, waitingForCtrlC,
			lastLines(out, 40), lastLines(stderr.String(), 40))
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^pulumi up: .* in [0-9.]+s$`),
		regexp.MustCompile(`(?m)^second pulumi up: .*, 0 host commands ran$`),
		regexp.MustCompile(`(?m)^bare hosts to apps Available in [0-9]+s$`),
		regexp.MustCompile(`(?m)^pulumi destroy\.\.\.$`),
	} {
		if !want.MatchString(out) {
			t.Errorf("the demo's output has no line matching %s:\n%s", want, lastLines(out, 40))
		}
	}
	if strings.Contains(stderr.String(), "warning: destroy") {
		t.Errorf("Ctrl-C did not destroy the stack cleanly:\n%s", lastLines(stderr.String(), 20))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
