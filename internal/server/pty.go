package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sys/unix"

	"github.com/elevo/workspace-sdk-go/internal/sandbox"
)

// PTY limits and defaults.
const (
	// DefaultPTYPingInterval is how often an attached PTY socket is pinged;
	// a peer that does not answer within the interval is dropped (the PTY
	// stays, detached).
	DefaultPTYPingInterval = 30 * time.Second
	// ptyBacklog bounds the output kept while no socket is attached; the
	// oldest bytes are dropped beyond it.
	ptyBacklog = 1 << 20
	// ptyChunk bounds the output gathered into one binary frame.
	ptyChunk = 64 << 10
	// maxPTYsPerSandbox bounds the PTYs of one sandbox (429/4102 beyond).
	maxPTYsPerSandbox = 64
	// ptyDrainGrace is how long output may still arrive after the shell
	// exited (e.g. from a background job holding the terminal) before the
	// master is closed.
	ptyDrainGrace = 500 * time.Millisecond
)

var errPTYLimit = errors.New("too many PTYs in this sandbox")

// ptyPingInterval is the ping interval of PTY sockets (tests shorten it
// before starting a server).
var ptyPingInterval = DefaultPTYPingInterval

func init() {
	registerExtension(extension{
		feature: "pty",
		register: func(s *Server) {
			t := newPTYTable()
			const p = "/api/v1/sandboxes/{id}/pty"
			s.handle("POST "+p, func(w http.ResponseWriter, r *http.Request) { s.handlePTYCreate(t, w, r) })
			s.handle("GET "+p, func(w http.ResponseWriter, r *http.Request) { s.handlePTYList(t, w, r) })
			s.handle("GET "+p+"/{pty_id}", func(w http.ResponseWriter, r *http.Request) { s.handlePTYSocket(t, w, r) })
			s.handle("POST "+p+"/{pty_id}/resize", func(w http.ResponseWriter, r *http.Request) { s.handlePTYResize(t, w, r) })
			s.handle("DELETE "+p+"/{pty_id}", func(w http.ResponseWriter, r *http.Request) { s.handlePTYKill(t, w, r) })
		},
	})
}

type ptyCreateResponse struct {
	ID   string `json:"id"`
	Cols int    `json:"cols"`
	Rows int    `json:"rows"`
}

// handlePTYCreate serves POST /sandboxes/{id}/pty {cols?, rows?, shell?,
// env?} -> {id, cols, rows}.
func (s *Server) handlePTYCreate(t *ptyTable, w http.ResponseWriter, r *http.Request) {
	_, rt, ok := s.runningSandbox(w, r)
	if !ok {
		return
	}
	var req ptyCreateRequest
	if !s.decodeJSON(w, r, &req) {
		return
	}
	if req.Cols < 0 || req.Rows < 0 || req.Cols > 10000 || req.Rows > 10000 {
		s.wrongShape(w, "cols and rows must be between 1 and 10000")
		return
	}
	if req.Cols == 0 {
		req.Cols = 80
	}
	if req.Rows == 0 {
		req.Rows = 24
	}
	pe, err := t.open(r.Context(), r.PathValue("id"), rt, sandbox.PTYRequest{Cols: req.Cols, Rows: req.Rows, Shell: req.Shell, Env: req.Env})
	if err != nil {
		switch {
		case errors.Is(err, errPTYLimit):
			writeError(w, http.StatusTooManyRequests, codePTYLimitExceeded, "PTY limit exceeded")
		case errors.Is(err, sandbox.ErrNotRunning):
			writeError(w, http.StatusBadRequest, codeInvalidSandboxState, "Sandbox is not running")
		default:
			writeErrorDetails(w, http.StatusInternalServerError, codeProcessExecutionFailed, "Failed to start the PTY shell", err.Error())
		}
		return
	}
	writeJSON(w, http.StatusOK, &ptyCreateResponse{ID: pe.id, Cols: req.Cols, Rows: req.Rows})
}

// ptyEntryFor looks up {id} (running) and {pty_id}, writing 404/2001,
// 400/2004 or 404/4101 when missing.
func (s *Server) ptyEntryFor(t *ptyTable, w http.ResponseWriter, r *http.Request) *ptyEntry {
	_, _, ok := s.runningSandbox(w, r)
	if !ok {
		return nil
	}
	pe := t.get(r.PathValue("id"), r.PathValue("pty_id"))
	if pe == nil {
		writeError(w, http.StatusNotFound, codePTYNotFound, "PTY not found: "+r.PathValue("pty_id"))
	}
	return pe
}

// handlePTYSocket serves the PTY WebSocket: client messages are raw input,
// output goes out as binary messages, then {"type":"exit","exit_code":N}
// and close 1000. In base mode it is upstream's: input is read and dropped,
// and no output is ever sent.
func (s *Server) handlePTYSocket(t *ptyTable, w http.ResponseWriter, r *http.Request) {
	pe := s.ptyEntryFor(t, w, r)
	if pe == nil {
		return
	}
	if s.cfg.BaseMode {
		conn, err := acceptPTYSocket(w, r)
		if err != nil {
			return // Accept wrote the error
		}
		for {
			if _, _, err := conn.Read(context.Background()); err != nil {
				_ = conn.CloseNow()
				return
			}
		}
	}
	// Attach before the handshake completes, so that of two sockets
	// dialled one after the other the second always replaces the first.
	a := &ptyAttachment{out: make(chan []byte), gone: make(chan struct{})}
	backlog := pe.attach(a)
	conn, err := acceptPTYSocket(w, r)
	if err != nil {
		pe.detach(a)
		pe.restoreBacklog(backlog)
		return // Accept wrote the error
	}
	pe.serveSocket(conn, a, backlog, ptyPingInterval, func() { t.remove(pe.sandboxID, pe.id) })
}

// handlePTYResize serves POST .../pty/{pty_id}/resize {cols, rows}.
func (s *Server) handlePTYResize(t *ptyTable, w http.ResponseWriter, r *http.Request) {
	pe := s.ptyEntryFor(t, w, r)
	if pe == nil {
		return
	}
	var req ptyResizeRequest
	if !s.decodeJSON(w, r, &req) {
		return
	}
	if req.Cols < 1 || req.Rows < 1 || req.Cols > 10000 || req.Rows > 10000 {
		s.wrongShape(w, "cols and rows must be between 1 and 10000")
		return
	}
	if err := pe.pty.Resize(req.Cols, req.Rows); err != nil {
		writeErrorDetails(w, http.StatusInternalServerError, codePTYAlreadyClosed, "PTY already closed", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, successResponse{Success: true})
}

// handlePTYKill serves DELETE .../pty/{pty_id}: the shell's process group
// is killed; an attached socket gets the exit status.
func (s *Server) handlePTYKill(t *ptyTable, w http.ResponseWriter, r *http.Request) {
	_, _, ok := s.runningSandbox(w, r)
	if !ok {
		return
	}
	pe := t.remove(r.PathValue("id"), r.PathValue("pty_id"))
	if pe == nil {
		writeError(w, http.StatusNotFound, codePTYNotFound, "PTY not found: "+r.PathValue("pty_id"))
		return
	}
	_ = pe.pty.Kill()
	writeJSON(w, http.StatusOK, successResponse{Success: true})
}

// PTY error codes (PROTOCOL.md).
const (
	codePTYNotFound      = 4101
	codePTYLimitExceeded = 4102
	codePTYAlreadyClosed = 4103
)

// ptyTable holds the PTYs of every sandbox. Safe for concurrent use.
type ptyTable struct {
	mu   sync.Mutex
	ptys map[string]*ptyEntry // by PTY id
}

func newPTYTable() *ptyTable { return &ptyTable{ptys: map[string]*ptyEntry{}} }

// ptyEntry is one PTY: its shell, its output pump, and the socket attached
// to it (at most one).
type ptyEntry struct {
	id        string
	sandboxID string
	pty       *sandbox.PTY

	exited  chan struct{} // closed once the shell exited and all its output was handed on
	removed chan struct{} // closed when the entry leaves the table
	rmOnce  sync.Once

	mu       sync.Mutex
	att      *ptyAttachment // current socket, nil while detached
	backlog  []byte         // output produced while detached (<= ptyBacklog)
	exitCode int
}

// ptyAttachment is one WebSocket attached to a PTY.
type ptyAttachment struct {
	out  chan []byte   // output chunks from the pump (unbuffered: back-pressure)
	gone chan struct{} // closed when the socket is done or replaced
	once sync.Once
}

func (a *ptyAttachment) detach() { a.once.Do(func() { close(a.gone) }) }

// newPTYID returns a random UUIDv4 string.
func newPTYID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// open starts a shell on a new PTY in sb and registers it; the entry is
// forgotten when the sandbox ends.
func (t *ptyTable) open(ctx context.Context, sandboxID string, sb SandboxRuntime, req sandbox.PTYRequest) (*ptyEntry, error) {
	t.mu.Lock()
	n := 0
	for _, e := range t.ptys {
		if e.sandboxID == sandboxID {
			n++
		}
	}
	t.mu.Unlock()
	if n >= maxPTYsPerSandbox {
		return nil, errPTYLimit
	}
	p, err := sb.OpenPTY(ctx, req)
	if err != nil {
		return nil, err
	}
	e := &ptyEntry{id: newPTYID(), sandboxID: sandboxID, pty: p, exited: make(chan struct{}), removed: make(chan struct{})}
	t.mu.Lock()
	t.ptys[e.id] = e
	t.mu.Unlock()
	go func() {
		e.pump()
		// An exited PTY stays (so that a socket attached later still gets
		// its output and exit status) until it is killed, its exit was
		// delivered, or its sandbox ends.
		select {
		case <-sb.Done():
			t.remove(sandboxID, e.id)
		case <-e.removed:
		}
	}()
	return e, nil
}

// get returns the PTY id of sandbox sandboxID, or nil.
func (t *ptyTable) get(sandboxID, id string) *ptyEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.ptys[id]
	if e == nil || e.sandboxID != sandboxID {
		return nil
	}
	return e
}

// remove forgets PTY id of sandbox sandboxID and returns it (nil if absent).
func (t *ptyTable) remove(sandboxID, id string) *ptyEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.ptys[id]
	if e == nil || e.sandboxID != sandboxID {
		return nil
	}
	delete(t.ptys, id)
	e.markRemoved()
	return e
}

func (e *ptyEntry) markRemoved() { e.rmOnce.Do(func() { close(e.removed) }) }

// pump copies the shell's output to the attached socket, or to the backlog
// while none is attached, until the shell exited and its output is drained.
func (e *ptyEntry) pump() {
	waited := make(chan struct{})
	go func() {
		code, _ := e.pty.Wait()
		e.mu.Lock()
		e.exitCode = code
		e.mu.Unlock()
		close(waited)
	}()
	readDone := make(chan struct{})
	go func() {
		// Once the shell is gone, give the rest of its output a moment, then
		// close the master so that a lingering holder of the terminal cannot
		// keep the PTY open forever.
		select {
		case <-readDone:
			return
		case <-waited:
		}
		t := time.NewTimer(ptyDrainGrace)
		defer t.Stop()
		select {
		case <-readDone:
		case <-t.C:
			_ = e.pty.Master.Close()
		}
	}()
	buf := make([]byte, ptyChunk)
	rc, rcErr := e.pty.Master.SyscallConn()
	for {
		n, err := e.pty.Master.Read(buf)
		// One read returns at most what the terminal layer pushed at once
		// (a few KiB): gather what is already there as well, without
		// waiting for more, so that bulk output goes in large frames while
		// a keystroke's echo is sent at once.
		for err == nil && rcErr == nil && n > 0 && n < len(buf) {
			m := readNow(rc, buf[n:])
			if m <= 0 {
				break
			}
			n += m
		}
		if n > 0 {
			e.emit(buf[:n])
		}
		if err != nil {
			break
		}
	}
	close(readDone)
	<-waited
	close(e.exited)
}

// readNow reads what f already holds into p without waiting: 0 when it
// holds nothing or the read fails (the next blocking read reports it).
func readNow(f syscall.RawConn, p []byte) int {
	n := 0
	_ = f.Read(func(fd uintptr) bool {
		m, err := unix.Read(int(fd), p)
		if err == nil {
			n = m
		}
		return true // never wait for readiness
	})
	return n
}

// emit hands one chunk to the attached socket (waiting for it to be taken),
// or appends it to the backlog while detached.
func (e *ptyEntry) emit(b []byte) {
	chunk := append([]byte(nil), b...)
	for {
		e.mu.Lock()
		a := e.att
		if a == nil {
			e.backlog = append(e.backlog, chunk...)
			if over := len(e.backlog) - ptyBacklog; over > 0 {
				e.backlog = append(e.backlog[:0], e.backlog[over:]...)
			}
			e.mu.Unlock()
			return
		}
		e.mu.Unlock()
		select {
		case a.out <- chunk:
			return
		case <-a.gone:
			e.mu.Lock()
			if e.att == a {
				e.att = nil
			}
			e.mu.Unlock()
		}
	}
}

// attach makes a the entry's socket (replacing and dropping any previous
// one) and returns the backlog to send first.
func (e *ptyEntry) attach(a *ptyAttachment) []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	if old := e.att; old != nil {
		old.detach()
	}
	e.att = a
	b := e.backlog
	e.backlog = nil
	return b
}

// restoreBacklog puts back a backlog taken by an attach that failed.
func (e *ptyEntry) restoreBacklog(b []byte) {
	if len(b) == 0 {
		return
	}
	e.mu.Lock()
	e.backlog = append(b, e.backlog...)
	if over := len(e.backlog) - ptyBacklog; over > 0 {
		e.backlog = append(e.backlog[:0], e.backlog[over:]...)
	}
	e.mu.Unlock()
}

func (e *ptyEntry) detach(a *ptyAttachment) {
	a.detach()
	e.mu.Lock()
	if e.att == a {
		e.att = nil
	}
	e.mu.Unlock()
}

// serveSocket runs one WebSocket, attached as a with backlog to send
// first, until the shell exits (exit text frame, close 1000), the socket
// drops or is replaced, or ping fails.
func (e *ptyEntry) serveSocket(conn *websocket.Conn, a *ptyAttachment, backlog []byte, pingEvery time.Duration, onExit func()) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer e.detach(a)

	var wg sync.WaitGroup
	defer wg.Wait()
	// Input: socket frames are raw terminal input.
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer a.detach()
		for {
			_, r, err := conn.Reader(ctx)
			if err != nil {
				return
			}
			if _, err := io.Copy(e.pty.Master, r); err != nil {
				// The shell is gone; keep the socket until the exit is sent.
				_, _ = io.Copy(io.Discard, r)
			}
		}
	}()
	// Liveness: a peer that does not answer pings is dropped.
	if pingEvery <= 0 {
		pingEvery = DefaultPTYPingInterval
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(pingEvery)
		defer t.Stop()
		for {
			select {
			case <-a.gone:
				return
			case <-t.C:
				pctx, pcancel := context.WithTimeout(ctx, pingEvery)
				err := conn.Ping(pctx)
				pcancel()
				if err != nil {
					a.detach()
					return
				}
			}
		}
	}()

	write := func(b []byte) bool {
		for len(b) > 0 {
			n := min(len(b), ptyChunk)
			if conn.Write(ctx, websocket.MessageBinary, b[:n]) != nil {
				return false
			}
			b = b[n:]
		}
		return true
	}
	if !write(backlog) {
		e.requeue(backlog)
		_ = conn.CloseNow()
		return
	}
	for {
		select {
		case b := <-a.out:
			if !write(b) {
				e.requeue(b)
				_ = conn.CloseNow()
				return
			}
		case <-a.gone:
			_ = conn.CloseNow()
			return
		case <-e.exited:
			e.mu.Lock()
			code := e.exitCode
			e.mu.Unlock()
			msg, _ := json.Marshal(map[string]any{"type": "exit", "exit_code": code})
			if conn.Write(ctx, websocket.MessageText, msg) == nil {
				onExit()
				a.detach()
				_ = conn.Close(websocket.StatusNormalClosure, "")
			} else {
				_ = conn.CloseNow()
			}
			return
		}
	}
}

// requeue puts output that could not be sent back in front of the backlog.
func (e *ptyEntry) requeue(b []byte) {
	if len(b) == 0 {
		return
	}
	e.mu.Lock()
	e.backlog = append(append([]byte(nil), b...), e.backlog...)
	if over := len(e.backlog) - ptyBacklog; over > 0 {
		e.backlog = e.backlog[over:]
	}
	e.mu.Unlock()
}

// ptyCreateRequest is the body of POST /sandboxes/{id}/pty.
type ptyCreateRequest struct {
	Cols  int               `json:"cols"`
	Rows  int               `json:"rows"`
	Shell string            `json:"shell"`
	Env   map[string]string `json:"env"`
}

// ptyResizeRequest is the body of POST .../pty/{pty_id}/resize.
type ptyResizeRequest struct {
	Cols int `json:"cols"`
	Rows int `json:"rows"`
}

// acceptPTYSocket upgrades r, lifting the server's deadlines on
// the hijacked connection first.
func acceptPTYSocket(w http.ResponseWriter, r *http.Request) (*websocket.Conn, error) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	return conn, nil
}
