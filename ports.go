package workspace

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"

	"github.com/coder/websocket"
	"github.com/elevo/workspace-sdk-go/internal/netsplice"
)

func portPath(sandboxID string, port int, rest string) string {
	return sandboxPath(sandboxID, "/ports/"+strconv.Itoa(port)+rest)
}

// DialPort connects to TCP port on 127.0.0.1 inside the sandbox (its own
// network namespace) and returns the connection, carried over a WebSocket
// to the server, which holds the socket the sandbox's agent connected. Like
// net.Dialer.DialContext, ctx (and the Client's timeout) bounds the dial
// only; once connected the connection lives until it is closed or either
// end closes it.
//
// Nothing listening on the port is an *Error with code 8001
// (PortNotReachable, HTTP 502). Needs the "ports" feature (else
// ErrUnsupported).
func (s *SandboxService) DialPort(ctx context.Context, sandboxID string, port int) (net.Conn, error) {
	const op = "dial port"
	if err := s.c.requireFeature(ctx, op, FeaturePorts); err != nil {
		return nil, err
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("workspace: %s: bad port %d", op, port)
	}
	u := s.c.endpointURL(portPath(sandboxID, port, "/connect"), nil)
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	var conn *websocket.Conn
	handshake := func(req *http.Request) (*http.Response, error) {
		hdr := req.Header.Clone()
		hdr.Del("Accept")
		c, resp, err := websocket.Dial(req.Context(), u.String(), &websocket.DialOptions{
			HTTPClient:      s.c.hc,
			HTTPHeader:      hdr,
			CompressionMode: websocket.CompressionDisabled,
		})
		switch {
		case err == nil:
			conn = c
			return resp, nil
		case resp != nil && resp.StatusCode != http.StatusSwitchingProtocols:
			return resp, nil // an answer to classify (502/8001: ErrPortNotReachable)
		}
		return nil, err
	}
	// The handshake is a GET, retried like any read; the client timeout
	// bounds it up to the 101 answer, and ctx only the dial.
	resp, err := s.c.roundTrip(ctx, &apiRequest{op: op, method: http.MethodGet, path: portPath(sandboxID, port, "/connect"), scope: untilHeaders}, handshake)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return netsplice.WebSocket(context.Background(), conn), nil
}

// PreviewURL returns the absolute URL under which the server proxies HTTP
// (and WebSocket upgrades) to port inside the sandbox, for a browser or
// any HTTP client. With auth on the URL carries a token valid for that
// sandbox and port only, while the sandbox lives: treat it as a secret.
// Needs the "ports" feature (else ErrUnsupported).
func (s *SandboxService) PreviewURL(ctx context.Context, sandboxID string, port int) (string, error) {
	const op = "preview url"
	if err := s.c.requireFeature(ctx, op, FeaturePorts); err != nil {
		return "", err
	}
	var out struct {
		URL string `json:"url"`
	}
	if err := s.c.callJSON(ctx, &apiRequest{op: op, method: http.MethodGet, path: portPath(sandboxID, port, "/url")}, &out); err != nil {
		return "", err
	}
	return out.URL, nil
}

// ForwardPort listens on localAddr ("127.0.0.1:0" picks a free port) and
// carries every accepted connection to port inside the sandbox through
// DialPort, like kubectl port-forward. A connection whose dial fails
// (nothing listening yet) is closed at once; the forward keeps accepting.
// The forward runs until Close or until ctx ends. Needs the "ports"
// feature (else ErrUnsupported).
func (s *SandboxService) ForwardPort(ctx context.Context, sandboxID string, port int, localAddr string) (*PortForward, error) {
	if err := s.c.requireFeature(ctx, "forward port", FeaturePorts); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", localAddr)
	if err != nil {
		return nil, fmt.Errorf("workspace: forward port: %w", err)
	}
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	pf := &PortForward{ln: ln, ctx: fctx, cancel: cancel, conns: map[net.Conn]struct{}{}}
	dial := func(ctx context.Context) (net.Conn, error) { return s.DialPort(ctx, sandboxID, port) }
	pf.wg.Add(1)
	go pf.acceptLoop(dial)
	pf.stop = context.AfterFunc(ctx, func() { pf.Close() })
	return pf, nil
}

// PortForward is a running ForwardPort: a local listener whose
// connections reach a port inside a sandbox.
type PortForward struct {
	ln     net.Listener
	ctx    context.Context
	cancel context.CancelFunc
	stop   func() bool
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool

	closeOnce sync.Once
}

// Addr returns the local address the forward listens on.
func (pf *PortForward) Addr() net.Addr { return pf.ln.Addr() }

// Close stops listening, closes every forwarded connection and returns
// once all of the forward's goroutines have ended. Idempotent.
func (pf *PortForward) Close() error {
	pf.closeOnce.Do(func() {
		if pf.stop != nil {
			pf.stop()
		}
		pf.cancel()
		pf.ln.Close()
		pf.mu.Lock()
		pf.closed = true
		for c := range pf.conns {
			c.Close()
		}
		pf.mu.Unlock()
		pf.wg.Wait()
	})
	return nil
}

func (pf *PortForward) acceptLoop(dial func(context.Context) (net.Conn, error)) {
	defer pf.wg.Done()
	for {
		c, err := pf.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		if !pf.track(c) {
			return
		}
		pf.wg.Add(1)
		go func() {
			defer pf.wg.Done()
			defer pf.untrack(c)
			remote, err := dial(pf.ctx)
			if err != nil {
				c.Close()
				return
			}
			if !pf.track(remote) {
				c.Close()
				return
			}
			defer pf.untrack(remote)
			netsplice.Splice(c, remote)
		}()
	}
}

// track registers c for Close; false (and c closed) once closed.
func (pf *PortForward) track(c net.Conn) bool {
	pf.mu.Lock()
	defer pf.mu.Unlock()
	if pf.closed {
		c.Close()
		return false
	}
	pf.conns[c] = struct{}{}
	return true
}

func (pf *PortForward) untrack(c net.Conn) {
	pf.mu.Lock()
	delete(pf.conns, c)
	pf.mu.Unlock()
}
