package workspacetest

import (
	"errors"
	"fmt"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/internal/sandbox"
	"github.com/elevo/workspace-sdk-go/internal/server"
)

// errBwrapMissing is matched by the start error when bubblewrap is not
// installed.
var errBwrapMissing = sandbox.ErrBwrapMissing

// listen starts the reference server with cfg. A missing bubblewrap is an
// error matching workspace.ErrUnsupported (and errBwrapMissing).
func listen(cfg config) (*instance, error) {
	in, err := server.Listen(server.Config{
		DataDir:      cfg.dataDir,
		HTTPAddr:     cfg.httpAddr,
		NFSAddr:      cfg.nfsAddr,
		Logger:       cfg.logger,
		BaseMode:     cfg.baseMode,
		APIKey:       cfg.apiKey,
		ShareNetwork: cfg.shareNetwork,
		Templates:    cfg.templates,
		MaxSandboxes: cfg.maxSandboxes,
	})
	if errors.Is(err, sandbox.ErrBwrapMissing) {
		return nil, fmt.Errorf("bubblewrap (bwrap) is not installed: %w: %w", workspace.ErrUnsupported, err)
	}
	if err != nil {
		return nil, err
	}
	return &instance{url: in.URL, httpAddr: in.HTTPAddr, nfsAddr: in.NFSAddr, close: in.Close}, nil
}

// init makes every test binary that imports workspacetest its own sandbox
// agent: the server started by NewServer re-executes the test binary
// inside each sandbox, and a test that only calls NewServer has no other
// hook that runs before the tests (its TestMain may not exist). This is
// the project's one init function on purpose; it runs
// sandbox.MaybeRunAgent, which returns at once unless the process was
// started as an agent.
func init() { sandbox.MaybeRunAgent() }
