package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// portServerPy is the server the ports tests start in a sandbox: GET
// answers "hello <path> auth=<Authorization header>", POST echoes its
// body, and a WebSocket upgrade (any path) echoes every message.
const portServerPy = `
import base64, hashlib, http.server, struct, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return self.echo()
        self.reply(("hello %s auth=%s cookie=%s" % (self.path, self.headers.get("Authorization", ""), self.headers.get("Cookie", ""))).encode())
    def do_POST(self):
        self.reply(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
    def echo(self):
        key = self.headers["Sec-WebSocket-Key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", base64.b64encode(hashlib.sha1(key.encode()).digest()).decode())
        self.end_headers()
        self.wfile.flush()
        r, w = self.rfile, self.wfile
        while True:
            h = r.read(2)
            if len(h) < 2:
                return
            op, n = h[0] & 15, h[1] & 127
            if n == 126:
                n = struct.unpack(">H", r.read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", r.read(8))[0]
            mask = r.read(4) if h[1] & 128 else b"\0\0\0\0"
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(r.read(n)))
            if op == 9:
                op = 10
            hdr = bytes([0x80 | op])
            if len(data) < 126:
                hdr += bytes([len(data)])
            elif len(data) < 65536:
                hdr += bytes([126]) + struct.pack(">H", len(data))
            else:
                hdr += bytes([127]) + struct.pack(">Q", len(data))
            w.write(hdr + data)
            w.flush()
            if op == 8:
                return
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
`

// startPortServer starts portServerPy on port in the sandbox and waits
// until DialPort reaches it.
func startPortServer(t *testing.T, ctx context.Context, c *workspace.Client, wsID, sbID string, port int) {
	t.Helper()
	require.NoError(t, c.Workspace.WriteFile(ctx, wsID, "portserver.py", []byte(portServerPy)))
	_, err := c.Process.Shell(ctx, sbID, fmt.Sprintf("/usr/bin/python3 /workspace/portserver.py %d >/workspace/portserver.log 2>&1 &", port), nil)
	require.NoError(t, err)
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := c.Sandbox.DialPort(ctx, sbID, port)
		if err == nil {
			conn.Close()
			return
		}
		requirePortNotReachable(t, err)
		if time.Now().After(deadline) {
			log, _ := c.Workspace.ReadFile(ctx, wsID, "portserver.log")
			t.Fatalf("port %d never answered; server log: %s", port, log)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}

// requirePortNotReachable checks that err is the 502/8001 answer.
func requirePortNotReachable(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, workspace.ErrPortNotReachable)
	var apiErr *workspace.Error
	require.ErrorAs(t, err, &apiErr)
	require.EqualValues(t, 8001, apiErr.Code, "%v", err)
	require.Equal(t, http.StatusBadGateway, apiErr.StatusCode)
}

// getBody GETs u with hc and returns status and body.
func getBody(t *testing.T, ctx context.Context, hc *http.Client, u string, hdr http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestIntegrationPorts(t *testing.T) {
	srv := workspacetest.NewServer(t)
	c := srv.Client()
	ctx := ctxFor(t)
	ws, sb := newSandbox(t, c, nil)
	const port = 8765
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()

	// Nothing listening yet: 502/8001 on every path.
	_, err := c.Sandbox.DialPort(ctx, sb.ID, port)
	requirePortNotReachable(t, err)
	preview, err := c.Sandbox.PreviewURL(ctx, sb.ID, port)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(preview, srv.URL+"/api/v1/sandboxes/"+sb.ID+"/ports/8765/http/"), preview)
	code, body := getBody(t, ctx, hc, preview, nil)
	require.Equal(t, http.StatusBadGateway, code)
	require.Contains(t, body, `"code":8001`)

	startPortServer(t, ctx, c, ws.ID, sb.ID, port)

	t.Run("DialPort", func(t *testing.T) {
		conn, err := c.Sandbox.DialPort(ctx, sb.ID, port)
		require.NoError(t, err)
		defer conn.Close()
		require.NoError(t, conn.SetDeadline(time.Now().Add(20*time.Second)))
		_, err = fmt.Fprintf(conn, "GET /dial HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		assert.Equal(t, "hello /dial auth= cookie=", string(b))
		// The server closed: so does our end.
		_, err = conn.Read(make([]byte, 1))
		assert.Error(t, err)
	})

	t.Run("ForwardPort", func(t *testing.T) {
		pf, err := c.Sandbox.ForwardPort(ctx, sb.ID, port, "127.0.0.1:0")
		require.NoError(t, err)
		base := "http://" + pf.Addr().String()
		for i := range 3 {
			code, body := getBody(t, ctx, hc, fmt.Sprintf("%s/fwd/%d", base, i), nil)
			require.Equal(t, http.StatusOK, code)
			require.Equal(t, fmt.Sprintf("hello /fwd/%d auth= cookie=", i), body)
		}
		// A POST body both ways, larger than one buffer.
		big := strings.Repeat("0123456789abcdef", 40<<10)
		resp, err := hc.Post(base+"/echo", "text/plain", strings.NewReader(big))
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, big, string(b))
		hc.CloseIdleConnections()
		require.NoError(t, pf.Close())
		require.NoError(t, pf.Close())
		_, err = hc.Get(base + "/after-close")
		require.Error(t, err)
	})

	t.Run("PreviewURL", func(t *testing.T) {
		code, body := getBody(t, ctx, hc, preview+"sub/page?q=1", nil)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "hello /sub/page?q=1 auth= cookie=", body)
	})

	t.Run("WebSocketThroughPreview", func(t *testing.T) {
		wsURL := "ws" + strings.TrimPrefix(preview, "http") + "echo"
		conn, _, err := websocket.Dial(ctx, wsURL, nil)
		require.NoError(t, err)
		defer conn.CloseNow()
		conn.SetReadLimit(1 << 20)
		for _, msg := range []string{"ping", strings.Repeat("x", 70000)} {
			require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte(msg)))
			typ, got, err := conn.Read(ctx)
			require.NoError(t, err)
			require.Equal(t, websocket.MessageText, typ)
			require.Equal(t, msg, string(got))
		}
		require.NoError(t, conn.Close(websocket.StatusNormalClosure, ""))
	})

	t.Run("BadPort", func(t *testing.T) {
		_, err := c.Sandbox.DialPort(ctx, sb.ID, 70000)
		require.Error(t, err)
		code, _ := getBody(t, ctx, hc, srv.URL+"/api/v1/sandboxes/"+sb.ID+"/ports/0/http/", nil)
		require.Equal(t, http.StatusBadRequest, code)
	})
}

func TestIntegrationPortsAuth(t *testing.T) {
	srv := workspacetest.NewServer(t, workspacetest.WithAPIKey("port-secret-key"))
	c := srv.Client()
	ctx := ctxFor(t)
	ws, sb := newSandbox(t, c, nil)
	_, other := newSandbox(t, c, nil)
	const port = 8766
	startPortServer(t, ctx, c, ws.ID, sb.ID, port)
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()

	preview, err := c.Sandbox.PreviewURL(ctx, sb.ID, port)
	require.NoError(t, err)
	base, query, ok := strings.Cut(preview, "?")
	require.True(t, ok, "no token in %s", preview)

	// The token opens the port without the API key, and neither the key
	// nor the token reaches the sandboxed server.
	code, body := getBody(t, ctx, hc, base+"a?"+query, nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "hello /a auth= cookie=", body)
	code, body = getBody(t, ctx, hc, base+"b", http.Header{"Authorization": {"Bearer port-secret-key"}, "Cookie": {"app=1"}})
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "hello /b auth= cookie=app=1", body)

	// The cookie set on the first visit opens the page's own links.
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	jhc := &http.Client{Transport: hc.Transport, Jar: jar}
	code, _ = getBody(t, ctx, jhc, preview, nil)
	require.Equal(t, http.StatusOK, code)
	code, body = getBody(t, ctx, jhc, base+"linked.css", nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "hello /linked.css auth= cookie=", body)

	// Nothing else opens with it: no token, another port, another
	// sandbox, another route, a forged token.
	denied := []string{
		base + "a",
		strings.Replace(base, "/ports/8766/", "/ports/8767/", 1) + "a?" + query,
		strings.Replace(base, sb.ID, other.ID, 1) + "a?" + query,
		srv.URL + "/api/v1/sandboxes?" + query,
		srv.URL + "/api/v1/sandboxes/" + sb.ID + "/ports/8766/url?" + query,
		srv.URL + "/api/v1/sandboxes/" + sb.ID + "/ports/8766/connect?" + query,
		base + "a?preview_token=AAAA" + strings.Repeat("A", 39),
		srv.URL + "/api/v1/sandboxes/" + sb.ID + "/ports/8766/http/../../../../workspaces?" + query,
	}
	for _, u := range denied {
		code, body := getBody(t, ctx, hc, u, nil)
		assert.Equal(t, http.StatusUnauthorized, code, "%s: %s", u, body)
	}

	// The SDK reaches the port with its key.
	conn, err := c.Sandbox.DialPort(ctx, sb.ID, port)
	require.NoError(t, err)
	conn.Close()
	_, err = c.Sandbox.DialPort(ctx, other.ID, port)
	requirePortNotReachable(t, err)
}

// TestIntegrationPortsUnsupported: a server without the feature.
func TestIntegrationPortsUnsupported(t *testing.T) {
	srv := workspacetest.NewServer(t, workspacetest.WithBaseMode())
	c := srv.Client()
	ctx := ctxFor(t)
	_, err := c.Sandbox.DialPort(ctx, "x", 80)
	require.True(t, errors.Is(err, workspace.ErrUnsupported), "%v", err)
	_, err = c.Sandbox.ForwardPort(ctx, "x", 80, "127.0.0.1:0")
	require.ErrorIs(t, err, workspace.ErrUnsupported)
	_, err = c.Sandbox.PreviewURL(ctx, "x", 80)
	require.ErrorIs(t, err, workspace.ErrUnsupported)
}
