//go:build linux

package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/internal/sandbox"
	"github.com/elevo/workspace-sdk-go/internal/server"
	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// configuredServer starts a reference server with settings workspacetest
// has no option for (retention, ring and queue sizes) and returns its
// base URL. It is closed by t.Cleanup.
func configuredServer(t *testing.T, set func(*server.Config)) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "detachtest-") // t.TempDir's parent is private to root
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o711))
	cfg := server.Config{
		DataDir: dir, HTTPAddr: "127.0.0.1:0", NFSAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	set(&cfg)
	in, err := server.Listen(cfg)
	if errors.Is(err, sandbox.ErrBwrapMissing) {
		t.Skipf("bubblewrap is not installed: %v", err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { in.Close() })
	return in.URL
}

// newClient returns a client for url, closed by t.Cleanup.
func newClient(t *testing.T, url string, opts ...workspace.Option) *workspace.Client {
	t.Helper()
	c, err := workspace.NewClient(url, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// collect reads a process's events to the end and returns its stdout,
// stderr, the exit code and the gap events seen.
func collect(t *testing.T, ctx context.Context, p *workspace.Process) (stdout, stderr string, code int, gaps []int64) {
	t.Helper()
	var o, e bytes.Buffer
	code = -1
	for ev, err := range p.Events(ctx) {
		require.NoError(t, err)
		switch ev.Type {
		case workspace.EventStdout:
			o.Write(ev.Data)
		case workspace.EventStderr:
			e.Write(ev.Data)
		case workspace.EventGap:
			gaps = append(gaps, ev.Dropped)
		case workspace.EventExit:
			code = ev.Code
		}
	}
	return o.String(), e.String(), code, gaps
}

func TestDetachStartInfoListAttachKill(t *testing.T) {
	c, _, sb := sandboxFixture(t, nil)
	ctx := ctxFor(t)

	p, err := c.Process.Start(ctx, sb.ID, "sh", &workspace.StartOptions{Args: []string{"-c", "echo ready; exec sleep 600"}})
	require.NoError(t, err)
	require.Positive(t, p.PID)

	info, err := p.Info(ctx)
	require.NoError(t, err)
	assert.True(t, info.Running, "Start returns while the process runs")
	assert.Equal(t, "sh", info.Command)
	assert.Equal(t, []string{"-c", "echo ready; exec sleep 600"}, info.Args)
	assert.Equal(t, "/workspace", info.Cwd)
	assert.False(t, info.StartedAt.IsZero())
	assert.True(t, info.EndedAt.IsZero())

	list, err := c.Process.List(ctx, sb.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, p.PID, list[0].PID)

	a, err := c.Process.Attach(ctx, sb.ID, p.PID)
	require.NoError(t, err)
	// Events replays from the first event, then follows live.
	var seen []workspace.EventType
	ectx, cancel := context.WithCancel(ctx)
	for ev, err := range a.Events(ectx) {
		require.NoError(t, err)
		seen = append(seen, ev.Type)
		if ev.Type == workspace.EventStdout {
			assert.Equal(t, "ready\n", string(ev.Data))
			break
		}
	}
	cancel()
	assert.Equal(t, []workspace.EventType{workspace.EventStart, workspace.EventStdout}, seen)

	require.NoError(t, a.Kill(ctx, workspace.SIGKILL))
	code, err := p.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, 128+9, code)

	info, err = p.Info(ctx)
	require.NoError(t, err)
	assert.False(t, info.Running)
	assert.Equal(t, 137, info.ExitCode)
	assert.False(t, info.EndedAt.IsZero())

	_, err = c.Process.Attach(ctx, sb.ID, 999999)
	assert.ErrorIs(t, err, workspace.ErrProcessNotFound)
}

func TestDetachReplayAfterExit(t *testing.T) {
	c, _, sb := sandboxFixture(t, nil)
	ctx := ctxFor(t)

	p, err := c.Process.Start(ctx, sb.ID, "sh", &workspace.StartOptions{Args: []string{"-c", "echo one; echo two >&2; exit 4"}})
	require.NoError(t, err)
	code, err := p.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, 4, code)
	// Every retained event comes again, to every reader.
	for range 2 {
		out, errOut, code, gaps := collect(t, ctx, p)
		assert.Equal(t, "one\n", out)
		assert.Equal(t, "two\n", errOut)
		assert.Equal(t, 4, code)
		assert.Empty(t, gaps)
	}
}

func TestDetachStdin(t *testing.T) {
	c, _, sb := sandboxFixture(t, nil)
	ctx := ctxFor(t)

	p, err := c.Process.Start(ctx, sb.ID, "cat", &workspace.StartOptions{Stdin: []byte("first\n"), OpenStdin: true})
	require.NoError(t, err)
	require.NoError(t, p.WriteStdin(ctx, []byte("second\n")))
	require.NoError(t, p.WriteStdin(ctx, []byte{0, 0xff, '\n'}))
	require.NoError(t, p.CloseStdin(ctx))
	require.NoError(t, p.CloseStdin(ctx), "closing twice is not an error")
	out, _, code, _ := collect(t, ctx, p)
	assert.Equal(t, "first\nsecond\n\x00\xff\n", out)
	assert.Equal(t, 0, code)

	// Without OpenStdin, stdin cannot be written.
	q, err := c.Process.Start(ctx, sb.ID, "cat", &workspace.StartOptions{Stdin: []byte("only")})
	require.NoError(t, err)
	err = q.WriteStdin(ctx, []byte("more"))
	assert.ErrorIs(t, err, workspace.ErrInvalidParameter)
	out, _, _, _ = collect(t, ctx, q)
	assert.Equal(t, "only", out)
}

func TestDetachStartErrors(t *testing.T) {
	c, _, sb := sandboxFixture(t, nil)
	ctx := ctxFor(t)

	_, err := c.Process.Start(ctx, sb.ID, "/no/such/command", nil)
	assert.ErrorIs(t, err, workspace.ErrProcessExecutionFailed)
	_, err = c.Process.Start(ctx, "no-such-sandbox", "true", nil)
	assert.ErrorIs(t, err, workspace.ErrSandboxNotFound)

	base := workspacetest.NewServer(t, workspacetest.WithBaseMode())
	bc := base.Client()
	_, bsb := newSandbox(t, bc, nil)
	_, err = bc.Process.Start(ctx, bsb.ID, "true", nil)
	assert.ErrorIs(t, err, workspace.ErrUnsupported)
	_, err = bc.Process.List(ctx, bsb.ID)
	assert.ErrorIs(t, err, workspace.ErrUnsupported)
}

func TestDetachTimeout(t *testing.T) {
	c, _, sb := sandboxFixture(t, nil)
	ctx := ctxFor(t)
	p, err := c.Process.Start(ctx, sb.ID, "sleep", &workspace.StartOptions{Args: []string{"600"}, Timeout: 200 * time.Millisecond})
	require.NoError(t, err)
	_, err = p.Wait(ctx)
	assert.ErrorIs(t, err, workspace.ErrProcessTimeout)
}

func TestDetachExitedStaysListedForRetention(t *testing.T) {
	url := configuredServer(t, func(c *server.Config) { c.ProcessRetention = 300 * time.Millisecond })
	c := newClient(t, url)
	ctx := ctxFor(t)
	_, sb := newSandbox(t, c, nil)
	p, err := c.Process.Start(ctx, sb.ID, "true", nil)
	require.NoError(t, err)
	code, err := p.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 0, code)
	list, err := c.Process.List(ctx, sb.ID)
	require.NoError(t, err)
	require.Len(t, list, 1, "an exited process stays listed")
	assert.False(t, list[0].Running)
	assert.Equal(t, 0, list[0].ExitCode)
	eventually(t, "the exited process to be forgotten", func() bool {
		list, err := c.Process.List(ctx, sb.ID)
		require.NoError(t, err)
		return len(list) == 0
	})
	_, err = p.Info(ctx)
	assert.ErrorIs(t, err, workspace.ErrProcessNotFound)
}

func TestDetachProcessesDieWithSandbox(t *testing.T) {
	c, _, sb := sandboxFixture(t, nil)
	ctx := ctxFor(t)
	p, err := c.Process.Start(ctx, sb.ID, "sleep", &workspace.StartOptions{Args: []string{"600"}})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { _, err := p.Wait(ctx); done <- err }()
	require.NoError(t, c.Sandbox.Delete(ctx, sb.ID, &workspace.DeleteSandboxOptions{Force: true}))
	err = <-done
	require.Error(t, err)
	assert.ErrorIs(t, err, workspace.ErrInvalidSandboxState)
}

func TestDetachKeepsRunningWhenClientGoes(t *testing.T) {
	srv := workspacetest.NewServer(t)
	ctx := ctxFor(t)
	first := srv.Client()
	_, sb := newSandbox(t, first, nil)
	p, err := first.Process.Start(ctx, sb.ID, "sh", &workspace.StartOptions{Args: []string{"-c", "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.05; done"}})
	require.NoError(t, err)
	// The first client follows a little, then goes away entirely.
	ectx, cancel := context.WithCancel(ctx)
	for ev, err := range p.Events(ectx) {
		require.NoError(t, err)
		if ev.Type == workspace.EventStdout {
			break
		}
	}
	cancel()
	require.NoError(t, first.Close())

	second := srv.Client()
	a, err := second.Process.Attach(ctx, sb.ID, p.PID)
	require.NoError(t, err)
	info, err := a.Info(ctx)
	require.NoError(t, err)
	assert.True(t, info.Running)
	var out strings.Builder
	ectx, cancel = context.WithCancel(ctx)
	for ev, err := range a.Events(ectx) {
		require.NoError(t, err)
		out.Write(ev.Data)
		if strings.Contains(out.String(), "tick 20\n") {
			break
		}
	}
	cancel()
	assert.True(t, strings.HasPrefix(out.String(), "tick 0\ntick 1\n"), "replay starts at the first event")
	require.NoError(t, a.Kill(ctx, workspace.SIGTERM))
	code, err := a.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, 128+15, code)
}

func TestDetachRingBoundGivesGap(t *testing.T) {
	c, _, sb := sandboxFixture(t, nil)
	ctx := ctxFor(t)
	const total = 4 << 20 // four times the ring
	p, err := c.Process.Start(ctx, sb.ID, "head", &workspace.StartOptions{Args: []string{"-c", fmt.Sprint(total), "/dev/urandom"}})
	require.NoError(t, err)
	// Nobody follows: the ring keeps the last MiB and drops the rest.
	eventually(t, "the process to exit", func() bool {
		info, err := p.Info(ctx)
		require.NoError(t, err)
		return !info.Running
	})
	out, _, code, gaps := collect(t, ctx, p)
	assert.Equal(t, 0, code)
	require.Len(t, gaps, 1)
	assert.Equal(t, int64(total), gaps[0]+int64(len(out)), "dropped plus replayed is everything")
	assert.GreaterOrEqual(t, len(out), 1<<20-64<<10, "at least about 1 MiB is kept")
}

// cutProxy is a TCP proxy in front of the server whose connections the
// test can cut mid-stream.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	opened int // connections accepted
	wg     sync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *cutProxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.opened++
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(out, in); out.Close() }()
		go func() { defer p.wg.Done(); io.Copy(in, out); in.Close() }()
	}
}

// cut closes every open connection, in the middle of whatever they carry.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestDetachEventsResumeThroughCutConnections(t *testing.T) {
	srv := workspacetest.NewServer(t)
	ctx := ctxFor(t)
	_, sb := newSandbox(t, srv.Client(), nil)
	proxy := newCutProxy(t, strings.TrimPrefix(srv.URL, "http://"))
	c := newClient(t, proxy.URL())

	// 1000 lines a second for 10 seconds.
	const lines = 10000
	script := fmt.Sprintf(`i=1; while [ $i -le %d ]; do echo "line $i of the stream"; if [ $((i %% 100)) = 0 ]; then sleep 0.1; fi; i=$((i+1)); done`, lines)
	p, err := c.Process.Start(ctx, sb.ID, "sh", &workspace.StartOptions{Args: []string{"-c", script}})
	require.NoError(t, err)
	var want strings.Builder
	for i := 1; i <= lines; i++ {
		fmt.Fprintf(&want, "line %d of the stream\n", i)
	}

	var got bytes.Buffer
	cuts, code := 0, -1
	for ev, err := range p.Events(ctx) {
		require.NoError(t, err)
		switch ev.Type {
		case workspace.EventGap:
			t.Fatalf("gap of %d bytes", ev.Dropped)
		case workspace.EventStdout:
			got.Write(ev.Data)
			// Cut three times, at a quarter, half and three quarters.
			if cuts < 3 && got.Len() > (cuts+1)*want.Len()/4 {
				cuts++
				proxy.cut()
			}
		case workspace.EventExit:
			code = ev.Code
		}
	}
	assert.Equal(t, 3, cuts)
	proxy.mu.Lock()
	assert.GreaterOrEqual(t, proxy.opened, 4, "Events reconnected after each cut")
	proxy.mu.Unlock()
	assert.Equal(t, 0, code)
	require.Equal(t, want.Len(), got.Len(), "no byte lost or repeated")
	assert.True(t, want.String() == got.String(), "the output is byte-identical")
}
