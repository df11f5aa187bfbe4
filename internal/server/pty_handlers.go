//go:build !windows

package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/elevo/workspace-sdk-go/internal/wire"
)

type ptyCreateResponse struct {
	ID   string `json:"id"`
	Cols int    `json:"cols"`
	Rows int    `json:"rows"`
}

// handlePTYCreate serves POST /sandboxes/{id}/pty {cols?, rows?, shell?,
// env?} -> {id, cols, rows}.
func (s *Server) handlePTYCreate(w http.ResponseWriter, r *http.Request) {
	t := s.ptys
	var req ptyCreateRequest
	_, rt, ok := s.runningSandboxJSON(w, r, &req)
	if !ok {
		return
	}
	if !s.checkTermSize(w, req.Cols, req.Rows, 0) {
		return
	}
	if err := s.checkEnv(req.Env); err != nil {
		s.wrongShape(w, err.Error())
		return
	}
	if req.Cols == 0 {
		req.Cols = 80
	}
	if req.Rows == 0 {
		req.Rows = 24
	}
	pe, err := t.open(r.Context(), r.PathValue("id"), rt, PTYRequest{Cols: req.Cols, Rows: req.Rows, Shell: req.Shell, Env: req.Env})
	if err != nil {
		if writeAgentError(w, err) {
			return
		}
		switch {
		case errors.Is(err, errPTYLimit):
			writeError(w, wire.CodePTYLimitExceeded, "PTY limit exceeded")
		case errors.Is(err, errSandboxNotRunning):
			writeError(w, wire.CodeInvalidSandboxState, "Sandbox is not running")
		default:
			writeErrorDetails(w, wire.CodeProcessExecutionFailed, "Failed to start the PTY shell", err.Error())
		}
		return
	}
	writeJSON(w, http.StatusOK, &ptyCreateResponse{ID: pe.id, Cols: req.Cols, Rows: req.Rows})
}

// checkTermSize accepts cols and rows from least (0 where the default may
// be asked for, 1 otherwise) to 10000; otherwise it answers 400/1002.
func (s *Server) checkTermSize(w http.ResponseWriter, cols, rows, least int) bool {
	if cols < least || rows < least || cols > 10000 || rows > 10000 {
		s.wrongShape(w, "cols and rows must be between 1 and 10000")
		return false
	}
	return true
}

// ptyEntryFor looks up {id} (running) and {pty_id}, writing 404/2001,
// 400/2004 or 404/4101 when missing.
func (s *Server) ptyEntryFor(w http.ResponseWriter, r *http.Request) *ptyEntry {
	t := s.ptys
	_, _, ok := s.runningSandbox(w, r)
	if !ok {
		return nil
	}
	pe := t.get(r.PathValue("id"), r.PathValue("pty_id"))
	if pe == nil {
		writeError(w, wire.CodePTYNotFound, "PTY not found: "+r.PathValue("pty_id"))
	}
	return pe
}

// handlePTYSocket serves the PTY WebSocket: client messages are raw input,
// output goes out as binary messages, then {"type":"exit","exit_code":N}
// and close 1000. In base mode it is upstream's: input is read and dropped,
// and no output is ever sent.
func (s *Server) handlePTYSocket(w http.ResponseWriter, r *http.Request) {
	t := s.ptys
	pe := s.ptyEntryFor(w, r)
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
	pe.serveSocket(conn, a, backlog, s.cfg.PTYPingInterval, func() { t.remove(pe.sandboxID, pe.id) })
}

// handlePTYResize serves POST .../pty/{pty_id}/resize {cols, rows}.
func (s *Server) handlePTYResize(w http.ResponseWriter, r *http.Request) {
	pe := s.ptyEntryFor(w, r)
	if pe == nil {
		return
	}
	var req ptyResizeRequest
	if !s.decodeJSON(w, r, &req) {
		return
	}
	if !s.checkTermSize(w, req.Cols, req.Rows, 1) {
		return
	}
	if err := pe.pty.Resize(req.Cols, req.Rows); err != nil {
		writeErrorDetailsStatus(w, http.StatusInternalServerError, wire.CodePTYAlreadyClosed, "PTY already closed", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, successResponse{Success: true})
}

// handlePTYKill serves DELETE .../pty/{pty_id}: the shell's process group
// is killed; an attached socket gets the exit status.
func (s *Server) handlePTYKill(w http.ResponseWriter, r *http.Request) {
	t := s.ptys
	_, _, ok := s.runningSandbox(w, r)
	if !ok {
		return
	}
	pe := t.remove(r.PathValue("id"), r.PathValue("pty_id"))
	if pe == nil {
		writeError(w, wire.CodePTYNotFound, "PTY not found: "+r.PathValue("pty_id"))
		return
	}
	_ = pe.pty.Kill()
	writeJSON(w, http.StatusOK, successResponse{Success: true})
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
