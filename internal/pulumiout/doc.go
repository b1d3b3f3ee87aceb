// Package pulumiout reads what the Pulumi CLI prints for an operator's commands: the digest
// of `pulumi preview --json`, the engine's event log (`--event-log`) and `pulumi stack
// export`. It is the operator tools' (cmd/site, cmd/fleet) and the tests' alike; the engine
// workspace the tests and rehearsals drive (internal/engine), with its mock-engine secret
// placeholders, is apart from it, so that the operator tools do not link either.
package pulumiout
