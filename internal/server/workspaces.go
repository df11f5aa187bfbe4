//go:build !windows

package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/elevo/workspace-sdk-go/internal/nfsserver"
	"github.com/elevo/workspace-sdk-go/internal/wire"

	"github.com/elevo/workspace-sdk-go/internal/store"
)

// workspaceEntry is a workspace in memory. rec and dir never change.
type workspaceEntry struct {
	rec store.Workspace
	dir string

	// writers counts writes in progress (beginWrite) and deleting marks a
	// delete in progress; both are guarded by Server.mu.
	writers  int
	deleting bool

	mu   sync.Mutex
	root *os.Root // opened on first file access
}

// openRoot returns the workspace's os.Root, opening it once.
func (e *workspaceEntry) openRoot() (*os.Root, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.root == nil {
		r, err := os.OpenRoot(e.dir)
		if err != nil {
			return nil, err
		}
		e.root = r
	}
	return e.root, nil
}

func (e *workspaceEntry) closeRoot() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.root != nil {
		e.root.Close()
		e.root = nil
	}
}

type workspaceJSON struct {
	ID        string          `json:"id"`
	Name      *string         `json:"name"`
	NFSURL    *string         `json:"nfs_url"`
	Metadata  json.RawMessage `json:"metadata"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

func (s *Server) workspaceJSON(e *workspaceEntry) *workspaceJSON {
	out := &workspaceJSON{ID: e.rec.ID, Name: e.rec.Name, Metadata: e.rec.Metadata, CreatedAt: e.rec.CreatedAt, UpdatedAt: e.rec.UpdatedAt}
	if s.nfsBase != "" {
		u := s.nfsBase + nfsserver.ExportName(s.nfsKey, e.rec.ID)
		out.NFSURL = &u
	}
	return out
}

// workspace looks up the {id} path value; it writes 404/7001 and returns
// nil when there is no such workspace.
func (s *Server) workspace(w http.ResponseWriter, r *http.Request) *workspaceEntry {
	id := r.PathValue("id")
	s.mu.RLock()
	e := s.workspaces[id]
	s.mu.RUnlock()
	if e == nil {
		writeError(w, wire.CodeWorkspaceNotFound, "Workspace not found: "+id)
	}
	return e
}

// workspaceFiles looks up the {id} workspace and its file tree, writing the
// error (404/7001, 500) when it fails. File handlers (and raw.go) use it.
func (s *Server) workspaceFiles(w http.ResponseWriter, r *http.Request) (*workspaceEntry, workspaceFiles, bool) {
	e := s.workspace(w, r)
	if e == nil {
		return nil, workspaceFiles{}, false
	}
	root, err := e.openRoot()
	if err != nil {
		writeErrorDetails(w, wire.CodeInternal, "Cannot open workspace", err.Error())
		return nil, workspaceFiles{}, false
	}
	return e, workspaceFiles{Root: root, owner: s.fileOwnerOf(e.rec.ID), tmpDir: s.tmpDir}, true
}

type createWorkspaceRequest struct {
	Name     *string         `json:"name"`
	Metadata json.RawMessage `json:"metadata"`
}

func (s *Server) handleCreateWorkspace(w http.ResponseWriter, r *http.Request) {
	var req createWorkspaceRequest
	if !s.decodeJSON(w, r, &req) {
		return
	}
	meta, ok := validObject(req.Metadata)
	if !ok {
		s.wrongShape(w, "metadata: expected an object")
		return
	}
	if err := errors.Join(s.checkName(req.Name), s.checkMetadata(meta)); err != nil {
		s.wrongShape(w, err.Error())
		return
	}
	if !s.checkSpace(w, 0) {
		return
	}
	t := now()
	id := s.newWorkspaceID()
	if id == "" {
		writeError(w, wire.CodeInternal, "No free host uid left in the workspace uid range")
		return
	}
	e := &workspaceEntry{rec: store.Workspace{ID: id, Name: req.Name, Metadata: meta, CreatedAt: t, UpdatedAt: t}}
	e.dir = filepath.Join(s.wsDir, e.rec.ID)
	if err := s.makeWorkspaceDir(e.dir); err != nil {
		writeErrorDetails(w, wire.CodeInternal, "Cannot create workspace directory", err.Error())
		return
	}
	if err := s.store.PutWorkspace(r.Context(), &e.rec); err != nil {
		os.RemoveAll(e.dir)
		writeErrorDetails(w, wire.CodeDatabaseError, "Database error", err.Error())
		return
	}
	s.mu.Lock()
	s.workspaces[e.rec.ID] = e
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.workspaceJSON(e))
}

func (s *Server) handleListWorkspaces(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	es := make([]*workspaceEntry, 0, len(s.workspaces))
	for _, e := range s.workspaces {
		es = append(es, e)
	}
	s.mu.RUnlock()
	slices.SortFunc(es, func(a, b *workspaceEntry) int {
		if c := a.rec.CreatedAt.Compare(b.rec.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.rec.ID, b.rec.ID)
	})
	out := make([]*workspaceJSON, len(es))
	for i, e := range es {
		out[i] = s.workspaceJSON(e)
	}
	writeJSONList(w, "workspaces", out)
}

func (s *Server) handleGetWorkspace(w http.ResponseWriter, r *http.Request) {
	if e := s.workspace(w, r); e != nil {
		writeJSON(w, http.StatusOK, s.workspaceJSON(e))
	}
}

type successResponse struct {
	Success bool `json:"success"`
}

func (s *Server) handleDeleteWorkspace(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	e := s.workspaces[id]
	if e == nil {
		s.mu.Unlock()
		writeError(w, wire.CodeWorkspaceNotFound, "Workspace not found: "+id)
		return
	}
	if e.writers > 0 || e.deleting {
		s.mu.Unlock()
		writeError(w, wire.CodeWorkspaceHasActiveSandboxes, "Workspace has writes in progress: "+id)
		return
	}
	var dead []string
	for sid, sb := range s.sandboxes {
		if sb.rec.WorkspaceID != id {
			continue
		}
		sb.mu.Lock()
		st := sb.rec.State
		sb.mu.Unlock()
		if isActive(st) {
			s.mu.Unlock()
			writeError(w, wire.CodeWorkspaceHasActiveSandboxes, "Workspace has active sandboxes: "+id)
			return
		}
		dead = append(dead, sid)
	}
	// The record goes first: if the store fails, nothing changed.
	e.deleting = true
	s.mu.Unlock()
	if err := s.store.DeleteWorkspace(context.WithoutCancel(r.Context()), id); err != nil {
		s.mu.Lock()
		e.deleting = false
		s.mu.Unlock()
		s.log.Error("delete workspace", "id", id, "err", err)
		writeErrorDetails(w, wire.CodeDatabaseError, "Database error: the workspace was not deleted", err.Error())
		return
	}
	s.mu.Lock()
	for _, sid := range dead {
		delete(s.sandboxes, sid)
	}
	delete(s.workspaces, id)
	s.mu.Unlock()
	e.closeRoot()
	if err := os.RemoveAll(e.dir); err != nil {
		s.log.Error("remove workspace directory", "id", id, "err", err)
	}
	writeJSON(w, http.StatusOK, successResponse{Success: true})
}
