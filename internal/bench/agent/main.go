// Command agent is a minimal sandbox agent: a binary that imports only the
// sandbox runtime, so that its start-up and memory are the runtime's own.
// The bench harness can use it with -agent to show what a dedicated agent
// binary would save over re-executing the (much larger) server binary.
package main

import _ "github.com/elevo/workspace-sdk-go/internal/sandbox" // agent mode runs from its init

func main() {}
