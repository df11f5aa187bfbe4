// Package exampleenv connects the programs under examples/ to a workspace
// server, so that each of them runs with no set-up at all.
//
// When WORKSPACE_API_URL is set, the examples talk to that server (with
// WORKSPACE_API_KEY as the API key when it is set too). Otherwise they start
// the reference server embedded in the example binary itself, listening on
// 127.0.0.1 on a free port with a temporary data directory, and say so on
// stderr. The embedded server runs real sandboxes and so needs bubblewrap
// (bwrap) on Linux; see scripts/setup.sh.
package exampleenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/internal/sandbox"
)

// Environment variables read by Connect.
const (
	EnvAPIURL = "WORKSPACE_API_URL" // base URL of an existing server, e.g. http://localhost:8080
	EnvAPIKey = "WORKSPACE_API_KEY" // API key for that server (optional)
)

// Endpoint is where a server answers: its base URL and the API key to send
// (empty for none). Stop releases what Start acquired; it is idempotent and
// does nothing for an external server.
type Endpoint struct {
	URL      string
	APIKey   string
	NFSAddr  string // host:port of the embedded server's NFS listener ("" for an external server)
	DataDir  string // the embedded server's temporary data directory ("" for an external server)
	Embedded bool   // the server runs inside this process
	stop     func() error
	once     sync.Once
	err      error
}

// Stop stops the embedded server (killing its sandboxes) and removes its
// data directory. It is idempotent, and a no-op for an external server.
func (e *Endpoint) Stop() error {
	e.once.Do(func() {
		if e.stop != nil {
			e.err = e.stop()
		}
	})
	return e.err
}

// Start returns the endpoint of the server named by WORKSPACE_API_URL when
// it is set, else starts the embedded reference server on 127.0.0.1:0 with
// a fresh temporary data directory and reports on stderr that it did so.
// The caller must call Stop.
func Start() (*Endpoint, error) {
	if u := os.Getenv(EnvAPIURL); u != "" {
		return &Endpoint{URL: u, APIKey: os.Getenv(EnvAPIKey)}, nil
	}
	dir, err := os.MkdirTemp("", "workspace-example-")
	if err != nil {
		return nil, fmt.Errorf("exampleenv: %w", err)
	}
	in, err := startEmbedded(dir)
	if err != nil {
		hint := ""
		if errors.Is(err, sandbox.ErrBwrapMissing) {
			hint = " (install bubblewrap: ./scripts/setup.sh)"
		}
		return nil, errors.Join(fmt.Errorf("exampleenv: start the embedded reference server%s: %w", hint, err), os.RemoveAll(dir))
	}
	fmt.Fprintf(os.Stderr, "%s is not set: started the embedded reference server at %s (data in %s)\n", EnvAPIURL, in.URL, dir)
	return &Endpoint{
		URL:      in.URL,
		NFSAddr:  in.NFSAddr,
		DataDir:  dir,
		Embedded: true,
		stop: func() error {
			return errors.Join(in.Close(), os.RemoveAll(dir))
		},
	}, nil
}

// Connect is Start followed by workspace.NewClient (with the API key, and
// for the embedded server WithNFS pointing at its NFS listener). The
// returned cleanup closes the client and then stops the endpoint; it is
// idempotent and reports any error on stderr. Connect checks, within ctx,
// that the server answers its health check.
func Connect(ctx context.Context) (*workspace.Client, func(), error) {
	ep, err := Start()
	if err != nil {
		return nil, nil, err
	}
	var opts []workspace.Option
	if ep.APIKey != "" {
		opts = append(opts, workspace.WithAPIKey(ep.APIKey))
	}
	if host, port, err := net.SplitHostPort(ep.NFSAddr); err == nil {
		p, _ := strconv.Atoi(port)
		opts = append(opts, workspace.WithNFS(host, p))
	}
	c, err := workspace.NewClient(ep.URL, opts...)
	if err != nil {
		return nil, nil, errors.Join(err, ep.Stop())
	}
	var once sync.Once
	cleanup := func() {
		once.Do(func() {
			if err := errors.Join(c.Close(), ep.Stop()); err != nil {
				fmt.Fprintln(os.Stderr, "exampleenv: cleanup:", err)
			}
		})
	}
	if _, err := c.Health(ctx); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("exampleenv: the server at %s does not answer: %w", ep.URL, err)
	}
	return c, cleanup, nil
}

// Main runs fn with a connected client and a context that ends on SIGINT or
// SIGTERM, cleans up, and exits with status 1 after printing the error when
// fn (or connecting) fails. It is the whole body of an example's main.
// It first calls sandbox.MaybeRunAgent: the example binary is also the
// agent of the embedded server's sandboxes.
func Main(fn func(ctx context.Context, c *workspace.Client) error) {
	sandbox.MaybeRunAgent()
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
