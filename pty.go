package workspace

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// PTYService opens interactive terminals in sandboxes. Use it through
// Client.PTY. Connect and Attach need a server that advertises the "pty"
// feature; Create, Resize and Kill are part of the base protocol.
type PTYService struct{ c *Client }

// PTYInfo describes a PTY on the server, as PTYService.Create and List
// return it.
type PTYInfo struct {
	// ID identifies the PTY in its sandbox; pass it to Attach, Resize and
	// Kill.
	ID string
	// Cols is the terminal width in columns.
	Cols int
	// Rows is the terminal height in rows.
	Rows int
}

// wirePTY is the PTY object of the create and list answers.
type wirePTY struct {
	ID   string `json:"id"`
	Cols int    `json:"cols"`
	Rows int    `json:"rows"`
}

func (w *wirePTY) toPTYInfo() *PTYInfo { return &PTYInfo{ID: w.ID, Cols: w.Cols, Rows: w.Rows} }

// Defaults of PTYOptions and limits of a PTYSession.
const (
	defaultPTYCols = 80
	defaultPTYRows = 24

	// ptyReadBuffer bounds the output a session keeps for Read while nobody
	// reads; past it the session stops reading the socket, which in turn
	// stalls the remote shell (back-pressure).
	ptyReadBuffer = 1 << 20

	// ptyMaxMessage bounds one WebSocket message from the server.
	ptyMaxMessage = 16 << 20

	// closeCodePTYNotFound is the WebSocket close status a server may use
	// for an unknown PTY id (same number as the REST error code).
	closeCodePTYNotFound websocket.StatusCode = 4101

	// ptyKillTimeout bounds the kill a session's Close (or a failed
	// Connect) sends.
	ptyKillTimeout = 5 * time.Second
)

// errSessionClosed is what Write and Wait report after Close; it matches
// net.ErrClosed.
var errSessionClosed = fmt.Errorf("workspace: PTY session closed: %w", net.ErrClosed)

func ptyPath(sandboxID string, rest ...string) string {
	p := "/sandboxes/" + url.PathEscape(sandboxID) + "/pty"
	for _, r := range rest {
		p += "/" + url.PathEscape(r)
	}
	return p
}

// Create starts a shell on a new PTY in sandbox sandboxID without
// connecting to it. Nil opts means 80x24 and the server's default shell
// (/bin/bash, or /bin/sh when bash is absent). Errors: ErrSandboxNotFound,
// ErrInvalidSandboxState, ErrPTYLimitExceeded and other *Error values.
func (s *PTYService) Create(ctx context.Context, sandboxID string, opts *PTYOptions) (*PTYInfo, error) {
	body := struct {
		Cols  int               `json:"cols"`
		Rows  int               `json:"rows"`
		Shell string            `json:"shell,omitempty"`
		Env   map[string]string `json:"env,omitempty"`
	}{Cols: defaultPTYCols, Rows: defaultPTYRows}
	if opts != nil {
		if opts.Cols > 0 {
			body.Cols = opts.Cols
		}
		if opts.Rows > 0 {
			body.Rows = opts.Rows
		}
		body.Shell, body.Env = opts.Shell, opts.Env
	}
	var info wirePTY
	if err := s.c.callJSON(ctx, &apiRequest{op: "create pty", method: http.MethodPost, path: ptyPath(sandboxID), body: body}, &info); err != nil {
		return nil, err
	}
	return info.toPTYInfo(), nil
}

// Resize sets the terminal size of PTY ptyID. Errors: ErrPTYNotFound for an
// unknown id, ErrSandboxNotFound, and other *Error values.
func (s *PTYService) Resize(ctx context.Context, sandboxID, ptyID string, cols, rows int) error {
	body := struct {
		Cols int `json:"cols"`
		Rows int `json:"rows"`
	}{cols, rows}
	return s.c.callJSON(ctx, &apiRequest{op: "resize pty", method: http.MethodPost, path: ptyPath(sandboxID, ptyID, "resize"), body: body}, nil)
}

// Kill kills the shell of PTY ptyID and everything it started. Connected
// sessions then see the shell's exit. Errors: ErrPTYNotFound for an unknown
// id, ErrSandboxNotFound, and other *Error values.
func (s *PTYService) Kill(ctx context.Context, sandboxID, ptyID string) error {
	return s.c.callJSON(ctx, &apiRequest{op: "kill pty", method: http.MethodDelete, path: ptyPath(sandboxID, ptyID)}, nil)
}

// Connect creates a PTY in sandbox sandboxID (see Create for opts) and
// connects a session to it. The caller must Close the session; Close kills
// the shell (unless opts.KeepOnClose is set, when it detaches and leaves
// the shell running for Attach). ctx bounds the session's lifetime: when it
// ends, the socket is dropped and Read and Wait report ctx's error (Close
// still kills the shell). The client timeout (WithTimeout) bounds only the
// setup. Otherwise the session lives until the shell exits, the connection
// drops or Close is called.
//
// Errors: an error wrapping ErrUnsupported when the server does not
// advertise the "pty" feature (upstream's PTY never sends output), and
// those of Create. When the WebSocket handshake fails after the PTY was
// created, the PTY is killed.
func (s *PTYService) Connect(ctx context.Context, sandboxID string, opts *PTYOptions) (*PTYSession, error) {
	if err := s.c.requireFeature(ctx, "connect pty", FeaturePTY); err != nil {
		return nil, err
	}
	info, err := s.Create(ctx, sandboxID, opts)
	if err != nil {
		return nil, err
	}
	sess, err := s.dial(ctx, sandboxID, info.ID)
	if err != nil {
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ptyKillTimeout)
		defer cancel()
		_ = s.Kill(kctx, sandboxID, info.ID)
		return nil, err
	}
	sess.killOnClose = opts == nil || !opts.KeepOnClose
	return sess, nil
}

// Attach connects a new session to the existing PTY ptyID (see List), for
// example after a dropped connection or from another process. The server
// replays the output the shell produced while no session was connected (up
// to a bounded buffer). Closing an attached session detaches: the shell
// keeps running (end it with Kill). ctx bounds the session's lifetime, as
// for Connect. Errors: ErrPTYNotFound for an unknown id, an error wrapping
// ErrUnsupported when the server lacks the "pty" feature.
func (s *PTYService) Attach(ctx context.Context, sandboxID, ptyID string) (*PTYSession, error) {
	if err := s.c.requireFeature(ctx, "attach pty", FeaturePTY); err != nil {
		return nil, err
	}
	return s.dial(ctx, sandboxID, ptyID)
}

// List returns the PTYs of sandbox sandboxID (shells started with Connect
// or Create that were not killed), sorted by id, with their current size.
// Errors: an error wrapping ErrUnsupported when the server lacks the "pty"
// feature, ErrSandboxNotFound, ErrInvalidSandboxState (not running), and
// other *Error values.
func (s *PTYService) List(ctx context.Context, sandboxID string) ([]*PTYInfo, error) {
	if err := s.c.requireFeature(ctx, "list ptys", FeaturePTY); err != nil {
		return nil, err
	}
	var out struct {
		PTYs []wirePTY `json:"ptys"`
	}
	if err := s.c.callJSON(ctx, &apiRequest{op: "list ptys", method: http.MethodGet, path: ptyPath(sandboxID)}, &out); err != nil {
		return nil, err
	}
	list := make([]*PTYInfo, len(out.PTYs))
	for i := range out.PTYs {
		list[i] = out.PTYs[i].toPTYInfo()
	}
	return list, nil
}

func (s *PTYService) dial(ctx context.Context, sandboxID, ptyID string) (*PTYSession, error) {
	u := s.c.endpointURL(ptyPath(sandboxID, ptyID), nil)
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	default:
		u.Scheme = "ws"
	}
	var conn *websocket.Conn
	handshake := func(req *http.Request) (*http.Response, error) {
		hdr := req.Header.Clone()
		hdr.Del("Accept")
		c, resp, err := websocket.Dial(req.Context(), u.String(), &websocket.DialOptions{HTTPClient: s.c.hc, HTTPHeader: hdr})
		switch {
		case err == nil:
			conn = c
			return resp, nil
		case resp != nil && resp.StatusCode != http.StatusSwitchingProtocols:
			return resp, nil // an answer to classify (and maybe retry)
		}
		return nil, err
	}
	// The handshake is a GET: retried like any read. The client timeout
	// bounds it up to the 101 answer; ctx alone bounds the session.
	resp, err := s.c.roundTrip(ctx, &apiRequest{op: "connect pty", method: http.MethodGet, path: ptyPath(sandboxID, ptyID), scope: untilHeaders}, handshake)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	conn.SetReadLimit(ptyMaxMessage)
	sctx, cancel := context.WithCancel(ctx)
	sess := &PTYSession{
		svc:       s,
		sandboxID: sandboxID,
		id:        ptyID,
		conn:      conn,
		ctx:       sctx,
		cancel:    cancel,
		done:      make(chan struct{}),
	}
	sess.cond = sync.NewCond(&sess.mu)
	go sess.readLoop()
	return sess, nil
}

// PTYSession is a connection to a shell on a PTY. It is an
// io.ReadWriteCloser: Write sends raw terminal input (keystrokes, "\x03" for
// Ctrl-C), Read returns the terminal's output.
//
// Output goes to exactly one consumer: to the OnData callback when one is
// set, otherwise to Read. Output nobody has read yet is buffered (up to
// 1 MiB; past that the session stops reading from the server, which stalls
// the shell). Read returns io.EOF once the shell has exited and the buffer
// is drained, or an error wrapping ErrStreamInterrupted when the connection
// dropped before the shell exited.
//
// The session lives until the shell exits, the connection drops, Close is
// called or the ctx given to Connect or Attach ends. Close of a session
// from Connect kills the shell (unless PTYOptions.KeepOnClose); Close of a
// session from Attach detaches and leaves it running. After Close, Write
// and Wait return errors matching net.ErrClosed. Methods are safe for
// concurrent use.
type PTYSession struct {
	svc         *PTYService
	sandboxID   string
	id          string
	killOnClose bool // Close kills the shell (Connect without KeepOnClose)
	conn        *websocket.Conn
	ctx         context.Context // ends when Close is called
	cancel      context.CancelFunc

	closeOnce sync.Once
	done      chan struct{} // closed when readLoop has returned (after OnClose ran)
	cbMu      sync.Mutex    // serializes OnData deliveries

	mu       sync.Mutex
	cond     *sync.Cond // signals changes of buf, ended, closing, onData
	buf      bytes.Buffer
	onData   func([]byte)
	onClose  func()
	closing  bool // Close was called
	ended    bool // readLoop finished: no more output
	exited   bool
	exitCode int
	endErr   error // why the session ended when not by an exit
}

// ID returns the PTY's id, usable with PTYService.Attach, Resize and Kill.
func (p *PTYSession) ID() string { return p.id }

// Read reads terminal output. It blocks until output is available or the
// session has ended. At the end it returns io.EOF after the shell's exit or
// after Close, and an error wrapping ErrStreamInterrupted when the connection
// dropped first. While an OnData callback is set, Read gets no output.
func (p *PTYSession) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.buf.Len() == 0 && !p.ended && !p.closing {
		p.cond.Wait()
	}
	if p.buf.Len() > 0 {
		n, _ := p.buf.Read(b)
		p.cond.Broadcast()
		return n, nil
	}
	if p.endErr != nil && !errors.Is(p.endErr, errSessionClosed) {
		return 0, p.endErr
	}
	return 0, io.EOF
}

// Write sends b to the shell as raw terminal input in one binary message.
// It fails once the session has ended or been closed.
func (p *PTYSession) Write(b []byte) (int, error) {
	p.mu.Lock()
	ended, closing := p.ended, p.closing
	p.mu.Unlock()
	switch {
	case closing:
		return 0, errSessionClosed
	case ended:
		return 0, fmt.Errorf("workspace: pty write: session ended")
	case len(b) == 0:
		return 0, nil
	}
	if err := p.conn.Write(p.ctx, websocket.MessageBinary, b); err != nil {
		return 0, fmt.Errorf("workspace: pty write: %w", err)
	}
	return len(b), nil
}

// WriteString is Write for a string, e.g. WriteString("ls -la\n").
func (p *PTYSession) WriteString(s string) (int, error) { return p.Write([]byte(s)) }

// OnData sets f to receive every chunk of output from now on instead of
// Read; output already buffered for Read is passed to f first. f is called
// from the session's own goroutine, one chunk at a time and in order; it
// must not keep the slice after returning, and must not call Wait or Close
// (they wait for that goroutine). A slow f slows the shell down. OnData(nil)
// gives output back to Read.
func (p *PTYSession) OnData(f func([]byte)) {
	p.cbMu.Lock()
	defer p.cbMu.Unlock()
	p.mu.Lock()
	p.onData = f
	var pending []byte
	if f != nil && p.buf.Len() > 0 {
		pending = bytes.Clone(p.buf.Bytes())
		p.buf.Reset()
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	if pending != nil {
		f(pending)
	}
}

// OnClose sets f to be called once when the session ends (the shell exited,
// the connection dropped, or Close was called), after the last output was
// delivered. It runs on the session's goroutine; if the session has already
// ended, f runs at once on the caller's goroutine. f must not call Wait or
// Close.
func (p *PTYSession) OnClose(f func()) {
	p.mu.Lock()
	if !p.ended {
		p.onClose = f
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	if f != nil {
		f()
	}
}

// Resize sets the terminal size (the shell gets SIGWINCH).
func (p *PTYSession) Resize(ctx context.Context, cols, rows int) error {
	return p.svc.Resize(ctx, p.sandboxID, p.id, cols, rows)
}

// Kill kills the shell; Wait then reports how it ended (usually 128+9).
func (p *PTYSession) Kill(ctx context.Context) error {
	return p.svc.Kill(ctx, p.sandboxID, p.id)
}

// Wait waits until the session ends and returns the shell's exit code. It
// returns an error wrapping ErrStreamInterrupted when the connection ended
// without an exit status, an error after Close, and ctx.Err() when ctx ends
// first. Output keeps flowing to Read or OnData meanwhile; when nobody
// consumes it, a shell producing more than 1 MiB stalls and Wait with it.
func (p *PTYSession) Wait(ctx context.Context) (int, error) {
	select {
	case <-p.done:
	default:
		select {
		case <-p.done:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return p.exitCode, nil
	}
	return 0, p.endErr
}

// Close ends the session: for a session from Connect it first kills the
// shell (unless PTYOptions.KeepOnClose was set), then it closes the
// WebSocket (status 1000) and waits for the session's goroutine. A session
// from Attach (or with KeepOnClose) only detaches: the shell keeps running
// on the server (reattach with PTYService.Attach, or end it with Kill).
// Close is idempotent; it returns the error of the kill, if any (a shell
// that already ended is not an error), and nil on later calls.
func (p *PTYSession) Close() error {
	var err error
	p.closeOnce.Do(func() {
		p.mu.Lock()
		kill := p.killOnClose && !p.exited
		p.closing = true
		p.cond.Broadcast()
		p.mu.Unlock()
		if kill {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), ptyKillTimeout)
			if kerr := p.svc.Kill(ctx, p.sandboxID, p.id); kerr != nil && !errors.Is(kerr, ErrPTYNotFound) {
				err = kerr
			}
			cancel()
		}
		_ = p.conn.Close(websocket.StatusNormalClosure, "")
		p.cancel()
	})
	<-p.done
	return err
}

// Detach ends the session without killing the shell, whatever
// PTYOptions.KeepOnClose says: the shell keeps running on the server, and
// PTYService.Attach comes back to it. Like Close it is idempotent and
// waits for the session's goroutine.
func (p *PTYSession) Detach() error {
	p.mu.Lock()
	p.killOnClose = false
	p.mu.Unlock()
	return p.Close()
}

// readLoop owns the connection's reads: it delivers output, records the exit
// status and finishes the session when the connection ends.
func (p *PTYSession) readLoop() {
	defer close(p.done)
	var err error
	for {
		var typ websocket.MessageType
		var data []byte
		typ, data, err = p.conn.Read(p.ctx)
		if err != nil {
			break
		}
		if typ == websocket.MessageText {
			var m struct {
				Type     string `json:"type"`
				ExitCode *int   `json:"exit_code"`
			}
			if json.Unmarshal(data, &m) == nil && m.Type == "exit" && m.ExitCode != nil {
				p.mu.Lock()
				p.exited, p.exitCode = true, *m.ExitCode
				p.mu.Unlock()
				continue
			}
		}
		p.deliver(data)
	}
	p.finish(err)
}

func (p *PTYSession) deliver(data []byte) {
	p.mu.Lock()
	for p.onData == nil && p.buf.Len() >= ptyReadBuffer && !p.closing {
		p.cond.Wait()
	}
	p.mu.Unlock()

	p.cbMu.Lock()
	defer p.cbMu.Unlock()
	p.mu.Lock()
	if f := p.onData; f != nil {
		p.mu.Unlock()
		f(data)
		return
	}
	if !p.closing {
		p.buf.Write(data)
		p.cond.Broadcast()
	}
	p.mu.Unlock()
}

func (p *PTYSession) finish(err error) {
	p.mu.Lock()
	switch {
	case p.exited:
	case p.closing:
		p.endErr = errSessionClosed
	case p.ctx.Err() != nil:
		p.endErr = fmt.Errorf("workspace: pty %s: %w", p.id, context.Cause(p.ctx))
	case websocket.CloseStatus(err) == closeCodePTYNotFound:
		p.endErr = &Error{StatusCode: http.StatusNotFound, Code: CodePTYNotFound, Message: "PTY not found: " + p.id, Op: "pty session"}
	default:
		p.endErr = fmt.Errorf("workspace: pty %s: connection ended without an exit status: %w (%v)", p.id, ErrStreamInterrupted, err)
	}
	p.ended = true
	f := p.onClose
	p.onClose = nil
	p.cond.Broadcast()
	p.mu.Unlock()
	if f != nil {
		f()
	}
}
