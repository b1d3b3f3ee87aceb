// Package rendered is layer 1 of the tests too (the mock engine), apart from tests/mock
// because it links outside code that judges what the program renders: Helm (rendered/<stack>/
// must be what the program registers for each stack file, the add-ons' charts rendered by
// Helm's Go library from the recorded Chart inputs: TestRendered; `make render` rewrites
// rendered/), every workload's hardening (TestEveryWorkloadIsHardened), np-guard's network
// policy engine (the truth table) and a real in-memory registry (the image preflight).
package rendered
