//go:build !windows

package server

import (
	"context"

	"github.com/elevo/workspace-sdk-go/internal/sandbox"
)

// bwrapRuntime adapts the bubblewrap runtime (*sandbox.Manager) to
// Runtime; its sandboxes (*sandbox.Sandbox) are SandboxRuntimes as they
// are.
type bwrapRuntime struct{ m *sandbox.Manager }

// newBwrapRuntime starts the bubblewrap runtime with the settings of cfg
// and its state in runDir.
func newBwrapRuntime(cfg Config, runDir string) (Runtime, error) {
	m, err := sandbox.NewManager(sandbox.Config{
		BwrapPath:    cfg.BwrapPath,
		AgentPath:    cfg.AgentPath,
		RunDir:       runDir,
		ShareNetwork: cfg.ShareNetwork,
		UID:          cfg.UID,
		GID:          cfg.GID,
		Logger:       cfg.Logger,
		AgentTimeout: cfg.AgentTimeout,
		ShmSize:      cfg.ShmSize,
	})
	if err != nil {
		return nil, err
	}
	return bwrapRuntime{m}, nil
}

// Start implements Runtime.
func (b bwrapRuntime) Start(ctx context.Context, spec SandboxSpec) (SandboxRuntime, error) {
	sb, err := b.m.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	return sb, nil
}

// Controls says which resource limits the runtime enforces.
func (b bwrapRuntime) Controls() sandbox.Controls { return b.m.Controls() }

// Close implements Runtime.
func (b bwrapRuntime) Close() error { return b.m.Close() }
