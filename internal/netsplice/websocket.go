package netsplice

import (
	"context"
	"net"

	"github.com/coder/websocket"
)

// WebSocket returns c as a net.Conn carrying binary messages, like
// websocket.NetConn, except that Close runs the closing handshake first.
// websocket.NetConn's Close cancels a Read in progress before it closes,
// and that cancellation closes the TCP connection at once: a copy blocked
// in Read (as in Splice) then cut the connection before the close frame
// went out, and the peer read a bare EOF instead of the end of the stream.
func WebSocket(ctx context.Context, c *websocket.Conn) net.Conn {
	return &wsConn{Conn: websocket.NetConn(ctx, c, websocket.MessageBinary), ws: c}
}

type wsConn struct {
	net.Conn
	ws *websocket.Conn
}

// Close sends the close frame and waits for the peer's (a Read in
// progress returns io.EOF), then releases the adapter.
func (w *wsConn) Close() error {
	err := w.ws.Close(websocket.StatusNormalClosure, "")
	_ = w.Conn.Close() // the connection is closed already; this frees the adapter's contexts
	return err
}
