//go:build linux

package sandbox

import "github.com/elevo/workspace-sdk-go/internal/sandbox/agent"

// MaybeRunAgent runs the sandbox agent and exits when this process was
// started as one by a Manager, and returns at once otherwise (see
// agent.MaybeRun). An executable a Manager uses as its agent
// (Config.AgentPath, by default the running executable) must call it
// first thing in main, or in TestMain for a test binary that starts
// sandboxes, before flags are parsed or anything else starts. NewManager
// checks this and fails when the agent binary does not call it.
// cmd/workspace-agent is the dedicated agent executable.
func MaybeRunAgent() { agent.MaybeRun() }
