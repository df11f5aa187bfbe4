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
// Sandboxes need Linux and bubblewrap. The package builds on every
// platform; where sandboxes cannot run (not Linux, or no bwrap), Start
// returns an error matching workspace.ErrUnsupported and NewServer skips
// the test with the reason (on Linux under CI=true a missing bwrap fails
// it instead). A test binary that imports this package works as its own
// sandbox agent.
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
)

// config is what the options set; the platform's start function turns it
// into the server's configuration.
type config struct {
	dataDir      string
	httpAddr     string
	nfsAddr      string
	logger       *slog.Logger
	baseMode     bool
	apiKey       string
	shareNetwork bool
	templates    map[string]string
	maxSandboxes int
}

// Option configures a Server; see the With functions.
type Option struct{ apply func(*config) }

func option(f func(*config)) Option { return Option{apply: f} }

// WithBaseMode makes the server advertise no features and answer as the
// upstream server does.
func WithBaseMode() Option { return option(func(c *config) { c.baseMode = true }) }

// WithAPIKey makes the server require key; Client sends it.
func WithAPIKey(key string) Option { return option(func(c *config) { c.apiKey = key }) }

// WithShareNetwork shares the host network with sandboxes.
func WithShareNetwork() Option { return option(func(c *config) { c.shareNetwork = true }) }

// WithTemplates adds templates: name -> root filesystem directory.
func WithTemplates(templates map[string]string) Option {
	return option(func(c *config) {
		if c.templates == nil {
			c.templates = map[string]string{}
		}
		for k, v := range templates {
			c.templates[k] = v
		}
	})
}

// WithMaxSandboxes limits live sandboxes (429 beyond n).
func WithMaxSandboxes(n int) Option { return option(func(c *config) { c.maxSandboxes = n }) }

// Server is a reference server running in-process.
type Server struct {
	// URL is the base URL of the HTTP API, e.g. http://127.0.0.1:40123.
	URL string

	t       testing.TB // nil for a server made by Start
	ownsDir bool       // Close removes dataDir (Start)
	cfg     config
	mu      sync.Mutex
	in      *instance // the running server; nil when stopped
	dataDir string
}

// instance is a running server: its addresses and how to stop it.
type instance struct {
	url      string
	httpAddr string
	nfsAddr  string
	close    func() error
}

// NewServer starts a server and registers its Close with t.Cleanup. It
// returns once the server answers. Where sandboxes cannot run (not Linux,
// or bubblewrap missing) it skips t with the reason; on Linux under
// CI=true a missing bubblewrap fails t instead. It fails t on any other
// start error.
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
		if errors.Is(err, workspace.ErrUnsupported) {
			if os.Getenv("CI") == "true" && errors.Is(err, errBwrapMissing) {
				t.Fatalf("workspacetest: bubblewrap is required under CI: %v", err)
			}
			t.Skipf("workspacetest: skipping, sandboxes cannot run here: %v", err)
		}
		t.Fatalf("workspacetest: start server: %v", err)
	}
	return s
}

// Start starts a server outside of a test: for Example functions,
// benchmarks and programs. It returns once the server answers. The caller
// must call Close, which also removes the server's data directory; clients
// from Client must be closed by the caller too. Where sandboxes cannot run
// (not Linux, or bubblewrap missing) the error matches
// workspace.ErrUnsupported; other errors wrap the server's start-up
// failure.
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
	cfg := config{dataDir: dir, httpAddr: "127.0.0.1:0", nfsAddr: "127.0.0.1:0", logger: logger}
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
	in, err := listen(s.cfg)
	if err != nil {
		return err
	}
	// Later restarts reuse the same ports.
	s.cfg.httpAddr = in.httpAddr
	if in.nfsAddr != "" {
		s.cfg.nfsAddr = in.nfsAddr
	}
	s.mu.Lock()
	s.in = in
	s.URL = in.url
	s.mu.Unlock()
	return nil
}

// Client returns a new SDK client for the server, with its API key if it
// has one and WithNFS pointing at the NFS listener. The client is closed
// by t.Cleanup (for a server made by Start, by the caller).
func (s *Server) Client() *workspace.Client {
	opts := []workspace.Option{}
	if s.cfg.apiKey != "" {
		opts = append(opts, workspace.WithAPIKey(s.cfg.apiKey))
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
		return s.cfg.nfsAddr
	}
	return s.in.nfsAddr
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
		if err := in.close(); err != nil && s.t != nil {
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
