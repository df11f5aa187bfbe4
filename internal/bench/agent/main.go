// Command agent is a minimal sandbox agent: a binary that imports only the
// sandbox runtime, so that its start-up and memory are the runtime's own.
// The bench harness can use it with -agent to show what a dedicated agent
// binary would save over re-executing the (much larger) server binary.
package main

import (
	"fmt"
	"os"

	"github.com/elevo/workspace-sdk-go/internal/sandbox"
)

func main() {
	sandbox.MaybeRunAgent()
	fmt.Fprintln(os.Stderr, "agent: this binary only runs as a sandbox agent (Config.AgentPath)")
	os.Exit(2)
}
