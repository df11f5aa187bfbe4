// Package conformance checks a Workspace server against PROTOCOL.md
// through the public SDK, in the manner of testing/fstest.TestFS: one
// call runs every check against whatever server a *workspace.Client
// points at.
//
// Checks are data (see Checks): a name, the feature the server must list
// in GET /health for the check to apply (or NeedFixes for the reference
// server's Part 2 fixes, which apply to a server that lists any feature),
// whether it is slow, and a function that returns an error naming the
// route and the difference when the server disagrees with the protocol.
//
// The checks create only their own workspaces and sandboxes, named
// "conformance-<random>", and remove them at the end even when a check
// fails; nothing else on the server is read or changed.
//
// workspacetest.Conformance runs the checks as subtests; Run runs them
// outside of a test (the "workspace conformance" command).
package conformance
