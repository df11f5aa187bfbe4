//go:build !windows

package server

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/elevo/workspace-sdk-go/internal/wire"

	"github.com/elevo/workspace-sdk-go/internal/store"
)

// Sandbox states.
const (
	stateStarting = "starting"
	stateRunning  = "running"
	stateStopping = "stopping"
	stateStopped  = "stopped"
	stateError    = "error"
)

func isActive(state string) bool {
	return state == stateStarting || state == stateRunning || state == stateStopping
}

// sandboxEntry is a sandbox in memory. Lock order: Server.mu, then mu.
type sandboxEntry struct {
	mu      sync.Mutex
	rec     store.Sandbox  // guarded by mu
	rt      SandboxRuntime // live runtime while running/stopping; guarded by mu
	ended   chan struct{}  // closed by the watcher after its bookkeeping
	removed bool           // deleted: the watcher must not persist it
	// agentErr is why the sandbox's agent failed (errAgentDead or
	// errAgentTimeout wrapped), set by the watcher; calls on the sandbox
	// are then answered 503/5001 or 504/5002. Guarded by mu.
	agentErr error
}

type sandboxJSON struct {
	ID           string            `json:"id"`
	WorkspaceID  string            `json:"workspace_id"`
	Name         *string           `json:"name"`
	Template     string            `json:"template"`
	State        string            `json:"state"`
	Env          map[string]string `json:"env"`
	Metadata     json.RawMessage   `json:"metadata"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
	Timeout      *int64            `json:"timeout"`
	ErrorMessage *string           `json:"error_message"`
	Resources    json.RawMessage   `json:"resources,omitempty"`
}

// json returns the wire form of e; the caller holds e.mu.
func (e *sandboxEntry) json() *sandboxJSON {
	env := e.rec.Env
	if env == nil {
		env = map[string]string{}
	}
	return &sandboxJSON{
		ID: e.rec.ID, WorkspaceID: e.rec.WorkspaceID, Name: e.rec.Name, Template: e.rec.Template,
		State: e.rec.State, Env: env, Metadata: e.rec.Metadata, CreatedAt: e.rec.CreatedAt,
		UpdatedAt: e.rec.UpdatedAt, Timeout: e.rec.Timeout, ErrorMessage: e.rec.ErrorMessage, Resources: e.rec.Resources,
	}
}

func (e *sandboxEntry) snapshot() *sandboxJSON {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.json()
}

// setState changes the state; the caller holds e.mu.
func (e *sandboxEntry) setState(st string) {
	e.rec.State = st
	e.rec.UpdatedAt = now()
}

// persist writes the record; the caller must not hold e.mu. Failures are
// logged and returned.
func (s *Server) persist(e *sandboxEntry) error {
	e.mu.Lock()
	if e.removed {
		e.mu.Unlock()
		return nil
	}
	rec := e.rec
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.store.PutSandbox(ctx, &rec); err != nil {
		s.log.Error("persist sandbox", "id", rec.ID, "err", err)
		return err
	}
	return nil
}

// forgetSandbox removes a sandbox that was never answered for: from the
// table, from the active count and (best effort) from the store.
func (s *Server) forgetSandbox(e *sandboxEntry) {
	s.mu.Lock()
	if s.sandboxes[e.rec.ID] == e {
		delete(s.sandboxes, e.rec.ID)
	}
	s.active--
	s.mu.Unlock()
	e.mu.Lock()
	e.removed = true
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.store.DeleteSandbox(ctx, e.rec.ID) //nolint:errcheck // best effort: Reconcile marks a leftover record error
}

// sandboxByID returns the sandbox entry for id, or nil.
func (s *Server) sandboxByID(id string) *sandboxEntry {
	s.mu.RLock()
	e := s.sandboxes[id]
	s.mu.RUnlock()
	return e
}

// sandbox looks up the {id} path value, writing 404/2001 when missing.
func (s *Server) sandbox(w http.ResponseWriter, r *http.Request) *sandboxEntry {
	id := r.PathValue("id")
	e := s.sandboxByID(id)
	if e == nil {
		writeError(w, wire.CodeSandboxNotFound, "Sandbox not found: "+id)
	}
	return e
}

// runningSandbox looks up the {id} path value and returns the sandbox's
// live runtime when it is running; otherwise it writes 404/2001 or
// 400/2004 and returns ok=false. Process and PTY handlers use it.
func (s *Server) runningSandbox(w http.ResponseWriter, r *http.Request) (*sandboxEntry, SandboxRuntime, bool) {
	e := s.sandbox(w, r)
	if e == nil {
		return nil, nil, false
	}
	e.mu.Lock()
	st, rt := e.rec.State, e.rt
	e.mu.Unlock()
	e.mu.Lock()
	agentErr := e.agentErr
	e.mu.Unlock()
	if agentErr != nil && writeAgentError(w, agentErr) {
		return nil, nil, false
	}
	if st != stateRunning || rt == nil {
		writeError(w, wire.CodeInvalidSandboxState, "Sandbox is not running: "+e.rec.ID+" (state "+st+")")
		return nil, nil, false
	}
	return e, rt, true
}

type createSandboxRequest struct {
	WorkspaceID *string           `json:"workspace_id"`
	Template    *string           `json:"template"`
	Name        *string           `json:"name"`
	Env         map[string]string `json:"env"`
	Metadata    json.RawMessage   `json:"metadata"`
	Timeout     *int64            `json:"timeout"`
	Resources   *resourcesJSON    `json:"resources"`
}

func (s *Server) handleCreateSandbox(w http.ResponseWriter, r *http.Request) {
	var req createSandboxRequest
	if !s.decodeJSON(w, r, &req) {
		return
	}
	if req.WorkspaceID == nil || (*req.WorkspaceID == "" && !s.cfg.BaseMode) {
		s.missingField(w, "workspace_id")
		return
	}
	meta, ok := validObject(req.Metadata)
	if !ok {
		s.wrongShape(w, "metadata: expected an object")
		return
	}
	if err := errors.Join(s.checkName(req.Name), s.checkMetadata(meta), s.checkEnv(req.Env), s.checkTimeout(req.Timeout, time.Second)); err != nil {
		s.wrongShape(w, err.Error())
		return
	}
	if req.Timeout != nil && *req.Timeout == 0 {
		req.Timeout = nil
	}
	tmpl := "default"
	if req.Template != nil && *req.Template != "" {
		tmpl = *req.Template
	}
	rootfs, ok := s.templates[tmpl]
	if !ok {
		writeError(w, wire.CodeTemplateNotFound, "Template not found: "+tmpl)
		return
	}
	limits, res, rerr := s.resolveResources(req.Resources)
	if rerr != nil {
		writeError(w, rerr.code, rerr.msg)
		return
	}
	t := now()
	e := &sandboxEntry{
		rec: store.Sandbox{
			ID: newID(), WorkspaceID: *req.WorkspaceID, Name: req.Name, Template: tmpl, State: stateStarting,
			Env: req.Env, Metadata: meta, CreatedAt: t, UpdatedAt: t, Timeout: req.Timeout, Resources: res,
		},
		ended: make(chan struct{}),
	}
	if e.rec.Env == nil {
		e.rec.Env = map[string]string{}
	}

	s.mu.Lock()
	ws := s.workspaces[e.rec.WorkspaceID]
	switch {
	case ws == nil || ws.deleting:
		s.mu.Unlock()
		writeError(w, wire.CodeWorkspaceNotFound, "Workspace not found: "+e.rec.WorkspaceID)
		return
	case s.closed:
		s.mu.Unlock()
		writeErrorStatus(w, http.StatusServiceUnavailable, wire.CodeInternal, "Server is shutting down")
		return
	case s.cfg.MaxSandboxes > 0 && s.active >= s.cfg.MaxSandboxes:
		s.mu.Unlock()
		writeError(w, wire.CodeSandboxLimitExceeded, "Sandbox limit exceeded")
		return
	}
	s.active++
	s.sandboxes[e.rec.ID] = e
	s.mu.Unlock()
	if !s.checkSpace(w, 0) {
		s.forgetSandbox(e)
		return
	}
	// The record is written before the sandbox starts: a server killed
	// during the start finds it (as error) at restart, and a store that
	// cannot write fails the create with nothing started.
	if err := s.persist(e); err != nil {
		s.forgetSandbox(e)
		writeErrorDetails(w, wire.CodeDatabaseError, "Database error: the sandbox was not created", err.Error())
		return
	}

	env := make(map[string]string, len(e.rec.Env)+2)
	maps.Copy(env, e.rec.Env)
	env["WORKSPACE_SANDBOX_ID"] = e.rec.ID
	env["WORKSPACE_WORKSPACE_ID"] = e.rec.WorkspaceID
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.StartTimeout)
	uid, gid := s.workspaceOwner(ws.rec.ID)
	rt, err := s.rt.Start(ctx, SandboxSpec{ID: e.rec.ID, WorkspaceDir: ws.dir, RootFS: rootfs, Env: env, Limits: limits, UID: uid, GID: gid})
	cancel()
	if err != nil {
		e.mu.Lock()
		e.setState(stateError)
		msg := err.Error()
		e.rec.ErrorMessage = &msg
		e.mu.Unlock()
		close(e.ended)
		s.mu.Lock()
		s.active--
		s.mu.Unlock()
		s.persist(e)
		s.log.Warn("sandbox start failed", "id", e.rec.ID, "err", err)
		writeErrorDetails(w, wire.CodeInternal, "Failed to start sandbox "+e.rec.ID, msg)
		return
	}
	e.mu.Lock()
	e.rt = rt
	e.setState(stateRunning)
	out := e.json()
	e.mu.Unlock()
	if err := s.persist(e); err != nil {
		// Not kept, so not answered 200: stop it and forget it.
		rt.Stop(0) //nolint:errcheck // best effort
		<-rt.Done()
		s.forgetSandbox(e)
		writeErrorDetails(w, wire.CodeDatabaseError, "Database error: the sandbox was not created", err.Error())
		return
	}
	s.wg.Add(1)
	go s.watch(e, rt)
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed { // Close ran during the start and did not see rt.
		rt.Stop(0) //nolint:errcheck // shutting down
	}
	writeJSON(w, http.StatusOK, out)
}

// watch waits for the sandbox to end (on its own, by delete or Close) or
// for its timeout, after which it kills it; then it marks it stopped.
func (s *Server) watch(e *sandboxEntry, rt SandboxRuntime) {
	defer s.wg.Done()
	var timeout <-chan time.Time
	if e.rec.Timeout != nil {
		t := time.NewTimer(time.Duration(*e.rec.Timeout) * time.Second)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-rt.Done():
	case <-timeout:
		e.mu.Lock()
		e.setState(stateStopping)
		e.mu.Unlock()
		s.log.Debug("sandbox timeout", "id", e.rec.ID)
		rt.Stop(0) //nolint:errcheck // Stop is idempotent; Done follows
		<-rt.Done()
	}
	e.mu.Lock()
	e.rt = nil
	if err := rt.Err(); err != nil && agentFailed(err) {
		// The agent died or stopped answering: the sandbox failed.
		msg := err.Error()
		e.agentErr = err
		e.rec.ErrorMessage = &msg
		e.setState(stateError)
	} else {
		e.setState(stateStopped)
	}
	e.mu.Unlock()
	s.persist(e)
	s.mu.Lock()
	s.active--
	s.mu.Unlock()
	close(e.ended)
}

func (s *Server) handleListSandboxes(w http.ResponseWriter, r *http.Request) {
	state := r.URL.Query().Get("state")
	switch state {
	case "", stateStarting, stateRunning, stateStopping, stateStopped, stateError:
	default:
		s.badQuery(w, "state: unknown variant `"+state+"`")
		return
	}
	s.mu.RLock()
	es := make([]*sandboxEntry, 0, len(s.sandboxes))
	for _, e := range s.sandboxes {
		es = append(es, e)
	}
	s.mu.RUnlock()
	out := make([]*sandboxJSON, 0, len(es))
	for _, e := range es {
		j := e.snapshot()
		if state == "" || j.State == state {
			out = append(out, j)
		}
	}
	slices.SortFunc(out, func(a, b *sandboxJSON) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	writeJSONList(w, "sandboxes", out)
}

func (s *Server) handleGetSandbox(w http.ResponseWriter, r *http.Request) {
	if e := s.sandbox(w, r); e != nil {
		writeJSON(w, http.StatusOK, e.snapshot())
	}
}

func (s *Server) handleDeleteSandbox(w http.ResponseWriter, r *http.Request) {
	e := s.sandbox(w, r)
	if e == nil {
		return
	}
	force := r.URL.Query().Get("force") == "true"
	e.mu.Lock()
	st, rt := e.rec.State, e.rt
	switch {
	case st == stateStarting:
		e.mu.Unlock()
		writeError(w, wire.CodeInvalidSandboxState, "Sandbox is starting: "+e.rec.ID)
		return
	case s.cfg.BaseMode && !force && st == stateRunning:
		e.mu.Unlock()
		writeError(w, wire.CodeInvalidSandboxState, "Sandbox is running; stop it or delete with force=true: "+e.rec.ID)
		return
	}
	if rt != nil && st == stateRunning {
		e.setState(stateStopping)
	}
	e.mu.Unlock()
	if rt != nil {
		grace := s.cfg.StopGrace
		if force {
			grace = 0
		}
		if err := rt.Stop(grace); err != nil {
			s.log.Warn("sandbox stop", "id", e.rec.ID, "err", err)
		}
		<-e.ended
	}
	// The record goes before the entry: if the store fails, the sandbox
	// stays listed (stopped) and the delete answers 500/6001.
	if err := s.store.DeleteSandbox(context.WithoutCancel(r.Context()), e.rec.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("delete sandbox", "id", e.rec.ID, "err", err)
		writeErrorDetails(w, wire.CodeDatabaseError, "Database error: the sandbox was not deleted", err.Error())
		return
	}
	s.mu.Lock()
	if s.sandboxes[e.rec.ID] == e {
		delete(s.sandboxes, e.rec.ID)
	}
	s.mu.Unlock()
	e.mu.Lock()
	e.removed = true
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, successResponse{Success: true})
}
