package hostscript

import (
	"embed"
	"os/exec"
	"strings"
	"testing"

	"xgen-infra/internal/testkit/shellcheck"
)

func TestCommandIsHeaderCommonLibOwnLibScript(t *testing.T) {
	common, _ := common.ReadFile("scripts/lib.sh")
	cmd := Set{FS: embed.FS{}, Tag: "xgen-test"}.Command("write-file", "h1", Param{"TARGET", "/etc/x"}, Param{"MODE", "0600"})
	body, _ := commonFile("write-file")
	want := "set -eu\nHOST='h1'\nLOG_TAG='xgen-test'\nTARGET='/etc/x'\nMODE='0600'\n" + string(common) + body
	if cmd != want {
		t.Errorf("command:\n%s\nwant:\n%s", cmd, want)
	}
	if err := shellcheck.Check(cmd); err != nil {
		t.Error(err)
	}
}

func TestCommandRunsAndLogsWithTag(t *testing.T) {
	cmd := Set{FS: embed.FS{}, Tag: "xgen-test"}.Command("write-file", "h1", Param{"TARGET", t.TempDir() + "/out"}, Param{"MODE", "0640"})
	run := exec.Command("sh", "-c", cmd)
	run.Stdin = strings.NewReader("content")
	out, err := run.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "xgen-test[h1]: wrote ") {
		t.Errorf("%v: %s", err, out)
	}
}

func TestQuoteRoundTrips(t *testing.T) {
	for _, in := range []string{"plain", "", "it's", "$(rm -rf /) `x`", "a\nb"} {
		out, err := exec.Command("sh", "-c", "printf %s "+Quote(in)).Output()
		if err != nil || string(out) != in {
			t.Errorf("sh reads Quote(%q) back as %q (%v)", in, out, err)
		}
	}
}

func TestGenerationDependsOnEveryValue(t *testing.T) {
	base := Generation("a", "b", "c")
	for _, other := range [][]string{{"a", "b", "d"}, {"a", "bc", ""}, {"ab", "", "c"}} {
		if Generation(other...) == base {
			t.Errorf("%v has the generation of [a b c]", other)
		}
	}
	if Generation("a", "b", "c") != base || len(base) != 16 {
		t.Errorf("generation %q is not a stable 16-hex digest", base)
	}
}

func commonFile(name string) (string, error) {
	b, err := common.ReadFile("scripts/" + name + ".sh")
	return string(b), err
}
