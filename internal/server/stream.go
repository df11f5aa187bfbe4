//go:build !windows

package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/elevo/workspace-sdk-go/internal/wire"
)

// handleRunStream serves GET /sandboxes/{id}/process/run/stream. Errors
// found before the process starts are JSON errors; then the response is an
// SSE stream (see streamProcess). In base mode it answers like upstream's
// stub: one "exit" event with code 0, and nothing runs.
func (s *Server) handleRunStream(w http.ResponseWriter, r *http.Request) {
	_, rt, ok := s.runningSandbox(w, r)
	if !ok {
		return
	}
	if s.cfg.BaseMode {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "event: exit\ndata: {\"type\":\"exit\",\"code\":0}\n\n") //nolint:errcheck // the client went away
		return
	}
	q := r.URL.Query()
	b64, ok := s.wantBase64(w, q.Get("encoding"))
	if !ok {
		return
	}
	req, err := parseStreamQuery(q, b64, true)
	if err == nil {
		ms := req.timeout.Milliseconds()
		err = errors.Join(s.checkCommand(req.exec.Command, req.exec.Args), s.checkEnv(req.exec.Env), s.checkTimeout(&ms, time.Millisecond))
	}
	if err != nil {
		var qe *queryError
		if errors.As(err, &qe) {
			writeErrorStatus(w, http.StatusBadRequest, qe.code, qe.message)
			return
		}
		writeError(w, wire.CodeInvalidParameter, err.Error())
		return
	}
	proc, err := rt.Start(r.Context(), req.exec)
	if err != nil {
		s.runError(w, err, nil, false)
		return
	}
	streamProcess(r.Context(), w, proc, req, s.cfg.StreamHeartbeat)
}

// DefaultHeartbeat is the idle interval after which run/stream sends an SSE
// comment line, so that proxies and clients see the stream is alive.
const DefaultHeartbeat = 15 * time.Second

// streamChunkSize bounds one output read from a process pipe, and so one
// stdout or stderr event; streamBuffers is how many chunks each pipe may
// have read ahead of the client. Together they bound what the server holds
// per stream (back-pressure: a slow client stops the pipe reads, which
// blocks the process), while the reads, the encoding and the socket writes
// of a fast stream overlap.
const (
	streamChunkSize = 256 << 10
	streamBuffers   = 3
)

// streamCoalesce is how many bytes of events the writer gathers before it
// writes them out when more output is already waiting; when none is, it
// writes at once.
const streamCoalesce = 256 << 10

// streamRequest is a parsed run/stream query.
type streamRequest struct {
	exec    ExecRequest // Timeout left 0: the stream enforces it
	timeout time.Duration
	base64  bool
}

// queryError is a bad run/stream query (400 with code).
type queryError struct {
	code    wire.Code
	message string
}

func (e *queryError) Error() string { return e.message }

// parseStreamQuery parses command, args (JSON array), env (JSON object),
// cwd, timeout (ms) and, when stdin is allowed, stdin (base64 when b64).
func parseStreamQuery(q url.Values, b64, stdinAllowed bool) (*streamRequest, error) {
	req := &streamRequest{base64: b64}
	req.exec.Command = q.Get("command")
	if req.exec.Command == "" {
		return nil, &queryError{wire.CodeInvalidRequest, "query parameter command is required"}
	}
	if s := q.Get("args"); s != "" {
		if err := json.Unmarshal([]byte(s), &req.exec.Args); err != nil {
			return nil, &queryError{wire.CodeInvalidParameter, "query parameter args must be a JSON array of strings"}
		}
	}
	if s := q.Get("env"); s != "" {
		if err := json.Unmarshal([]byte(s), &req.exec.Env); err != nil {
			return nil, &queryError{wire.CodeInvalidParameter, "query parameter env must be a JSON object of strings"}
		}
	}
	req.exec.Cwd = q.Get("cwd")
	if s := q.Get("timeout"); s != "" {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil || ms < 0 || ms > math.MaxInt64/int64(time.Millisecond) {
			return nil, &queryError{wire.CodeInvalidParameter, "query parameter timeout must be a non-negative integer (milliseconds)"}
		}
		req.timeout = time.Duration(ms) * time.Millisecond
	}
	if q.Has("stdin") && stdinAllowed {
		s := q.Get("stdin")
		if b64 {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, &queryError{wire.CodeInvalidParameter, "query parameter stdin is not valid base64"}
			}
			req.exec.Stdin = b
		} else {
			req.exec.Stdin = []byte(s)
		}
		if req.exec.Stdin == nil {
			req.exec.Stdin = []byte{}
		}
	}
	return req, nil
}

// sseWriter writes Server-Sent Events. Events are gathered in buf; send
// writes them to the client and flushes.
type sseWriter struct {
	w   io.Writer
	rc  *http.ResponseController
	seq int64
	buf bytes.Buffer
	enc *json.Encoder
}

// startSSE answers 200 with the headers of an event stream and returns its
// writer. A stream lasts as long as what it follows, so any server write
// deadline is lifted.
func startSSE(w http.ResponseWriter) *sseWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	sw := newSSEWriter(w)
	_ = sw.rc.SetWriteDeadline(time.Time{})
	return sw
}

func newSSEWriter(w http.ResponseWriter) *sseWriter {
	s := &sseWriter{w: w, rc: http.NewResponseController(w)}
	s.enc = json.NewEncoder(&s.buf)
	s.enc.SetEscapeHTML(false)
	return s
}

// event writes one event with the next sequence number as its id; payload
// is JSON-encoded on one data line.
func (s *sseWriter) event(typ string, payload any) error {
	s.add(typ, payload)
	return s.send()
}

// add appends one event to buf without sending it.
func (s *sseWriter) add(typ string, payload any) {
	s.seq++
	mark := s.buf.Len()
	s.buf.WriteString("id: ")
	s.buf.WriteString(strconv.FormatInt(s.seq, 10))
	s.buf.WriteString("\nevent: ")
	s.buf.WriteString(typ)
	s.buf.WriteString("\ndata: ")
	if err := s.enc.Encode(payload); err != nil { // ends with '\n'
		// Our payloads always encode; never send half an event.
		s.buf.Truncate(mark)
		return
	}
	s.buf.WriteByte('\n')
}

// addData appends a stdout or stderr event to buf. With b64 the JSON is
// built directly (base64 needs no escaping) and the data encoded straight
// into buf, which keeps bulk output cheap.
func (s *sseWriter) addData(typ string, data []byte, b64 bool) {
	if !b64 {
		s.add(typ, struct {
			Type string `json:"type"`
			Data string `json:"data"`
		}{typ, string(data)})
		return
	}
	s.seq++
	s.buf.WriteString("id: ")
	s.buf.WriteString(strconv.FormatInt(s.seq, 10))
	s.buf.WriteString("\nevent: ")
	s.buf.WriteString(typ)
	s.buf.WriteString("\ndata: {\"type\":\"")
	s.buf.WriteString(typ)
	s.buf.WriteString("\",\"data\":\"")
	n := base64.StdEncoding.EncodedLen(len(data))
	s.buf.Grow(n + 4)
	b := s.buf.AvailableBuffer()[:n]
	base64.StdEncoding.Encode(b, data)
	s.buf.Write(b)
	s.buf.WriteString("\"}\n\n")
}

// comment writes a heartbeat comment line.
func (s *sseWriter) comment() error {
	s.buf.WriteString(": heartbeat\n\n")
	return s.send()
}

// send writes what buf holds to the client and flushes it.
func (s *sseWriter) send() error {
	if s.buf.Len() == 0 {
		return nil
	}
	_, err := s.w.Write(s.buf.Bytes())
	s.buf.Reset()
	if err != nil {
		return err
	}
	return s.rc.Flush()
}

// streamChunk is output read from one pipe; eof marks the pipe's end.
// Once written, data goes back to free (its pipe's buffers).
type streamChunk struct {
	typ  string // "stdout" or "stderr"
	data []byte
	eof  bool
	free chan<- []byte
}

// streamBufferPool keeps the buffers of ended streams for the next ones.
var streamBufferPool = sync.Pool{New: func() any { b := make([]byte, streamChunkSize); return &b }}

// newStreamBuffers returns a pipe's buffers: a channel with room for
// streamBuffers buffers, holding nil placeholders that pumpPipe replaces
// with pooled buffers when it first needs them (a short command never
// takes more than one).
func newStreamBuffers() chan []byte {
	free := make(chan []byte, streamBuffers)
	for range streamBuffers {
		free <- nil
	}
	return free
}

// recycleStreamBuffers returns the buffers in free to the pool. Call it
// only when no pump uses free any more.
func recycleStreamBuffers(free chan []byte) {
	for {
		select {
		case b := <-free:
			if b != nil {
				streamBufferPool.Put(&b)
			}
		default:
			return
		}
	}
}

// pumpPipe reads r into buffers taken from free and hands each chunk to
// out; it waits for a free buffer when the writer is streamBuffers chunks
// behind (back-pressure). Each read hands on whatever the pipe held, so a
// chunk never waits for more output. In text mode an incomplete UTF-8
// sequence at the end of a chunk is held back for the next one so that no
// character is split between events. It ends at EOF or when quit closes.
func pumpPipe(r io.Reader, typ string, text bool, out chan<- streamChunk, free chan []byte, quit <-chan struct{}) {
	var carry [utf8.UTFMax]byte
	nc := 0
	send := func(c streamChunk) bool {
		select {
		case out <- c:
			return true
		case <-quit:
			return false
		}
	}
	for {
		var buf []byte
		select {
		case buf = <-free:
		case <-quit:
			return
		}
		if buf == nil {
			buf = *streamBufferPool.Get().(*[]byte)
		}
		copy(buf, carry[:nc])
		n, err := r.Read(buf[nc:])
		n += nc
		cut := n
		if text && err == nil {
			cut = completeUTF8(buf[:n])
		}
		nc = copy(carry[:], buf[cut:n])
		if cut > 0 {
			if !send(streamChunk{typ: typ, data: buf[:cut], free: free}) {
				return
			}
		} else {
			free <- buf // taken from free above: there is room
		}
		if err != nil {
			send(streamChunk{typ: typ, eof: true})
			return
		}
	}
}

// completeUTF8 returns the length of b without a trailing incomplete UTF-8
// sequence (at most 3 bytes are held back).
func completeUTF8(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax+1; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return i
			}
			break
		}
	}
	return len(b)
}

// errorEvent is the data of an SSE "error" event.
type errorEvent struct {
	Type    string    `json:"type"`
	Code    wire.Code `json:"code"`
	Message string    `json:"message"`
}

// streamProcess streams a started process as SSE on w until it exits,
// the timeout elapses (its group is killed, then an error event with code
// 4002), or ctx ends (the client went away: its group is killed). It
// always reaps the process and joins its pumps before returning.
func streamProcess(ctx context.Context, w http.ResponseWriter, proc *Process, req *streamRequest, heartbeat time.Duration) {
	sw := startSSE(w)

	out := make(chan streamChunk, 2*streamBuffers)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	outFree, errFree := newStreamBuffers(), newStreamBuffers()
	go func() { defer wg.Done(); pumpPipe(proc.Stdout, "stdout", !req.base64, out, outFree, quit) }()
	go func() { defer wg.Done(); pumpPipe(proc.Stderr, "stderr", !req.base64, out, errFree, quit) }()
	recycle := func() {
		recycleStreamBuffers(outFree)
		recycleStreamBuffers(errFree)
	}
	abort := func() {
		_ = proc.Kill()
		close(quit)
		_ = proc.Stdout.Close()
		_ = proc.Stderr.Close()
		wg.Wait()
		recycle()
		_, _ = proc.Wait()
	}

	if sw.event("start", struct {
		Type string `json:"type"`
		PID  int    `json:"pid"`
	}{"start", proc.PID}) != nil {
		abort()
		return
	}
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeat
	}
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	var timeoutC <-chan time.Time
	if req.timeout > 0 {
		t := time.NewTimer(req.timeout)
		defer t.Stop()
		timeoutC = t.C
	}

	open, idle, timedOut := 2, true, false
	for open > 0 {
		select {
		case c := <-out:
			if c.eof {
				open--
			} else {
				sw.addData(c.typ, c.data, req.base64)
				c.free <- c.data[:cap(c.data)]
				idle = false
			}
			// Gather the events of output that is already waiting; write
			// as soon as none is.
			if (len(out) == 0 || sw.buf.Len() >= streamCoalesce) && sw.send() != nil {
				abort()
				return
			}
		case <-beat.C:
			if idle && sw.comment() != nil {
				abort()
				return
			}
			idle = true
		case <-timeoutC:
			timedOut = true
			timeoutC = nil
			_ = proc.Kill()
		case <-ctx.Done():
			abort()
			return
		}
	}
	wg.Wait()
	recycle()
	_ = proc.Stdout.Close()
	_ = proc.Stderr.Close()
	code, err := proc.Wait()
	switch {
	case agentFailed(err):
		code, _ := agentErrorCode(err)
		_ = sw.event("error", errorEvent{"error", code, err.Error()})
	case timedOut:
		_ = sw.event("error", errorEvent{"error", wire.CodeProcessTimeout, fmt.Sprintf("process timed out after %d ms", req.timeout.Milliseconds())})
	case errors.Is(err, errSandboxNotRunning):
		// The sandbox ended under the process (deleted, timed out, server
		// shutting down): there is no exit status, and the client must see
		// an interrupted stream rather than a made-up result.
	case err != nil && !errors.Is(err, context.Canceled):
		_ = sw.event("error", errorEvent{"error", wire.CodeProcessExecutionFailed, err.Error()})
	default:
		_ = sw.event("exit", struct {
			Type string `json:"type"`
			Code int    `json:"code"`
		}{"exit", code})
	}
}
