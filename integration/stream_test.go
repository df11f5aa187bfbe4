package integration

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// streamFixture is one full-mode server with a running sandbox, shared by
// the streaming subtests to keep the suite light.
func streamFixture(t *testing.T) (*workspacetest.Server, *workspace.Client, string) {
	t.Helper()
	srv := workspacetest.NewServer(t)
	c := srv.Client()
	_, sb := newSandbox(t, c, nil)
	return srv, c, sb.ID
}

// waitSleepGone polls ps in sandbox sid until no "sleep 600 marker" runs,
// failing (the process still running after what) when ctx ends first.
func waitSleepGone(t *testing.T, ctx context.Context, c *workspace.Client, sid, marker, after string) {
	t.Helper()
	for {
		res, err := c.Process.Run(ctx, sid, "ps", &workspace.RunCommandOptions{Args: []string{"-eo", "args"}})
		require.NoError(t, err)
		if !strings.Contains(res.Stdout, "sleep 600 "+marker) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("process still running after %s:\n%s", after, res.Stdout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func shOpts(script string) *workspace.RunCommandOptions {
	return &workspace.RunCommandOptions{Args: []string{"-c", script}}
}

// TestIntegrationStream is not parallel: its memory check reads the heap
// of the whole test process.
func TestIntegrationStream(t *testing.T) {
	_, c, sid := streamFixture(t)

	t.Run("StdoutStderrInOrder", func(t *testing.T) {
		ctx := ctxFor(t)
		script := `for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done; exit 7`
		var out, errb bytes.Buffer
		var types []workspace.EventType
		var pid, code int
		for ev, err := range c.Process.RunStream(ctx, sid, "sh", shOpts(script)) {
			require.NoError(t, err)
			types = append(types, ev.Type)
			switch ev.Type {
			case workspace.EventStart:
				pid = ev.PID
			case workspace.EventStdout:
				out.Write(ev.Data)
			case workspace.EventStderr:
				errb.Write(ev.Data)
			case workspace.EventExit:
				code = ev.Code
			}
		}
		require.NotEmpty(t, types)
		assert.Equal(t, workspace.EventStart, types[0])
		assert.Equal(t, workspace.EventExit, types[len(types)-1])
		assert.Positive(t, pid)
		assert.Equal(t, 7, code)
		assert.Equal(t, "out1\nout2\nout3\nout4\nout5\n", out.String())
		assert.Equal(t, "err1\nerr2\nerr3\nerr4\nerr5\n", errb.String())
	})

	t.Run("WritersAndExactBytes", func(t *testing.T) {
		ctx := ctxFor(t)
		var out bytes.Buffer
		opts := shOpts(`printf 'a\000\377b'`)
		opts.Stdout = &out
		for _, err := range c.Process.RunStream(ctx, sid, "sh", opts) {
			require.NoError(t, err)
		}
		assert.Equal(t, []byte("a\x00\xffb"), out.Bytes())
	})

	t.Run("FirstEventBeforeEnd", func(t *testing.T) {
		ctx := ctxFor(t)
		// The command cannot finish until the test has seen "a": it waits
		// for a file the test creates only then.
		script := `echo a; while [ ! -e /tmp/go-on ]; do sleep 0.05; done; echo b`
		var got []string
		for ev, err := range c.Process.RunStream(ctx, sid, "sh", shOpts(script)) {
			require.NoError(t, err)
			if ev.Type == workspace.EventStdout {
				got = append(got, string(ev.Data))
				if string(ev.Data) == "a\n" {
					_, err := c.Process.Exec(ctx, sid, "touch", "/tmp/go-on")
					require.NoError(t, err)
				}
			}
		}
		assert.Equal(t, "a\nb\n", strings.Join(got, ""))
	})

	t.Run("KillByPID", func(t *testing.T) {
		ctx := ctxFor(t)
		var exit *workspace.ProcessEvent
		for ev, err := range c.Process.RunStream(ctx, sid, "sh", shOpts(`echo ready; exec sleep 600`)) {
			require.NoError(t, err)
			switch ev.Type {
			case workspace.EventStart:
				require.NoError(t, c.Process.Kill(ctx, sid, ev.PID, workspace.SIGTERM))
			case workspace.EventExit:
				exit = &ev
			}
		}
		require.NotNil(t, exit)
		assert.Equal(t, 128+int(workspace.SIGTERM), exit.Code)
	})

	t.Run("KillUnknownPID", func(t *testing.T) {
		err := c.Process.Kill(ctxFor(t), sid, 999999, workspace.SIGTERM)
		assert.ErrorIs(t, err, workspace.ErrProcessNotFound)
	})

	t.Run("CancelKillsProcess", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctxFor(t))
		marker := "stream-cancel-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		for ev, err := range c.Process.RunStream(ctx, sid, "sh", shOpts(`echo up; exec sleep 600 `+marker)) {
			if err != nil {
				assert.ErrorIs(t, err, context.Canceled)
				break
			}
			if ev.Type == workspace.EventStdout {
				cancel()
			}
		}
		cancel()
		// The server kills the group when it sees the client go; poll until
		// the process is gone (bounded by the test's ctx, not asserted on
		// time).
		waitSleepGone(t, ctxFor(t), c, sid, marker, "cancel")
	})

	t.Run("BreakKillsProcess", func(t *testing.T) {
		ctx := ctxFor(t)
		marker := "stream-break-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		for ev, err := range c.Process.RunStream(ctx, sid, "sh", shOpts(`echo up; exec sleep 600 `+marker)) {
			require.NoError(t, err)
			if ev.Type == workspace.EventStdout {
				break
			}
		}
		waitSleepGone(t, ctx, c, sid, marker, "break")
	})

	t.Run("Timeout", func(t *testing.T) {
		ctx := ctxFor(t)
		opts := shOpts(`echo started; exec sleep 600`)
		opts.Timeout = 300 * time.Millisecond
		var gotErr error
		var sawErrEvent bool
		for ev, err := range c.Process.RunStream(ctx, sid, "sh", opts) {
			if err != nil {
				gotErr = err
				break
			}
			if ev.Type == workspace.EventError {
				sawErrEvent = true
				assert.Equal(t, 4002, ev.Code)
			}
			assert.NotEqual(t, workspace.EventExit, ev.Type)
		}
		require.Error(t, gotErr)
		assert.ErrorIs(t, gotErr, workspace.ErrProcessTimeout)
		assert.True(t, sawErrEvent)
	})

	t.Run("BadQuery", func(t *testing.T) {
		ctx := ctxFor(t)
		for _, err := range c.Process.RunStream(ctx, "no-such-sandbox", "true", nil) {
			assert.ErrorIs(t, err, workspace.ErrSandboxNotFound)
		}
	})

	t.Run("Stdin", func(t *testing.T) {
		ctx := ctxFor(t)
		var out bytes.Buffer
		opts := &workspace.RunCommandOptions{Stdin: []byte("hello\x00stdin"), Stdout: &out}
		for _, err := range c.Process.RunStream(ctx, sid, "cat", opts) {
			require.NoError(t, err)
		}
		assert.Equal(t, "hello\x00stdin", out.String())
	})

	t.Run("100MBBoundedMemory", func(t *testing.T) {
		ctx := ctxFor(t)
		const total = 100 << 20
		// Sample the heap of this process (server and client) while a slow
		// reader pauses: a server that buffered without bound would hold
		// most of the 100 MB at once.
		var peak atomic.Uint64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ms runtime.MemStats
			for {
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		var n int64
		paused := false
		for ev, err := range c.Process.RunStream(ctx, sid, "head", &workspace.RunCommandOptions{Args: []string{"-c", strconv.Itoa(total), "/dev/zero"}}) {
			require.NoError(t, err)
			if ev.Type == workspace.EventStdout {
				if !paused {
					paused = true
					time.Sleep(time.Second) // a slow reader: the producer must block
				}
				n += int64(len(ev.Data))
				if raceEnabled() && n >= 8<<20 {
					break
				}
			}
			if ev.Type == workspace.EventExit {
				assert.Equal(t, 0, ev.Code)
			}
		}
		close(stop)
		wg.Wait()
		if !raceEnabled() {
			assert.EqualValues(t, total, n)
		}
		grown := int64(peak.Load()) - int64(base.HeapInuse)
		t.Logf("heap in use grew by at most %d KiB while streaming 100 MiB", grown>>10)
		assert.Less(t, grown, int64(48<<20), "server buffered output without bound")
	})
}

func TestIntegrationStreamServerKilled(t *testing.T) {
	t.Parallel()
	srv, c, sid := streamFixture(t)
	ctx := ctxFor(t)
	var gotErr error
	for ev, err := range c.Process.RunStream(ctx, sid, "sh", shOpts(`echo up; exec sleep 600`)) {
		if err != nil {
			gotErr = err
			break
		}
		if ev.Type == workspace.EventStdout {
			srv.Close()
		}
	}
	require.Error(t, gotErr)
	assert.True(t, errors.Is(gotErr, workspace.ErrStreamInterrupted), "got %v", gotErr)
}

// TestIntegrationStreamBaseMode runs RunStream against a server without
// process.stream: the SDK falls back to the run call, so the command runs
// for real (its side effect shows) and the events carry its real output and
// exit code.
func TestIntegrationStreamBaseMode(t *testing.T) {
	t.Parallel()
	srv := workspacetest.NewServer(t, workspacetest.WithBaseMode())
	c := srv.Client()
	ws, sb := newSandbox(t, c, nil)
	ctx := ctxFor(t)
	var evs []workspace.ProcessEvent
	for ev, err := range c.Process.RunStream(ctx, sb.ID, "sh", shOpts("touch marker && echo out && echo err >&2 && exit 3")) {
		require.NoError(t, err)
		evs = append(evs, ev)
	}
	assert.Equal(t, []workspace.ProcessEvent{
		{Type: workspace.EventStdout, Data: []byte("out\n")},
		{Type: workspace.EventStderr, Data: []byte("err\n")},
		{Type: workspace.EventExit, Code: 3},
	}, evs)
	ok, err := c.Workspace.Exists(ctx, ws.ID, "marker")
	require.NoError(t, err)
	assert.True(t, ok, "the command did not run: no marker file")
}
