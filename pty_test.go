package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wsReply answers a scripted request with a WebSocket served by fn; the
// reply's handler returns once fn has.
func wsReply(t *testing.T, fn func(ctx context.Context, c *websocket.Conn)) reply {
	return reply{handler: func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer c.CloseNow()
		fn(r.Context(), c)
	}}
}

func exitFrame(code int) []byte {
	b, _ := json.Marshal(map[string]any{"type": "exit", "exit_code": code})
	return b
}

func TestPTYCreate(t *testing.T) {
	f := newFake(t, nil)
	f.ok(`{"id":"p1","cols":80,"rows":24}`)
	info, err := f.c.PTY.Create(ctxT(t), "sb/1", nil)
	require.NoError(t, err)
	assert.Equal(t, &PTYInfo{ID: "p1", Cols: 80, Rows: 24}, info)
	r := f.only()
	assert.Equal(t, "POST", r.Method)
	assert.Equal(t, "/sandboxes/sb%2F1/pty", r.Path)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	assert.JSONEq(t, `{"cols":80,"rows":24}`, string(r.Body))
}

func TestPTYCreateOptions(t *testing.T) {
	f := newFake(t, nil)
	f.ok(`{"id":"p2","cols":120,"rows":40}`)
	opts := &PTYOptions{Cols: 120, Rows: 40, Shell: "/bin/sh", Env: map[string]string{"TERM": "dumb"}}
	info, err := f.c.PTY.Create(ctxT(t), "sb", opts)
	require.NoError(t, err)
	assert.Equal(t, 120, info.Cols)
	assert.JSONEq(t, `{"cols":120,"rows":40,"shell":"/bin/sh","env":{"TERM":"dumb"}}`, string(f.only().Body))
}

func TestPTYCreateErrors(t *testing.T) {
	f := newFake(t, nil)
	f.script(
		reply{status: 404, body: `{"code":2001,"message":"Sandbox not found"}`},
		reply{status: 200, body: `not json`},
	)
	_, err := f.c.PTY.Create(ctxT(t), "nope", nil)
	assert.ErrorIs(t, err, ErrSandboxNotFound)
	_, err = f.c.PTY.Create(ctxT(t), "sb", nil)
	assert.ErrorContains(t, err, "decode")

	ctx, cancel := context.WithCancel(ctxT(t))
	cancel()
	_, err = f.c.PTY.Create(ctx, "sb", nil)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestPTYResizeKill(t *testing.T) {
	f := newFake(t, nil)
	f.ok(`{"success":true}`, `{"success":true}`)
	require.NoError(t, f.c.PTY.Resize(ctxT(t), "sb", "p1", 100, 50))
	require.NoError(t, f.c.PTY.Kill(ctxT(t), "sb", "p1"))
	rs := f.requests()
	require.Len(t, rs, 2)
	assert.Equal(t, "POST", rs[0].Method)
	assert.Equal(t, "/sandboxes/sb/pty/p1/resize", rs[0].Path)
	assert.JSONEq(t, `{"cols":100,"rows":50}`, string(rs[0].Body))
	assert.Equal(t, "DELETE", rs[1].Method)
	assert.Equal(t, "/sandboxes/sb/pty/p1", rs[1].Path)

	f.script(reply{status: 404, body: `{"code":4101,"message":"PTY not found"}`},
		reply{status: 404, body: `{"code":4101,"message":"PTY not found"}`})
	assert.ErrorIs(t, f.c.PTY.Resize(ctxT(t), "sb", "zz", 1, 1), ErrPTYNotFound)
	assert.ErrorIs(t, f.c.PTY.Kill(ctxT(t), "sb", "zz"), ErrPTYNotFound)
}

func TestPTYConnectUnsupported(t *testing.T) {
	f := newFake(t, []string{"binary"})
	_, err := f.c.PTY.Connect(ctxT(t), "sb", nil)
	assert.ErrorIs(t, err, ErrUnsupported)
	_, err = f.c.PTY.Attach(ctxT(t), "sb", "p1")
	assert.ErrorIs(t, err, ErrUnsupported)
	assert.Empty(t, f.requests())
}

func TestPTYSessionReadWriteWait(t *testing.T) {
	f := newFake(t, []string{"pty"})
	f.ok(`{"id":"p1","cols":80,"rows":24}`)
	f.script(wsReply(t, func(ctx context.Context, c *websocket.Conn) {
		if err := c.Write(ctx, websocket.MessageBinary, []byte("$ ")); err != nil {
			t.Error(err)
			return
		}
		typ, in, err := c.Read(ctx)
		if err != nil {
			t.Error(err)
			return
		}
		assert.Equal(t, websocket.MessageBinary, typ)
		_ = c.Write(ctx, websocket.MessageBinary, append([]byte("got "), in...))
		_ = c.Write(ctx, websocket.MessageText, exitFrame(3))
		_ = c.Close(websocket.StatusNormalClosure, "")
	}))
	sess, err := f.c.PTY.Connect(ctxT(t), "sb", nil)
	require.NoError(t, err)
	defer sess.Close()
	assert.Equal(t, "p1", sess.ID())
	rs := f.requests()
	require.Len(t, rs, 2)
	assert.Equal(t, "GET", rs[1].Method)
	assert.Equal(t, "/sandboxes/sb/pty/p1", rs[1].Path)
	assert.Equal(t, "websocket", rs[1].Header.Get("Upgrade"))

	buf := make([]byte, 2)
	_, err = io.ReadFull(sess, buf)
	require.NoError(t, err)
	assert.Equal(t, "$ ", string(buf))
	n, err := sess.WriteString("ls\n")
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	rest, err := io.ReadAll(sess)
	require.NoError(t, err)
	assert.Equal(t, "got ls\n", string(rest))
	code, err := sess.Wait(ctxT(t))
	require.NoError(t, err)
	assert.Equal(t, 3, code)
	_, err = sess.WriteString("x")
	assert.Error(t, err)
	require.NoError(t, sess.Close())
	require.NoError(t, sess.Close())
}

func TestPTYSessionOnDataOnClose(t *testing.T) {
	f := newFake(t, []string{"pty"})
	release := make(chan struct{})
	f.script(wsReply(t, func(ctx context.Context, c *websocket.Conn) {
		_ = c.Write(ctx, websocket.MessageBinary, []byte("one,"))
		<-release
		_ = c.Write(ctx, websocket.MessageBinary, []byte("two,"))
		_ = c.Write(ctx, websocket.MessageText, []byte("three")) // text output is output too
		_ = c.Write(ctx, websocket.MessageText, exitFrame(0))
		_ = c.Close(websocket.StatusNormalClosure, "")
	}))
	sess, err := f.c.PTY.Attach(ctxT(t), "sb", "p1")
	require.NoError(t, err)
	defer sess.Close()
	// "one," may already be buffered for Read: OnData gets it first.
	var mu sync.Mutex
	var got string
	closed := make(chan struct{})
	sess.OnClose(func() { close(closed) })
	sess.OnData(func(b []byte) {
		mu.Lock()
		got += string(b)
		mu.Unlock()
	})
	close(release)
	<-closed
	mu.Lock()
	assert.Equal(t, "one,two,three", got)
	mu.Unlock()
	n, err := sess.Read(make([]byte, 8))
	assert.Equal(t, 0, n)
	assert.Equal(t, io.EOF, err)
	code, err := sess.Wait(ctxT(t))
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	// OnClose after the end runs at once.
	ran := false
	sess.OnClose(func() { ran = true })
	assert.True(t, ran)
}

func TestPTYSessionInterrupted(t *testing.T) {
	f := newFake(t, []string{"pty"})
	f.script(wsReply(t, func(ctx context.Context, c *websocket.Conn) {
		_ = c.Write(ctx, websocket.MessageBinary, []byte("partial"))
		_ = c.CloseNow() // drop without exit
	}))
	sess, err := f.c.PTY.Attach(ctxT(t), "sb", "p1")
	require.NoError(t, err)
	defer sess.Close()
	out, err := io.ReadAll(sess)
	assert.Equal(t, "partial", string(out))
	assert.ErrorIs(t, err, ErrStreamInterrupted)
	_, err = sess.Wait(ctxT(t))
	assert.ErrorIs(t, err, ErrStreamInterrupted)
}

func TestPTYSessionNotFound(t *testing.T) {
	f := newFake(t, []string{"pty"})
	f.script(reply{status: 404, body: `{"code":4101,"message":"PTY not found: zz"}`})
	_, err := f.c.PTY.Attach(ctxT(t), "sb", "zz")
	assert.ErrorIs(t, err, ErrPTYNotFound)
	var apiErr *Error
	require.True(t, errors.As(err, &apiErr))
	assert.Equal(t, 404, apiErr.StatusCode)

	// A server may also close an upgraded socket with status 4101.
	f.script(wsReply(t, func(ctx context.Context, c *websocket.Conn) {
		_ = c.Close(4101, "PTY not found")
	}))
	sess, err := f.c.PTY.Attach(ctxT(t), "sb", "zz")
	require.NoError(t, err)
	defer sess.Close()
	_, err = sess.Wait(ctxT(t))
	assert.ErrorIs(t, err, ErrPTYNotFound)
}

func TestPTYConnectDialFailureKills(t *testing.T) {
	f := newFake(t, []string{"pty"})
	f.ok(`{"id":"p9","cols":80,"rows":24}`)
	f.script(reply{status: 500, body: `{"code":1003,"message":"boom"}`})
	f.ok(`{"success":true}`)
	_, err := f.c.PTY.Connect(ctxT(t), "sb", nil)
	require.Error(t, err)
	rs := f.requests()
	require.Len(t, rs, 3)
	assert.Equal(t, "DELETE", rs[2].Method)
	assert.Equal(t, "/sandboxes/sb/pty/p9", rs[2].Path)
}

func TestPTYSessionCloseUnblocksRead(t *testing.T) {
	f := newFake(t, []string{"pty"})
	f.script(holdSocket(t))
	sess, err := f.c.PTY.Attach(ctxT(t), "sb", "p1")
	require.NoError(t, err)
	readErr := make(chan error, 1)
	go func() {
		_, err := sess.Read(make([]byte, 8))
		readErr <- err
	}()
	require.NoError(t, sess.Close())
	assert.Equal(t, io.EOF, <-readErr)
	_, err = sess.Wait(ctxT(t))
	assert.ErrorIs(t, err, net.ErrClosed)
	_, err = sess.Write([]byte("x"))
	assert.ErrorIs(t, err, net.ErrClosed)

	ctx, cancel := context.WithTimeout(ctxT(t), time.Millisecond)
	defer cancel()
	<-ctx.Done()
	_, err = sess.Wait(ctx) // already ended: Wait does not need ctx
	assert.Error(t, err)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
}

func TestPTYSessionWaitCtx(t *testing.T) {
	f := newFake(t, []string{"pty"})
	f.script(holdSocket(t))
	sess, err := f.c.PTY.Attach(ctxT(t), "sb", "p1")
	require.NoError(t, err)
	defer sess.Close()
	ctx, cancel := context.WithCancel(ctxT(t))
	cancel()
	_, err = sess.Wait(ctx)
	assert.ErrorIs(t, err, context.Canceled)
}

// holdSocket serves a PTY socket that stays open until the client goes: it
// keeps reading, which answers the close handshake.
func holdSocket(t *testing.T) reply {
	return wsReply(t, func(ctx context.Context, c *websocket.Conn) {
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	})
}

// TestPTYCloseRule checks who kills the shell on Close: a session from
// Connect does (DELETE), unless KeepOnClose; a session from Attach never.
func TestPTYCloseRule(t *testing.T) {
	t.Parallel()
	t.Run("Connect kills", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, []string{"pty"})
		f.ok(`{"id":"p1","cols":80,"rows":24}`)
		f.script(holdSocket(t))
		f.ok(`{"success":true}`)
		sess, err := f.c.PTY.Connect(ctxT(t), "sb", nil)
		require.NoError(t, err)
		require.NoError(t, sess.Close())
		rs := f.requests()
		require.Len(t, rs, 3)
		assert.Equal(t, "DELETE", rs[2].Method)
		assert.Equal(t, "/sandboxes/sb/pty/p1", rs[2].Path)
		require.NoError(t, sess.Close()) // idempotent, no second kill
		assert.Len(t, f.requests(), 3)
	})
	t.Run("Connect KeepOnClose detaches", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, []string{"pty"})
		f.ok(`{"id":"p1","cols":80,"rows":24}`)
		f.script(holdSocket(t))
		sess, err := f.c.PTY.Connect(ctxT(t), "sb", &PTYOptions{KeepOnClose: true})
		require.NoError(t, err)
		require.NoError(t, sess.Close())
		assert.Len(t, f.requests(), 2)
	})
	t.Run("Attach detaches", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, []string{"pty"})
		f.script(holdSocket(t))
		sess, err := f.c.PTY.Attach(ctxT(t), "sb", "p1")
		require.NoError(t, err)
		require.NoError(t, sess.Close())
		assert.Len(t, f.requests(), 1)
	})
	t.Run("kill error", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, []string{"pty"})
		f.ok(`{"id":"p1","cols":80,"rows":24}`)
		f.script(holdSocket(t))
		f.script(reply{status: 500, body: `{"code":1003,"message":"boom"}`})
		sess, err := f.c.PTY.Connect(ctxT(t), "sb", nil)
		require.NoError(t, err)
		assert.ErrorIs(t, sess.Close(), ErrInternal)
	})
}

func TestPTYList(t *testing.T) {
	t.Parallel()
	f := newFake(t, []string{"pty"})
	f.ok(`{"ptys":[{"id":"a","cols":80,"rows":24},{"id":"b","cols":100,"rows":30}]}`)
	list, err := f.c.PTY.List(ctxT(t), "sb 1")
	require.NoError(t, err)
	assert.Equal(t, []*PTYInfo{{ID: "a", Cols: 80, Rows: 24}, {ID: "b", Cols: 100, Rows: 30}}, list)
	r := f.only()
	assert.Equal(t, "GET", r.Method)
	assert.Equal(t, "/sandboxes/sb%201/pty", r.Path)

	g := newFake(t, nil)
	_, err = g.c.PTY.List(ctxT(t), "sb")
	assert.ErrorIs(t, err, ErrUnsupported)
	assert.Empty(t, g.requests())
}
