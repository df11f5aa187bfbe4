//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/internal/sandbox"
	"github.com/elevo/workspace-sdk-go/internal/servecmd"
	"github.com/elevo/workspace-sdk-go/internal/server"
)

func TestMain(m *testing.M) {
	sandbox.MaybeRunAgent()
	// The signal test runs this test binary as the real command.
	if os.Getenv("WORKSPACE_SERVER_TEST_MAIN") == "1" {
		main()
		return
	}
	goleak.VerifyTestMain(m)
}

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
	go func() {
		done <- servecmd.Run(ctx, "workspace-server", args, logs, func(in *server.Instance) { ready <- in })
	}()
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
		err := servecmd.Run(context.Background(), "workspace-server", args, &syncBuffer{}, nil)
		assert.Error(t, err, "%v", args)
		assert.False(t, errors.Is(err, context.Canceled))
	}
}

// TestSIGTERMKillsSandboxes runs the command as a process, starts a
// background process in a sandbox, and checks that SIGTERM ends the server
// cleanly (exit 0) and the sandbox's processes with it.
func TestSIGTERMKillsSandboxes(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o711))
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o711))
	cmd := exec.Command(os.Args[0], "-port", "0", "-nfs-port", "-1", "-data-dir", filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(), "WORKSPACE_SERVER_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill() }()

	// The listening log line carries the URL.
	lines := bufio.NewScanner(stderr)
	var url string
	for url == "" && lines.Scan() {
		if m := regexp.MustCompile(`url=(http://\S+)`).FindStringSubmatch(lines.Text()); m != nil {
			url = m[1]
		}
	}
	require.NotEmpty(t, url, "no listening line")
	go func() { _, _ = io.Copy(io.Discard, stderr) }()

	ctx := context.Background()
	c, err := workspace.NewClient(url)
	require.NoError(t, err)
	defer c.Close()
	ws, err := c.Workspace.Create(ctx, nil)
	require.NoError(t, err)
	sb, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
	require.NoError(t, err)
	_, err = c.Process.Shell(ctx, sb.ID, "sleep 4242 >/dev/null 2>&1 &", nil)
	require.NoError(t, err)
	require.True(t, sleeperAlive(t), "the background process did not start")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "exit status after SIGTERM")
	case <-time.After(30 * time.Second):
		t.Fatal("server did not exit after SIGTERM")
	}
	assert.False(t, sleeperAlive(t), "a sandbox process outlived the server")
}

// sleeperAlive reports whether a "sleep 4242" process runs on the host.
func sleeperAlive(t *testing.T) bool {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	require.NoError(t, err)
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && string(b) == "sleep\x004242\x00" {
			return true
		}
	}
	return false
}
