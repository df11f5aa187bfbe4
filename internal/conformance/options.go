package conformance

import workspace "github.com/elevo/workspace-sdk-go"

// Options tune a conformance run.
type Options struct {
	// Slow adds the slow checks (big files, big outputs).
	Slow bool
	// Unauthenticated is a client for the same server without the API
	// key; the auth check needs it and is skipped without it.
	Unauthenticated *workspace.Client
	// Match selects checks by name; nil runs them all.
	Match func(name string) bool
}
