//go:build !windows

package server

import (
	"net/http"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// ptyListResponse is the answer of GET /sandboxes/{id}/pty.
type ptyListResponse struct {
	PTYs []ptyCreateResponse `json:"ptys"`
}

// handlePTYList serves GET /sandboxes/{id}/pty -> {"ptys": [{id, cols,
// rows}]}: the PTYs of the sandbox (a shell that exited stays listed until
// its exit was delivered or it was killed), sorted by id, each with its
// current terminal size.
func (s *Server) handlePTYList(w http.ResponseWriter, r *http.Request) {
	t := s.ptys
	if _, _, ok := s.runningSandbox(w, r); !ok {
		return
	}
	out := ptyListResponse{PTYs: []ptyCreateResponse{}}
	for _, e := range t.list(r.PathValue("id")) {
		cols, rows := e.size()
		out.PTYs = append(out.PTYs, ptyCreateResponse{ID: e.id, Cols: cols, Rows: rows})
	}
	slices.SortFunc(out.PTYs, func(a, b ptyCreateResponse) int { return strings.Compare(a.ID, b.ID) })
	writeJSON(w, http.StatusOK, &out)
}

// size reads the terminal size of the PTY from its master; 0, 0 once the
// master is closed.
func (e *ptyEntry) size() (cols, rows int) {
	rc, err := e.pty.Master.SyscallConn()
	if err != nil {
		return 0, 0
	}
	_ = rc.Control(func(fd uintptr) {
		if ws, err := unix.IoctlGetWinsize(int(fd), unix.TIOCGWINSZ); err == nil {
			cols, rows = int(ws.Col), int(ws.Row)
		}
	})
	return cols, rows
}
