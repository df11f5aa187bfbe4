//go:build !windows

package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sys/unix"
)

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
