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

// TestRehearseEndToEnd runs `make demo`'s command (`site rehearse --stack xgen --hold`) as an
// operator does, from the repository's root, with the checked-out revision as the base: the
// xgen site's shape (one GPU server that is also the compose host) as bare test hosts, the
// base deployed by a real `pulumi up`, then the working tree, which is the same and must
// change nothing and run no host command; every app Available, `site status` healthy, the
// report; then Ctrl-C, which must destroy the stack, stop the hosts and exit 0.
func TestRehearseEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("the whole xgen site on test hosts under the real engine: make test runs it")
	}
	livetest.ToolsDir(t) // the real engine and the stand-ins' tools (skips outside make test)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "site")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/site: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--stack", "xgen", "--base", "HEAD", "--hold", "rehearse")
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
		if strings.Contains(line, "press Ctrl-C") {
			waitingForCtrlC = true
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	out := strings.Join(lines, "\n")
	if err != nil || !waitingForCtrlC {
		t.Fatalf("site rehearse: %v (reached the report: %v)\nstdout (last lines):\n%s\nstderr:\n%s", err, waitingForCtrlC,
			lastLines(out, 40), lastLines(stderr.String(), 40))
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^  host xgen-gpu-1 +server 198\.18\.[0-9]+\.10 gpu compose \(Docker\)$`),
		regexp.MustCompile(`(?m)^HEAD \([0-9a-f]+\): ok in [0-9hms]+; [1-9][0-9]* resources changed, [1-9][0-9]* host commands$`),
		regexp.MustCompile(`(?m)^working tree: ok in [0-9hms]+; 0 resources changed, 0 host commands$`),
		regexp.MustCompile(`(?m)^apps: every Deployment Available$`),
		regexp.MustCompile(`(?m)^site status: xgen: HEALTHY$`),
		regexp.MustCompile(`(?m)^rehearsal passed$`),
		regexp.MustCompile(`(?m)^pulumi destroy\.\.\.$`),
	} {
		if !want.MatchString(out) {
			t.Errorf("the rehearsal's output has no line matching %s:\n%s", want, lastLines(out, 60))
		}
	}
	// Ctrl-C cancelled the context: the cleanup still removed the base checkout.
	if worktrees, err := exec.Command("git", "-C", root, "worktree", "list").CombinedOutput(); err != nil || strings.Contains(string(worktrees), ".harness/rehearse") {
		t.Errorf("the base checkout is still a worktree after Ctrl-C (%v):\n%s", err, worktrees)
	}
	if strings.Contains(out, "warning: destroy") {
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
