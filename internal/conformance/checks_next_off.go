//go:build !workspace_next

package conformance

// nextChecks is empty: the checks of the Part 3 features (process.detach,
// ports, files.watch, files.archive) use SDK calls that this build does
// not have; build with the workspace_next tag to add them.
func nextChecks() []Check { return nil }
