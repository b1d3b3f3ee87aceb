// Package rendered is layer 1 of the tests too (the mock engine), apart because it links
// Helm: rendered/<stack>/ must be what the program registers for each stack file, the
// add-ons' charts rendered by Helm's Go library from the recorded Chart inputs
// (TestRendered; `make render` rewrites rendered/).
package rendered
