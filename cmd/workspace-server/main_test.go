package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/internal/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer safe for the server's log writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs the command with args until the test ends.
func start(t *testing.T, args ...string) (*server.Instance, *syncBuffer) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o711))
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o711))
	args = append([]string{"-port", "0", "-nfs-port", "0", "-data-dir", filepath.Join(dir, "data")}, args...)
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	ready := make(chan *server.Instance, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, logs, func(in *server.Instance) { ready <- in }) }()
	var in *server.Instance
	select {
	case in = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("server did not start in 30 s")
	}
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done, "clean shutdown")
	})
	return in, logs
}

func TestServeRunAndShutdown(t *testing.T) {
	in, logs := start(t, "-api-key", "k3y", "-max-sandboxes", "1")
	ctx := context.Background()
	c, err := workspace.NewClient(in.URL, workspace.WithAPIKey("k3y"))
	require.NoError(t, err)
	defer c.Close()

	h, err := c.Health(ctx)
	require.NoError(t, err)
	assert.Contains(t, h.Features, "auth")
	ws, err := c.Workspace.Create(ctx, nil)
	require.NoError(t, err)
	assert.Contains(t, ws.NFSURL, strings.TrimPrefix(in.NFSAddr, "127.0.0.1"))
	sb, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
	require.NoError(t, err)
	out, err := c.Process.Exec(ctx, sb.ID, "echo", "from the command")
	require.NoError(t, err)
	assert.Equal(t, "from the command\n", out)

	// -max-sandboxes is in force.
	_, err = c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
	assert.ErrorIs(t, err, workspace.ErrSandboxLimitExceeded)

	// -api-key is in force.
	anon, err := workspace.NewClient(in.URL)
	require.NoError(t, err)
	defer anon.Close()
	_, err = anon.Workspace.List(ctx)
	assert.ErrorIs(t, err, workspace.ErrUnauthorized)
	assert.Contains(t, logs.String(), "listening")
}

func TestEnvironmentFallbacks(t *testing.T) {
	t.Setenv("WORKSPACE_BASE_MODE", "true")
	t.Setenv("WORKSPACE_API_KEY", "from-env")
	in, _ := start(t)
	c, err := workspace.NewClient(in.URL, workspace.WithAPIKey("from-env"))
	require.NoError(t, err)
	defer c.Close()
	h, err := c.Health(context.Background())
	require.NoError(t, err)
	assert.Empty(t, h.Features, "base mode advertises nothing")
	_, err = c.Workspace.List(context.Background())
	require.NoError(t, err)
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-max-upload-bytes", "-1"},
		{"-log-level", "loud"},
		{"-no-such-flag"},
	} {
		err := run(context.Background(), args, &syncBuffer{}, nil)
		assert.Error(t, err, "%v", args)
		assert.False(t, errors.Is(err, context.Canceled))
	}
}
