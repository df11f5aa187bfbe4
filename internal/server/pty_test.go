//go:build !windows

package server

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func ptyURL(ts *testServer, sid, id string) string {
	return "ws" + strings.TrimPrefix(ts.url, "http") + "/api/v1/sandboxes/" + sid + "/pty/" + id
}

// dialPTY opens the PTY WebSocket at u, closed when the (sub)test ends.
func dialPTY(t *testing.T, ctx context.Context, u string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// sendPTY sends input to the shell as one binary frame.
func sendPTY(t *testing.T, ctx context.Context, c *websocket.Conn, input string) {
	t.Helper()
	if err := c.Write(ctx, websocket.MessageBinary, []byte(input)); err != nil {
		t.Fatal(err)
	}
}

// readUntil reads binary frames until their concatenation contains s.
func readUntil(t *testing.T, ctx context.Context, c *websocket.Conn, s string) string {
	t.Helper()
	var out bytes.Buffer
	for !strings.Contains(out.String(), s) {
		typ, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read (want %q, have %q): %v", s, out.String(), err)
		}
		if typ == websocket.MessageBinary {
			out.Write(b)
		}
	}
	return out.String()
}

func TestPTYWire(t *testing.T) {
	ts, sid := newRealServer(t, func(c *Config) { c.PTYPingInterval = 100 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	m := ts.want(ts.do("POST", "/api/v1/sandboxes/"+sid+"/pty", map[string]any{"shell": "/bin/sh"}), 200, 0)
	id := m["id"].(string)
	if m["cols"].(float64) != 80 || m["rows"].(float64) != 24 {
		t.Errorf("create: %v", m)
	}

	t.Run("Errors", func(t *testing.T) {
		ts.want(ts.do("GET", "/api/v1/sandboxes/"+sid+"/pty/nope", nil), 404, 4101)
		ts.want(ts.do("POST", "/api/v1/sandboxes/"+sid+"/pty/nope/resize", map[string]any{"cols": 10, "rows": 10}), 404, 4101)
		ts.want(ts.do("DELETE", "/api/v1/sandboxes/"+sid+"/pty/nope", nil), 404, 4101)
		ts.want(ts.do("POST", "/api/v1/sandboxes/"+sid+"/pty/"+id+"/resize", map[string]any{"cols": 0, "rows": 10}), 400, 1002)
		ts.want(ts.do("POST", "/api/v1/sandboxes/nope/pty", map[string]any{}), 404, 2001)
		ts.want(ts.do("POST", "/api/v1/sandboxes/"+sid+"/pty", map[string]any{"cols": -1}), 400, 1002)
	})

	t.Run("DeadPeerIsDropped", func(t *testing.T) {
		// A peer that never reads never answers pings: the server drops it
		// (without an exit frame) and the PTY stays for the next socket.
		c := dialPTY(t, ctx, ptyURL(ts, sid, id))
		sendPTY(t, ctx, c, "echo before-drop\n")
		// No reads: the unanswered pings make the server drop the socket.
		eventually(t, "the unanswered socket is dropped", func() bool {
			pe := ts.ptys.get(sid, id)
			pe.mu.Lock()
			defer pe.mu.Unlock()
			return pe.att == nil
		})
		var gotErr error
		for gotErr == nil {
			var typ websocket.MessageType
			typ, _, gotErr = c.Read(ctx)
			if typ == websocket.MessageText {
				t.Fatal("unexpected text frame: the shell did not exit")
			}
		}
		if websocket.CloseStatus(gotErr) == websocket.StatusNormalClosure {
			t.Fatalf("dropped peer saw a normal close: %v", gotErr)
		}

		c2 := dialPTY(t, ctx, ptyURL(ts, sid, id))
		sendPTY(t, ctx, c2, "echo after-$((1+1))\n")
		readUntil(t, ctx, c2, "after-2")
	})
}

func TestPTYBacklogBounded(t *testing.T) {
	e := &ptyEntry{}
	chunk := bytes.Repeat([]byte("x"), ptyChunk)
	for range 2 * ptyBacklog / ptyChunk {
		e.emit(chunk)
	}
	e.emit([]byte("END"))
	if len(e.backlog) != ptyBacklog {
		t.Fatalf("backlog %d bytes, want %d", len(e.backlog), ptyBacklog)
	}
	if !bytes.HasSuffix(e.backlog, []byte("xEND")) {
		t.Error("backlog lost the newest output")
	}
	// A detached attachment is skipped: output goes to the backlog.
	a := &ptyAttachment{out: make(chan []byte), gone: make(chan struct{})}
	e.backlog = nil
	e.attach(a)
	a.detach()
	e.emit([]byte("late"))
	if string(e.backlog) != "late" || e.att != nil {
		t.Errorf("backlog %q, attached %v", e.backlog, e.att != nil)
	}
}

func TestPTYNewSocketReplacesOld(t *testing.T) {
	ts, sid := newRealServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id := ts.want(ts.do("POST", "/api/v1/sandboxes/"+sid+"/pty", map[string]any{"shell": "/bin/sh"}), 200, 0)["id"].(string)
	{
		a := dialPTY(t, ctx, ptyURL(ts, sid, id))
		b := dialPTY(t, ctx, ptyURL(ts, sid, id))
		for {
			if _, _, err := a.Read(ctx); err != nil {
				break // the old socket is closed by the server
			}
		}
		sendPTY(t, ctx, b, "exit 6\n")
		for {
			typ, data, err := b.Read(ctx)
			if err != nil {
				t.Fatalf("no exit frame: %v", err)
			}
			if typ == websocket.MessageText {
				if string(data) != `{"exit_code":6,"type":"exit"}` && string(data) != `{"type":"exit","exit_code":6}` {
					t.Errorf("exit frame %s", data)
				}
				break
			}
		}
		_, _, err := b.Read(ctx)
		if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
			t.Errorf("close after exit: %v", err)
		}
		// Its exit was delivered: the PTY is gone.
		ts.want(ts.do("DELETE", "/api/v1/sandboxes/"+sid+"/pty/"+id, nil), 404, 4101)
	}
}
