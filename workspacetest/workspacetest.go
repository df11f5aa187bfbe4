// Package workspacetest starts the reference Workspace server in-process
// for tests, in the manner of net/http/httptest:
//
//	srv := workspacetest.NewServer(t)
//	c := srv.Client()
//	ws, err := c.Workspace.Create(ctx, nil)
//
// The server listens on 127.0.0.1 on free ports (HTTP and NFS), keeps its
// data in a temporary directory and is closed, with every sandbox killed,
// by t.Cleanup. Logs are discarded unless WORKSPACE_TEST_LOG=1.
//
// Sandboxes need bubblewrap: when bwrap is missing, NewServer skips the
// test, or fails it when CI=true. A test binary that imports this package
// works as its own sandbox agent: see the init function below.
package workspacetest

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/internal/sandbox"
	"github.com/elevo/workspace-sdk-go/internal/server"
)

// init makes every test binary that imports workspacetest its own sandbox
// agent: the server started by NewServer re-executes the test binary
// inside each sandbox, and a test that only calls NewServer has no other
// hook that runs before the tests (its TestMain may not exist). This is
// the project's one init function on purpose; it runs
// sandbox.MaybeRunAgent, which returns at once unless the process was
// started as an agent.
func init() { sandbox.MaybeRunAgent() }

// Option configures a Server; see the With functions.
type Option struct{ apply func(*server.Config) }

func option(f func(*server.Config)) Option { return Option{apply: f} }

// WithBaseMode makes the server advertise no features and answer as the
// upstream server does.
func WithBaseMode() Option { return option(func(c *server.Config) { c.BaseMode = true }) }

// WithAPIKey makes the server require key; Client sends it.
func WithAPIKey(key string) Option { return option(func(c *server.Config) { c.APIKey = key }) }

// WithShareNetwork shares the host network with sandboxes.
func WithShareNetwork() Option { return option(func(c *server.Config) { c.ShareNetwork = true }) }

// WithTemplates adds templates: name -> root filesystem directory.
func WithTemplates(templates map[string]string) Option {
	return option(func(c *server.Config) {
		if c.Templates == nil {
			c.Templates = map[string]string{}
		}
		for k, v := range templates {
			c.Templates[k] = v
		}
	})
}

// WithMaxSandboxes limits live sandboxes (429 beyond n).
func WithMaxSandboxes(n int) Option { return option(func(c *server.Config) { c.MaxSandboxes = n }) }

// Server is a reference server running in-process.
type Server struct {
	// URL is the base URL of the HTTP API, e.g. http://127.0.0.1:40123.
	URL string

	t       testing.TB // nil for a server made by Start
	ownsDir bool       // Close removes dataDir (Start)
	cfg     server.Config
	mu      sync.Mutex
	in      *server.Instance
	dataDir string
}

// NewServer starts a server and registers its Close with t.Cleanup. It
// returns once the server answers. It skips t (fails it under CI=true)
// when bubblewrap is missing, and fails t on any other start error.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := prepare(opts)
	if err != nil {
		t.Fatalf("workspacetest: %v", err)
	}
	s.t = t
	t.Cleanup(func() {
		s.Close()
		os.RemoveAll(s.dataDir)
	})
	if err := s.start(); err != nil {
		if errors.Is(err, sandbox.ErrBwrapMissing) {
			if os.Getenv("CI") == "true" {
				t.Fatalf("workspacetest: bubblewrap is required under CI: %v", err)
			}
			t.Skipf("workspacetest: bubblewrap (bwrap) is not installed, skipping: %v", err)
		}
		t.Fatalf("workspacetest: start server: %v", err)
	}
	return s
}

// Start starts a server outside of a test: for Example functions,
// benchmarks and programs. It returns once the server answers. The caller
// must call Close, which also removes the server's data directory; clients
// from Client must be closed by the caller too. Errors wrap
// sandbox start-up failures, e.g. when bubblewrap is missing.
func Start(opts ...Option) (*Server, error) {
	s, err := prepare(opts)
	if err != nil {
		return nil, err
	}
	s.ownsDir = true
	if err := s.start(); err != nil {
		os.RemoveAll(s.dataDir)
		return nil, fmt.Errorf("workspacetest: start server: %w", err)
	}
	return s, nil
}

// prepare makes the data directory and the configuration.
func prepare(opts []Option) (*Server, error) {
	dir, err := os.MkdirTemp("", "workspacetest-")
	if err != nil {
		return nil, err
	}
	// The sandbox uid must traverse the data directory.
	if err := os.Chmod(dir, 0o711); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	var logger *slog.Logger
	if os.Getenv("WORKSPACE_TEST_LOG") == "1" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	} else {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg := server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NFSAddr: "127.0.0.1:0", Logger: logger}
	for _, o := range opts {
		if o.apply != nil {
			o.apply(&cfg)
		}
	}
	return &Server{cfg: cfg, dataDir: dir}, nil
}

// fatalf fails the test, or panics for a server made by Start.
func (s *Server) fatalf(format string, args ...any) {
	if s.t != nil {
		s.t.Helper()
		s.t.Fatalf(format, args...)
	}
	panic(fmt.Sprintf(format, args...))
}

func (s *Server) start() error {
	in, err := server.Listen(s.cfg)
	if err != nil {
		return err
	}
	// Later restarts reuse the same ports.
	s.cfg.HTTPAddr = in.HTTPAddr
	if in.NFSAddr != "" {
		s.cfg.NFSAddr = in.NFSAddr
	}
	s.mu.Lock()
	s.in = in
	s.URL = in.URL
	s.mu.Unlock()
	return nil
}

// Client returns a new SDK client for the server, with its API key if it
// has one and WithNFS pointing at the NFS listener. The client is closed
// by t.Cleanup (for a server made by Start, by the caller).
func (s *Server) Client() *workspace.Client {
	opts := []workspace.Option{}
	if s.cfg.APIKey != "" {
		opts = append(opts, workspace.WithAPIKey(s.cfg.APIKey))
	}
	if host, port, err := net.SplitHostPort(s.NFSAddr()); err == nil {
		p, _ := strconv.Atoi(port)
		opts = append(opts, workspace.WithNFS(host, p))
	}
	c, err := workspace.NewClient(s.URL, opts...)
	if err != nil {
		s.fatalf("workspacetest: new client: %v", err)
	}
	if s.t != nil {
		s.t.Cleanup(func() { c.Close() })
	}
	return c
}

// NFSAddr returns the host:port of the NFS listener.
func (s *Server) NFSAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.in == nil {
		return s.cfg.NFSAddr
	}
	return s.in.NFSAddr
}

// DataDir returns the server's data directory.
func (s *Server) DataDir() string { return s.dataDir }

// Close stops the server and kills every sandbox. Idempotent; t.Cleanup
// calls it. For a server made by Start it also removes the data directory.
func (s *Server) Close() {
	s.stop()
	if s.ownsDir {
		os.RemoveAll(s.dataDir)
	}
}

func (s *Server) stop() {
	s.mu.Lock()
	in := s.in
	s.in = nil
	s.mu.Unlock()
	if in != nil {
		if err := in.Close(); err != nil && s.t != nil {
			s.t.Logf("workspacetest: close: %v", err)
		}
	}
}

// Restart stops the server (killing its sandboxes) and starts it again on
// the same data directory and ports, as after a server restart. URL does
// not change.
func (s *Server) Restart() {
	if s.t != nil {
		s.t.Helper()
	}
	s.stop()
	if err := s.start(); err != nil {
		s.fatalf("workspacetest: restart: %v", err)
	}
}
