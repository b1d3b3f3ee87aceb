package main

import "testing"

func TestSameToken(t *testing.T) {
	full := "K10" + "abcdef0123" + "::server:s3cret"
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{full, full, true},
		{full, "s3cret", true},
		{"s3cret", full, true},
		{"s3cret", "s3cret", true},
		{full, "other", false},
		{full, "K10abcdef0123::server:other", false},
		{"s3cret", "s3cret2", false},
	} {
		if got := sameToken(c.a, c.b); got != c.same {
			t.Errorf("sameToken(%q, %q) = %v, want %v", c.a, c.b, got, c.same)
		}
	}
}
