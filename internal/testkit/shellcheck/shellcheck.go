// Package shellcheck lints host commands exactly as they are sent: for tests only (the
// program never runs shellcheck).
package shellcheck

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
)

// Check lints a command as POSIX sh.
func Check(command string) error {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		return fmt.Errorf("shellcheck is missing; `make lint` installs it (Debian package shellcheck)")
	}
	sc := exec.Command("shellcheck", "-s", "sh", "-")
	sc.Stdin = strings.NewReader(command)
	var out bytes.Buffer
	sc.Stdout, sc.Stderr = &out, &out
	if err := sc.Run(); err != nil {
		return fmt.Errorf("%v\n%s", err, out.String())
	}
	return nil
}
