// Package agent is the sandbox agent: the small program that runs as pid 1
// inside every sandbox, starts the commands, PTYs and port connections the
// server asks for, and reports their exits. It also defines the control
// protocol between the server (package sandbox) and the agent.
//
// The agent runs either as its own executable, cmd/workspace-agent, or as
// any executable that calls sandbox.MaybeRunAgent (or MaybeRun here) first
// thing in main: by default the server re-executes itself. The dedicated
// executable starts in a fraction of the time, because this package
// imports no package that needs cgo (no net, no os/user): the binary is
// static and small, and every sandbox start pays for the agent's start-up.
// Keep it that way: the agent talks to its control socket and dials ports
// with raw system calls (golang.org/x/sys/unix) on the runtime's poller.
//
// # Files
//
// proto.go and sizes.go are the control protocol both ends share; agent.go the
// agent's entry points and request loop; exec.go commands; pty.go
// terminals; dial.go port connections; reap.go exits; trim.go its idle
// memory.
//
// Linux only: elsewhere the package holds this documentation only.
package agent
