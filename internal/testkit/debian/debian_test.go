package debian

import (
	"slices"
	"testing"
)

func TestMissing(t *testing.T) {
	got := missing(map[string]string{"/bin/sh": "dash", "/no/such/a": "pkg-b", "/no/such/b": "pkg-b", "/no/such/c": "pkg-a"})
	if !slices.Equal(got, []string{"pkg-a", "pkg-b"}) {
		t.Errorf("missing = %v, want each absent package once, sorted", got)
	}
	if err := Ensure(map[string]string{"/bin/sh": "dash"}); err != nil {
		t.Errorf("nothing to install: %v", err)
	}
}
