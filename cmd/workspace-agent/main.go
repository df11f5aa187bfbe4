//go:build linux

// Command workspace-agent is the sandbox agent of the reference server:
// workspace-server starts it as pid 1 inside every sandbox. Installed next
// to workspace-server (go install ./cmd/...), it is used instead of the
// server re-executing itself: it is static and small (it links no cgo and
// no server code), so every sandbox starts faster. The -agent flag of
// workspace-server names it explicitly.
//
// It does nothing when started by hand.
package main

import (
	"fmt"
	"os"

	"github.com/elevo/workspace-sdk-go/internal/sandbox/agent"
)

func main() {
	agent.MaybeRun()
	fmt.Fprintln(os.Stderr, "workspace-agent: this is the sandbox agent; workspace-server starts it inside each sandbox")
	os.Exit(2)
}
