//go:build !windows

// Command workspace-server runs the reference Workspace server: the HTTP
// API (PROTOCOL.md), NFSv3 for every workspace and bubblewrap sandboxes.
//
// Every flag has an environment fallback, e.g. -port / WORKSPACE_HTTP_PORT.
// It listens on 127.0.0.1:8080 by default and shuts down cleanly on SIGINT
// or SIGTERM, killing every sandbox. The flags are defined in
// internal/servecmd, shared with "workspace serve".
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/elevo/workspace-sdk-go/internal/sandbox"
	"github.com/elevo/workspace-sdk-go/internal/servecmd"
)

func main() {
	sandbox.MaybeRunAgent() // this binary is also the sandbox agent
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := servecmd.Run(ctx, "workspace-server", os.Args[1:], os.Stderr, nil)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "workspace-server:", err)
		os.Exit(1)
	}
}
