package workspacetest

import (
	"os"
	"testing"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/internal/conformance"
)

// EnvConformanceSlow, set to 1, makes Conformance run its slow checks too.
const EnvConformanceSlow = "WORKSPACE_CONFORMANCE_SLOW"

// ConformanceOption tunes Conformance; see the Conformance functions.
type ConformanceOption struct{ apply func(*conformance.Options) }

// ConformanceSlow adds the slow checks: 17 MiB files and outputs that
// cross the server's limits.
func ConformanceSlow() ConformanceOption {
	return ConformanceOption{func(o *conformance.Options) { o.Slow = true }}
}

// ConformanceWithoutKey gives Conformance a client for the same server
// without the API key, for the auth check (401/1005 on every route but
// /health). A server that lists the auth feature fails that check without
// this option.
func ConformanceWithoutKey(c *workspace.Client) ConformanceOption {
	return ConformanceOption{func(o *conformance.Options) { o.Unauthenticated = c }}
}

// Conformance checks the server that c points at against the Workspace
// protocol (PROTOCOL.md), in the manner of testing/fstest.TestFS: one
// subtest per check, named like "files/errors" or "process.stream/events".
//
// The base protocol is always checked: workspaces, files (with their error
// codes and HTTP statuses), sandboxes and their lifecycle, and run (exit
// codes, exact output bytes, env, cwd and args). The reference server's
// Part 2 fixes (127/126, 3005/3006/7003, timeouts with partial output,
// 404/4001 on kill, 2003, 2004) are checked on a server that lists any
// feature in GET /health; each extension (binary, files.raw,
// process.stream, process.stdin, pty, auth) only when the server lists it,
// and is skipped with the reason otherwise. NFS access through NFS.Open is
// checked on every server whose workspaces have an nfs_url. Slow checks
// run only with ConformanceSlow or WORKSPACE_CONFORMANCE_SLOW=1.
//
// It creates only its own workspaces and sandboxes, named
// "conformance-<random>-<n>", and removes them in t.Cleanup, even when a
// check fails; nothing else on the server is read or changed beyond
// listings. That cleanup uses c: keep c open until then (close it with
// t.Cleanup registered before calling Conformance, not with defer).
func Conformance(t *testing.T, c *workspace.Client, opts ...ConformanceOption) {
	t.Helper()
	var o conformance.Options
	if os.Getenv(EnvConformanceSlow) == "1" {
		o.Slow = true
	}
	for _, opt := range opts {
		if opt.apply != nil {
			opt.apply(&o)
		}
	}
	env, err := conformance.NewEnv(t.Context(), c, o)
	if err != nil {
		t.Fatalf("conformance: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Close(); err != nil {
			t.Errorf("conformance: %v", err)
		}
	})
	for _, ch := range conformance.Selected(o) {
		t.Run(ch.Name, func(t *testing.T) {
			r := conformance.RunCheck(t.Context(), env, ch)
			switch r.Status {
			case conformance.Skip:
				t.Skip(r.Detail)
			case conformance.Fail:
				t.Error(r.Detail)
			}
		})
	}
}
