//go:build !windows

package server

import (
	"errors"
	"fmt"
	"net/http"
	"syscall"

	"github.com/elevo/workspace-sdk-go/internal/wire"
)

// The free-space reserve: below Config.MinFreeBytes free on the data
// dir's filesystem, file writes and creates are refused with 507 (JSON
// envelope), so that a tenant filling the disk cannot make the store's
// writes fail for everyone.

// errNoSpace is a write refused because free space fell below the reserve.
var errNoSpace = errors.New("free space below the server's reserve")

// freeBytes returns the bytes available to the server on the data dir's
// filesystem.
func (s *Server) freeBytes() (int64, error) { return freeBytesAt(s.cfg.DataDir) }

// spaceLeft reports whether need more bytes fit above the reserve.
func (s *Server) spaceLeft(need int64) bool {
	if s.cfg.MinFreeBytes <= 0 {
		return true
	}
	free, err := s.freeBytes()
	return err != nil || free-need >= s.cfg.MinFreeBytes
}

// checkSpace answers 507 and returns false when need more bytes would
// take the data dir's filesystem below the reserve.
func (s *Server) checkSpace(w http.ResponseWriter, need int64) bool {
	if s.spaceLeft(max(need, 0)) {
		return true
	}
	writeInsufficientStorage(w, fmt.Sprintf("free space on the server's disk is below its reserve of %d bytes", s.cfg.MinFreeBytes))
	return false
}

// writeInsufficientStorage answers 507 with the JSON envelope.
func writeInsufficientStorage(w http.ResponseWriter, msg string) {
	writeErrorStatus(w, http.StatusInsufficientStorage, wire.CodeInternal, "Insufficient storage: "+msg)
}

// isNoSpace reports whether err is a full disk or quota, or the reserve.
func isNoSpace(err error) bool {
	return errors.Is(err, errNoSpace) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// workspaceFilesForWrite is workspaceFiles then beginWrite with the
// request's declared body size: the start of a handler that writes into
// the {id} workspace. Call done when the write ends; ok=false means the
// error was written.
func (s *Server) workspaceFilesForWrite(w http.ResponseWriter, r *http.Request) (wf workspaceFiles, done func(), ok bool) {
	if _, wf, ok = s.workspaceFiles(w, r); !ok {
		return workspaceFiles{}, nil, false
	}
	if done, ok = s.beginWrite(w, r, max(r.ContentLength, 0)); !ok {
		return workspaceFiles{}, nil, false
	}
	return wf, done, true
}

// beginWrite registers a write into the {id} workspace that may take a
// while (an upload, a write, a copy), after checking the free-space
// reserve for need bytes. A workspace delete meanwhile answers 409/7002
// instead of removing the tree under the write. Call done when the write
// ends; ok=false means the error was written.
func (s *Server) beginWrite(w http.ResponseWriter, r *http.Request, need int64) (done func(), ok bool) {
	if !s.checkSpace(w, need) {
		return nil, false
	}
	id := r.PathValue("id")
	s.mu.Lock()
	e := s.workspaces[id]
	if e == nil || e.deleting {
		s.mu.Unlock()
		writeError(w, wire.CodeWorkspaceNotFound, "Workspace not found: "+id)
		return nil, false
	}
	e.writers++
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		e.writers--
		s.mu.Unlock()
	}, true
}
