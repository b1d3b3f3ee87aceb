// Command testreport reads `go test -json` on standard input and prints what a plain `go test`
// prints (each package's ok/FAIL line, the whole output of every failed test, build errors,
// benchmark results), then the slowest tests and each package's time: where a run's minutes
// go, on every run, without -v's flood. It exits 1 when any package or test failed, or when
// no test ran at all. TEST-ONLY: `make test` pipes the suite through it.
//
//	go test -json ./... | go run ./internal/testkit/testreport [-slowest 20]
//	testreport <(go test -json ./a) <(go tool test2json -p b ./b.test -test.v=test2json)
//
// Given files, it reads them all at once (runs side by side, tools/run-tests.sh) and takes
// their lines whole, one at a time: events from two runs never interleave within a line.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// event is one line of `go test -json` (cmd/test2json's TestEvent).
type event struct {
	Time    time.Time
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

// timing is one finished test or package.
type timing struct {
	name    string
	seconds float64
}

// report accumulates a run.
type report struct {
	out      io.Writer
	buffered map[string][]string  // package + "\x00" + test -> its output so far
	started  map[string]time.Time // package + "\x00" + benchmark -> when it started
	// pendingName: a benchmark's name piece of its figures line, until the figures come.
	pendingName map[string]string
	tests       []timing // top-level tests and benchmarks that finished
	packages    []timing
	ran         int // top-level tests and benchmarks that passed or failed
	failed      bool
	// summarized: packages whose ok/FAIL line was printed (go test prints it; a test binary
	// converted by test2json does not, and its line is made from the package's end event).
	summarized map[string]bool
}

func newReport(out io.Writer) *report {
	return &report{out: out, buffered: map[string][]string{}, started: map[string]time.Time{}, pendingName: map[string]string{}, summarized: map[string]bool{}}
}

// line takes one line of input: an event, or anything else (printed as it is).
func (r *report) line(text string) {
	var e event
	if !strings.HasPrefix(text, "{") || json.Unmarshal([]byte(text), &e) != nil {
		fmt.Fprintln(r.out, text)
		return
	}
	key := e.Package + "\x00" + e.Test
	switch e.Action {
	case "build-output":
		fmt.Fprint(r.out, e.Output)
	case "build-fail":
		r.failed = true
	case "run":
		r.started[key] = e.Time
	case "output":
		if e.Test == "" {
			// The package's own lines: ok/FAIL, "no test files", a panic outside a test.
			if t := strings.TrimSpace(e.Output); t != "PASS" && !strings.HasPrefix(t, "=== ") {
				fmt.Fprint(r.out, e.Output)
				if strings.HasPrefix(t, "ok ") || strings.HasPrefix(t, "FAIL\t") {
					r.summarized[e.Package] = true
				}
			}
			return
		}
		r.buffered[key] = append(r.buffered[key], e.Output)
		// A benchmark's figures come in two pieces ("BenchmarkX-2 \t", "1\t 123 ns/op\n"),
		// and a benchmark that passes has no pass event: its figures line is its end.
		if strings.HasPrefix(e.Test, "Benchmark") && !strings.Contains(e.Test, "/") {
			if strings.HasPrefix(e.Output, e.Test+"-") && !strings.Contains(e.Output, "/op") {
				r.pendingName[key] = e.Output // printed with its figures
			}
			if strings.Contains(e.Output, "/op") {
				if !strings.HasPrefix(e.Output, e.Test+"-") {
					fmt.Fprint(r.out, r.pendingName[key])
				}
				delete(r.pendingName, key)
				fmt.Fprint(r.out, e.Output)
				r.ran++
				r.tests = append(r.tests, timing{shortPackage(e.Package) + "." + e.Test, e.Time.Sub(r.started[key]).Seconds()})
				delete(r.buffered, key)
			}
		}
	case "pass", "fail", "skip":
		if e.Action == "fail" {
			r.failed = true
		}
		if e.Test == "" {
			r.packages = append(r.packages, timing{e.Package, e.Elapsed})
			if !r.summarized[e.Package] && e.Action != "skip" {
				word := map[string]string{"pass": "ok  ", "fail": "FAIL"}[e.Action]
				fmt.Fprintf(r.out, "%s\t%s\t%.3fs\n", word, e.Package, e.Elapsed)
			}
			return
		}
		if e.Action == "fail" {
			fmt.Fprint(r.out, strings.Join(r.buffered[key], ""))
		}
		delete(r.buffered, key)
		if !strings.Contains(e.Test, "/") {
			if e.Action != "skip" {
				r.ran++
			}
			r.tests = append(r.tests, timing{shortPackage(e.Package) + "." + e.Test, e.Elapsed})
		}
	}
}

func shortPackage(p string) string {
	if i := strings.Index(p, "/"); i >= 0 {
		return p[i+1:]
	}
	return p
}

// summary prints the slowest tests and every package's wall time, slowest first.
func (r *report) summary(slowest int) {
	byTime := func(ts []timing) []timing {
		s := append([]timing(nil), ts...)
		sort.SliceStable(s, func(i, j int) bool { return s[i].seconds > s[j].seconds })
		return s
	}
	tests := byTime(r.tests)
	if len(tests) > slowest {
		tests = tests[:slowest]
	}
	fmt.Fprintf(r.out, "\nslowest tests (of %d run):\n", r.ran)
	for _, t := range tests {
		fmt.Fprintf(r.out, "  %8s  %s\n", duration(t.seconds), t.name)
	}
	fmt.Fprintln(r.out, "packages (wall time each; they run side by side):")
	for _, p := range byTime(r.packages) {
		fmt.Fprintf(r.out, "  %8s  %s\n", duration(p.seconds), p.name)
	}
}

func duration(seconds float64) string {
	return time.Duration(seconds * float64(time.Second)).Round(time.Second).String()
}

func main() {
	slowest := flag.Int("slowest", 20, "how many of the slowest tests to list")
	flag.Parse()
	r := newReport(os.Stdout)
	inputs := []io.Reader{os.Stdin}
	if flag.NArg() > 0 {
		inputs = nil
		for _, name := range flag.Args() {
			f, err := os.Open(name)
			if err != nil {
				fmt.Fprintln(os.Stderr, "testreport:", err)
				os.Exit(1)
			}
			defer f.Close()
			inputs = append(inputs, f)
		}
	}
	if err := readLines(inputs, r.line); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(1)
	}
	r.summary(*slowest)
	switch {
	case r.failed:
		fmt.Println("testreport: FAIL")
		os.Exit(1)
	case r.ran == 0:
		fmt.Println("testreport: no test ran")
		os.Exit(1)
	}
}

// readLines reads every input at once and hands each whole line to take, one at a time.
func readLines(inputs []io.Reader, take func(string)) error {
	lines := make(chan string)
	errs := make(chan error, len(inputs))
	var readers sync.WaitGroup
	for _, in := range inputs {
		readers.Add(1)
		go func() {
			defer readers.Done()
			scan := bufio.NewScanner(in)
			scan.Buffer(make([]byte, 1<<20), 64<<20)
			for scan.Scan() {
				lines <- scan.Text()
			}
			errs <- scan.Err()
		}()
	}
	go func() { readers.Wait(); close(lines) }()
	for line := range lines {
		take(line)
	}
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
