package integration

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// termReader accumulates a session's output and waits for text in it.
type termReader struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	cond *sync.Cond
	err  error
	done chan struct{}
}

// openShell connects a PTY session (closed when the test ends) and starts
// reading its terminal.
func openShell(t *testing.T, ctx context.Context, c *workspace.Client, sandboxID string, opts *workspace.PTYOptions) (*workspace.PTYSession, *termReader) {
	t.Helper()
	sess, err := c.PTY.Connect(ctx, sandboxID, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sess.Close() })
	return sess, readTerm(sess)
}

// typeLine writes s to the session's terminal.
func typeLine(t *testing.T, sess *workspace.PTYSession, s string) {
	t.Helper()
	_, err := sess.WriteString(s)
	require.NoError(t, err)
}

// exitShell types the exit command line into the session's shell and
// checks the exit status Wait reports.
func exitShell(t *testing.T, ctx context.Context, sess *workspace.PTYSession, line string, want int) {
	t.Helper()
	typeLine(t, sess, line+"\n")
	code, err := sess.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, want, code)
}

// readTerm pumps sess into a termReader until the session ends.
func readTerm(sess io.Reader) *termReader {
	tr := &termReader{done: make(chan struct{})}
	tr.cond = sync.NewCond(&tr.mu)
	go func() {
		defer close(tr.done)
		b := make([]byte, 4096)
		for {
			n, err := sess.Read(b)
			tr.mu.Lock()
			tr.buf.Write(b[:n])
			if err != nil {
				tr.err = err
			}
			tr.cond.Broadcast()
			tr.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return tr
}

// waitFor waits until the output contains s (after offset from), returning
// the output; it fails the test when ctx ends or the session ends first.
func (tr *termReader) waitFor(t *testing.T, ctx context.Context, s string) string {
	t.Helper()
	stop := context.AfterFunc(ctx, func() {
		tr.mu.Lock()
		tr.cond.Broadcast()
		tr.mu.Unlock()
	})
	defer stop()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for !strings.Contains(tr.buf.String(), s) {
		if tr.err != nil || ctx.Err() != nil {
			t.Fatalf("waiting for %q (err %v, ctx %v); output so far:\n%q", s, tr.err, ctx.Err(), tr.buf.String())
		}
		tr.cond.Wait()
	}
	return tr.buf.String()
}

func TestIntegrationPTY(t *testing.T) {
	t.Parallel()
	srv := workspacetest.NewServer(t)
	c := srv.Client()
	_, sb := newSandbox(t, c, nil)
	sh := &workspace.PTYOptions{Shell: "/bin/sh", Env: map[string]string{"PS1": "$ "}}

	t.Run("TypedCommand", func(t *testing.T) {
		ctx := ctxFor(t)
		sess, tr := openShell(t, ctx, c, sb.ID, sh)
		typeLine(t, sess, "echo $((6*7)) in $(pwd)\n")
		tr.waitFor(t, ctx, "42 in /workspace")
		exitShell(t, ctx, sess, "exit", 0)
		<-tr.done
		assert.Equal(t, io.EOF, tr.err)
	})

	t.Run("Resize", func(t *testing.T) {
		ctx := ctxFor(t)
		sess, tr := openShell(t, ctx, c, sb.ID, &workspace.PTYOptions{Cols: 100, Rows: 30, Shell: "/bin/sh"})
		typeLine(t, sess, "stty size\n")
		tr.waitFor(t, ctx, "30 100")
		require.NoError(t, sess.Resize(ctx, 132, 43))
		typeLine(t, sess, "stty size\n")
		tr.waitFor(t, ctx, "43 132")
		require.NoError(t, sess.Kill(ctx))
		code, err := sess.Wait(ctx)
		require.NoError(t, err)
		assert.Equal(t, 128+9, code)
	})

	t.Run("CtrlC", func(t *testing.T) {
		ctx := ctxFor(t)
		sess, tr := openShell(t, ctx, c, sb.ID, sh)
		typeLine(t, sess, "sleep 600\n")
		// Wait until sleep runs (visible from another process) before ^C.
		for {
			res, err := c.Process.Run(ctx, sb.ID, "ps", &workspace.RunCommandOptions{Args: []string{"-eo", "args"}})
			require.NoError(t, err)
			if strings.Contains(res.Stdout, "sleep 600") {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		typeLine(t, sess, "\x03")
		typeLine(t, sess, "echo status=$?\n")
		tr.waitFor(t, ctx, "status=130")
		exitShell(t, ctx, sess, "exit 3", 3)
	})

	t.Run("ReattachKeepsOutput", func(t *testing.T) {
		ctx := ctxFor(t)
		keep := *sh
		keep.KeepOnClose = true
		sess, err := c.PTY.Connect(ctx, sb.ID, &keep)
		require.NoError(t, err)
		id := sess.ID()
		tr := readTerm(sess)
		typeLine(t, sess, "i=0; while [ $i -lt 40 ]; do echo tick$i; i=$((i+1)); sleep 0.05; done; echo finished\n")
		tr.waitFor(t, ctx, "tick1\r\n")
		require.NoError(t, sess.Close()) // KeepOnClose: drop the socket, the shell keeps going
		<-tr.done

		sess2, err := c.PTY.Attach(ctx, sb.ID, id)
		require.NoError(t, err)
		defer sess2.Close()
		tr2 := readTerm(sess2)
		out := tr2.waitFor(t, ctx, "finished")
		assert.Contains(t, out, "tick39")
		// Output produced while detached was kept: the replay plus the live
		// part cover every tick after the drop.
		all := tr.buf.String() + out
		for i := 2; i < 40; i++ {
			assert.Contains(t, all, "tick"+strconv.Itoa(i)+"\r\n")
		}
		exitShell(t, ctx, sess2, "exit 5", 5)
	})

	t.Run("OnData", func(t *testing.T) {
		ctx := ctxFor(t)
		sess, err := c.PTY.Connect(ctx, sb.ID, sh)
		require.NoError(t, err)
		defer sess.Close()
		var mu sync.Mutex
		var got bytes.Buffer
		closed := make(chan struct{})
		sess.OnClose(func() { close(closed) })
		sess.OnData(func(b []byte) {
			mu.Lock()
			got.Write(b)
			mu.Unlock()
		})
		typeLine(t, sess, "echo on-data-$((1+1)); exit 0\n")
		<-closed
		mu.Lock()
		assert.Contains(t, got.String(), "on-data-2")
		mu.Unlock()
	})

	t.Run("ListAndCloseKills", func(t *testing.T) {
		ctx := ctxFor(t)
		sess, err := c.PTY.Connect(ctx, sb.ID, &workspace.PTYOptions{Shell: "/bin/sh", Cols: 100, Rows: 30})
		require.NoError(t, err)
		list, err := c.PTY.List(ctx, sb.ID)
		require.NoError(t, err)
		assert.Contains(t, list, &workspace.PTYInfo{ID: sess.ID(), Cols: 100, Rows: 30})
		require.NoError(t, sess.Close()) // from Connect: kills the shell
		list, err = c.PTY.List(ctx, sb.ID)
		require.NoError(t, err)
		for _, p := range list {
			assert.NotEqual(t, sess.ID(), p.ID, "a closed Connect session left its shell")
		}
		_, err = c.PTY.Attach(ctx, sb.ID, sess.ID())
		assert.ErrorIs(t, err, workspace.ErrPTYNotFound)
	})

	t.Run("ContextBoundsSession", func(t *testing.T) {
		ctx := ctxFor(t)
		sctx, cancel := context.WithCancel(ctx)
		sess, err := c.PTY.Connect(sctx, sb.ID, sh)
		require.NoError(t, err)
		defer sess.Close()
		tr := readTerm(sess)
		typeLine(t, sess, "echo before-cancel\n")
		tr.waitFor(t, ctx, "before-cancel\r\n")
		cancel()
		<-tr.done
		assert.ErrorIs(t, tr.err, context.Canceled)
		_, err = sess.Wait(ctx)
		assert.ErrorIs(t, err, context.Canceled)

		// Only the session ended: the shell is still there to reattach to.
		sess2, err := c.PTY.Attach(ctx, sb.ID, sess.ID())
		require.NoError(t, err)
		defer sess2.Close()
		tr2 := readTerm(sess2)
		typeLine(t, sess2, "echo after-$((2+2))\n")
		tr2.waitFor(t, ctx, "after-4")
		require.NoError(t, sess2.Kill(ctx))
	})

	t.Run("NotFound", func(t *testing.T) {
		ctx := ctxFor(t)
		_, err := c.PTY.Attach(ctx, sb.ID, "00000000-0000-4000-8000-000000000000")
		assert.ErrorIs(t, err, workspace.ErrPTYNotFound)
		assert.ErrorIs(t, c.PTY.Resize(ctx, sb.ID, "nope", 80, 24), workspace.ErrPTYNotFound)
		assert.ErrorIs(t, c.PTY.Kill(ctx, sb.ID, "nope"), workspace.ErrPTYNotFound)
		_, err = c.PTY.Connect(ctx, "no-such-sandbox", nil)
		assert.ErrorIs(t, err, workspace.ErrSandboxNotFound)
	})

	t.Run("KilledPTYIsGone", func(t *testing.T) {
		ctx := ctxFor(t)
		info, err := c.PTY.Create(ctx, sb.ID, sh)
		require.NoError(t, err)
		assert.Equal(t, 80, info.Cols)
		assert.Equal(t, 24, info.Rows)
		require.NoError(t, c.PTY.Kill(ctx, sb.ID, info.ID))
		_, err = c.PTY.Attach(ctx, sb.ID, info.ID)
		assert.ErrorIs(t, err, workspace.ErrPTYNotFound)
	})
}

func TestIntegrationPTYAuth(t *testing.T) {
	t.Parallel()
	srv := workspacetest.NewServer(t, workspacetest.WithAPIKey("sekret"))
	c := srv.Client()
	_, sb := newSandbox(t, c, nil)
	ctx := ctxFor(t)
	info, err := c.PTY.Create(ctx, sb.ID, nil)
	require.NoError(t, err)
	bad, err := workspace.NewClient(srv.URL, workspace.WithAPIKey("wrong"))
	require.NoError(t, err)
	defer bad.Close()
	_, err = bad.PTY.Attach(ctx, sb.ID, info.ID)
	assert.ErrorIs(t, err, workspace.ErrUnauthorized)
	sess, err := c.PTY.Attach(ctx, sb.ID, info.ID)
	require.NoError(t, err)
	require.NoError(t, sess.Kill(ctx))
	_, err = sess.Wait(ctx)
	require.NoError(t, err)
	require.NoError(t, sess.Close())
}

func TestIntegrationPTYBaseMode(t *testing.T) {
	t.Parallel()
	srv := workspacetest.NewServer(t, workspacetest.WithBaseMode())
	c := srv.Client()
	_, sb := newSandbox(t, c, nil)
	_, err := c.PTY.Connect(ctxFor(t), sb.ID, nil)
	assert.ErrorIs(t, err, workspace.ErrUnsupported)
}
