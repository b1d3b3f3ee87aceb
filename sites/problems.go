package sites

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a site's stack config: the full config key path, the
// value found there, and what to do about it.
type Problem struct {
	// Key is the stack config key path, e.g. "xgen-infra:site.services.xgen-core.replicas".
	Key string
	// Value is the offending value as written; empty when the key is missing.
	Value string
	// Fix says what is wrong and how to correct it.
	Fix string
}

func (p Problem) String() string {
	if p.Value == "" {
		return fmt.Sprintf("%s: %s", EscapeKey(p.Key), p.Fix)
	}
	return fmt.Sprintf("%s: %s: %s", EscapeKey(p.Key), p.Value, p.Fix)
}

// EscapeKey prints a config key path with every character outside printable ASCII escaped
// (`site.im\u200bage`), so that an invisible or look-alike character shows why a key that
// looks right is unknown.
func EscapeKey(key string) string {
	var b strings.Builder
	for _, r := range key {
		switch {
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r > 0xffff:
			fmt.Fprintf(&b, "\\U%08x", r)
		default:
			fmt.Fprintf(&b, "\\u%04x", r)
		}
	}
	return b.String()
}

// Problems is every problem found in one pass; it is the error Load returns.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, 0, len(ps))
	for _, p := range ps {
		lines = append(lines, "  - "+p.String())
	}
	sort.Strings(lines)
	noun := "problems"
	if len(ps) == 1 {
		noun = "problem"
	}
	return fmt.Sprintf("invalid stack config (%d %s):\n%s", len(ps), noun, strings.Join(lines, "\n"))
}

// problemList collects problems under a key prefix.
type problemList struct {
	prefix string
	list   Problems
}

// add records a problem at prefix+path with the value rendered for humans.
func (l *problemList) add(path string, value any, format string, args ...any) {
	key := l.prefix
	if path != "" {
		key += "." + path
	}
	l.list = append(l.list, Problem{Key: key, Value: show(value), Fix: fmt.Sprintf(format, args...)})
}

// show renders a value the way it appears in YAML, quoting strings.
func show(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return strconv.QuoteToGraphic(x)
	case *int:
		if x == nil {
			return ""
		}
		return fmt.Sprint(*x)
	case float64: // JSON numbers: show whole numbers as written
		if x == float64(int64(x)) {
			return fmt.Sprint(int64(x))
		}
		return fmt.Sprint(x)
	default:
		return fmt.Sprint(x)
	}
}
