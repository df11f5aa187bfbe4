// Package integration holds the SDK's long integration tests and its
// end-to-end benchmarks: they run the public API of package workspace
// against the real reference server (workspacetest) with real bubblewrap
// sandboxes, in full and base mode. It has no code of its own besides
// tests; run it with
//
//	go test ./integration
//	go test ./integration -run '^$' -bench . -benchtime 3x
package integration
