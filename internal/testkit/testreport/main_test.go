package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// A run of two tests (one failing in a subtest) and a benchmark, as `go test -json` writes it
// (taken from a real run, times shortened).
const failingRun = `{"Time":"2026-12-05T19:07:17Z","Action":"start","Package":"m/p"}
{"Time":"2026-12-05T19:07:17Z","Action":"run","Package":"m/p","Test":"TestA"}
{"Time":"2026-12-05T19:07:17Z","Action":"output","Package":"m/p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Time":"2026-12-05T19:07:17Z","Action":"output","Package":"m/p","Test":"TestA","Output":"    a_test.go:3: quiet when passing\n"}
{"Time":"2026-12-05T19:07:17Z","Action":"output","Package":"m/p","Test":"TestA","Output":"--- PASS: TestA (3.00s)\n"}
{"Time":"2026-12-05T19:07:20Z","Action":"pass","Package":"m/p","Test":"TestA","Elapsed":3}
{"Time":"2026-12-05T19:07:20Z","Action":"run","Package":"m/p","Test":"TestB"}
{"Time":"2026-12-05T19:07:20Z","Action":"run","Package":"m/p","Test":"TestB/bad"}
{"Time":"2026-12-05T19:07:20Z","Action":"output","Package":"m/p","Test":"TestB/bad","Output":"    a_test.go:4: boom\n"}
{"Time":"2026-12-05T19:07:20Z","Action":"output","Package":"m/p","Test":"TestB/bad","Output":"--- FAIL: TestB/bad (0.00s)\n"}
{"Time":"2026-12-05T19:07:20Z","Action":"fail","Package":"m/p","Test":"TestB/bad","Elapsed":0}
{"Time":"2026-12-05T19:07:20Z","Action":"output","Package":"m/p","Test":"TestB","Output":"--- FAIL: TestB (7.00s)\n"}
{"Time":"2026-12-05T19:07:27Z","Action":"fail","Package":"m/p","Test":"TestB","Elapsed":7}
{"Time":"2026-12-05T19:07:27Z","Action":"output","Package":"m/p","Output":"FAIL\n"}
{"Time":"2026-12-05T19:07:27Z","Action":"output","Package":"m/p","Output":"FAIL\tm/p\t10.014s\n"}
{"Time":"2026-12-05T19:07:27Z","Action":"fail","Package":"m/p","Elapsed":10.014}
`

const benchRun = `{"Time":"2026-12-05T19:07:20Z","Action":"output","Package":"m/q","Output":"goos: linux\n"}
{"Time":"2026-12-05T19:07:20Z","Action":"run","Package":"m/q","Test":"BenchmarkC"}
{"Time":"2026-12-05T19:07:20Z","Action":"output","Package":"m/q","Test":"BenchmarkC","Output":"=== RUN   BenchmarkC\n"}
{"Time":"2026-12-05T19:07:20Z","Action":"output","Package":"m/q","Test":"BenchmarkC","Output":"    a_test.go:5: blog\n"}
{"Time":"2026-12-05T19:07:20Z","Action":"output","Package":"m/q","Test":"BenchmarkC","Output":"BenchmarkC-2   \t"}
{"Time":"2026-12-05T19:08:05Z","Action":"output","Package":"m/q","Test":"BenchmarkC","Output":"       1\t    348299 ns/op\n"}
{"Time":"2026-12-05T19:08:05Z","Action":"output","Package":"m/q","Output":"PASS\n"}
{"Time":"2026-12-05T19:08:05Z","Action":"output","Package":"m/q","Output":"ok  \tm/q\t45.015s\n"}
{"Time":"2026-12-05T19:08:05Z","Action":"pass","Package":"m/q","Elapsed":45.015}
`

func run(input string) (*report, string) {
	var out bytes.Buffer
	r := newReport(&out)
	for _, line := range strings.Split(strings.TrimSuffix(input, "\n"), "\n") {
		r.line(line)
	}
	r.summary(5)
	return r, out.String()
}

func TestReport(t *testing.T) {
	tests := []struct {
		name       string
		input      string
		failed     bool
		ran        int
		want, omit []string
	}{
		{"a failed subtest is printed whole, a passing test is not", failingRun, true, 2,
			[]string{"a_test.go:4: boom", "--- FAIL: TestB/bad", "FAIL\tm/p\t10.014s", "7s  p.TestB", "3s  p.TestA", "10s  m/p"},
			[]string{"quiet when passing", "=== RUN", "p.TestB/bad"}},
		{"a benchmark's figures and time", benchRun, false, 1,
			[]string{"BenchmarkC-2   \t       1\t    348299 ns/op", "ok  \tm/q\t45.015s", "45s  q.BenchmarkC", "goos: linux"},
			[]string{"blog", "PASS\n"}},
		{"a figures line in one piece is printed once",
			`{"Time":"2026-12-05T19:07:20Z","Action":"run","Package":"m/q","Test":"BenchmarkD"}
{"Time":"2026-12-05T19:07:21Z","Action":"output","Package":"m/q","Test":"BenchmarkD","Output":"BenchmarkD-2   \t       1\t    7 ns/op\n"}`, false, 1,
			[]string{"BenchmarkD-2   \t       1\t    7 ns/op"}, nil},
		{"a test binary run by test2json (no ok line of its own) gets one from its end event",
			`{"Time":"2026-12-05T19:07:20Z","Action":"run","Package":"m/s","Test":"TestE"}
{"Time":"2026-12-05T19:07:21Z","Action":"pass","Package":"m/s","Test":"TestE","Elapsed":1}
{"Time":"2026-12-05T19:07:21Z","Action":"output","Package":"m/s","Output":"PASS\n"}
{"Time":"2026-12-05T19:07:21Z","Action":"pass","Package":"m/s","Elapsed":1.5}`, false, 1,
			[]string{"ok  \tm/s\t1.500s"}, nil},
		{"build errors are printed and fail the run",
			`{"ImportPath":"m/r","Action":"build-output","Output":"r.go:3:1: syntax error\n"}
{"ImportPath":"m/r","Action":"build-fail"}
not json: printed as it is`, true, 0,
			[]string{"r.go:3:1: syntax error", "not json: printed as it is"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, out := run(tt.input)
			if r.failed != tt.failed || r.ran != tt.ran {
				t.Errorf("failed %v ran %d, want %v and %d\n%s", r.failed, r.ran, tt.failed, tt.ran, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if n := strings.Count(out, "ok  \t"); n > 1 {
				t.Errorf("a package's ok line printed %d times:\n%s", n, out)
			}
			if n := strings.Count(out, "ns/op"); n > 1 {
				t.Errorf("a benchmark's figures printed %d times:\n%s", n, out)
			}
			for _, o := range tt.omit {
				if strings.Contains(out, o) {
					t.Errorf("output has %q:\n%s", o, out)
				}
			}
		})
	}
}

// Two runs side by side: every line reaches the report whole, however the writers split it.
func TestReadLinesKeepsLinesWhole(t *testing.T) {
	long := strings.Repeat("x", 200_000)
	var inputs []io.Reader
	for _, name := range []string{"a", "b"} {
		r, w := io.Pipe()
		inputs = append(inputs, r)
		go func() {
			for i := 0; i < 50; i++ {
				line := fmt.Sprintf("%s%d %s\n", name, i, long)
				// Written in small pieces, as a pipe shared by two processes would split it.
				for j := 0; j < len(line); j += 1000 {
					_, _ = io.WriteString(w, line[j:min(j+1000, len(line))])
				}
			}
			w.Close()
		}()
	}
	seen := map[string]bool{}
	err := readLines(inputs, func(line string) {
		name, rest, _ := strings.Cut(line, " ")
		if rest != long {
			t.Errorf("line %s arrived broken (%d bytes)", name, len(line))
		}
		seen[name] = true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 100 {
		t.Errorf("%d distinct lines arrived, want 100", len(seen))
	}
}
