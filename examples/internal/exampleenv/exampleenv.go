// Package exampleenv connects the programs under examples/ to a workspace
// server, so that each of them runs with no set-up at all.
//
// When WORKSPACE_API_URL is set, the examples talk to that server through
// workspace.NewClientFromEnv (WORKSPACE_API_KEY and WORKSPACE_TIMEOUT
// apply too). Otherwise they start the reference server embedded in the
// example binary itself with workspacetest.Start, listening on 127.0.0.1
// on a free port with a temporary data directory, and say so on stderr.
// The embedded server runs real sandboxes and so needs Linux and
// bubblewrap (bwrap); see scripts/setup.sh.
package exampleenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// EnvAPIURL names the variable that points the examples at an existing
// server, e.g. http://localhost:8080.
const EnvAPIURL = workspace.EnvAPIURL

// Connect returns a client of the server named by WORKSPACE_API_URL, or of
// an embedded reference server it starts when that is unset, after
// checking that the server answers. cleanup closes the client and stops
// the embedded server (killing its sandboxes, removing its data); it is
// idempotent and leaves an external server running.
func Connect(ctx context.Context) (c *workspace.Client, cleanup func(), err error) {
	var srv *workspacetest.Server
	if os.Getenv(EnvAPIURL) != "" {
		c, err = workspace.NewClientFromEnv()
	} else {
		srv, err = workspacetest.Start()
		if err != nil {
			hint := ""
			if errors.Is(err, workspace.ErrUnsupported) {
				hint = " (it needs Linux and bubblewrap: ./scripts/setup.sh; or set " + EnvAPIURL + ")"
			}
			return nil, nil, fmt.Errorf("exampleenv: start the embedded reference server%s: %w", hint, err)
		}
		fmt.Fprintf(os.Stderr, "%s is not set: started the embedded reference server at %s (data in %s)\n", EnvAPIURL, srv.URL, srv.DataDir())
		c = srv.Client()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("exampleenv: %w", err)
	}
	var once sync.Once
	cleanup = func() {
		once.Do(func() {
			c.Close()
			if srv != nil {
				srv.Close()
			}
		})
	}
	if _, err := c.Health(ctx); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("exampleenv: the server does not answer: %w", err)
	}
	return c, cleanup, nil
}

// Main runs fn with a connected client and a context that ends on SIGINT or
// SIGTERM, cleans up, and exits with status 1 after printing the error when
// fn (or connecting) fails. It is the whole body of an example's main.
// The example binary is also the agent of the embedded server's
// sandboxes: importing workspacetest makes it one (see its init).
func Main(fn func(ctx context.Context, c *workspace.Client) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, fn)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, fn func(ctx context.Context, c *workspace.Client) error) error {
	c, cleanup, err := Connect(ctx)
	if err != nil {
		return err
	}
	defer cleanup()
	return fn(ctx, c)
}
