package realengine

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// TestUpgradeOrderProblems: the order check the upgrade steps of the whole-site tests rely on
// refuses each way an upgrade can go wrong (no engine needed).
func TestUpgradeOrderProblems(t *testing.T) {
	// step is one engine event: "+x" started, "-x" finished (an update, as an upgrade's are).
	steps := func(events ...string) []engineStep {
		var out []engineStep
		for _, e := range events {
			out = append(out, engineStep{Op: apitype.OpReplace, Name: e[1:], Finished: e[0] == '-'})
		}
		return out
	}
	host := func(h string) []string {
		return []string{"+drain-" + h, "-drain-" + h, "+install-" + h, "-install-" + h, "+uncordon-" + h, "-uncordon-" + h}
	}
	inOrder := append(append(host("s1"), host("s2")...), host("a1")...)
	for _, tc := range []struct {
		name   string
		events []string
		want   string // "" no problem
	}{
		{"one host at a time, drained and uncordoned", inOrder, ""},
		{"no drain", append([]string{"+install-s1", "-install-s1", "+uncordon-s1", "-uncordon-s1"}, inOrder[6:]...), "s1: the upgrade must drain"},
		{"no uncordon", append(host("s1")[:4], inOrder[6:]...), "s1: the upgrade must drain, reinstall and uncordon"},
		{"install before the drain is done", append([]string{"+drain-s1", "+install-s1", "-drain-s1", "-install-s1", "+uncordon-s1", "-uncordon-s1"}, inOrder[6:]...),
			"s1: install started before its drain finished"},
		{"uncordon before the install is done", append([]string{"+drain-s1", "-drain-s1", "+install-s1", "+uncordon-s1", "-install-s1", "-uncordon-s1"}, inOrder[6:]...),
			"s1: uncordon started before the install finished"},
		{"two servers at once", append(append([]string{"+drain-s1", "-drain-s1", "+install-s1", "+drain-s2", "-install-s1", "+uncordon-s1", "-uncordon-s1"},
			host("s2")[1:]...), host("a1")...), "s2: its upgrade started before the previous host's finished"},
		{"a host not upgraded", append(host("s1"), host("a1")...), "s2: the upgrade must drain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(upgradeOrderProblems(steps(tc.events...), []string{"s1", "s2", "a1"}), "\n")
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("problems %q, want %q", got, tc.want)
			}
		})
	}
}
