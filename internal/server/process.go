//go:build !windows

package server

import (
	"errors"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/elevo/workspace-sdk-go/internal/wire"
)

// baseModeRunCap is upstream's cap for a run without timeout.
const baseModeRunCap = 30 * time.Second

type runRequest struct {
	Command  *string           `json:"command"`
	Args     []string          `json:"args"`
	Env      map[string]string `json:"env"`
	Cwd      string            `json:"cwd"`
	Timeout  *int64            `json:"timeout"` // milliseconds
	Stdin    *string           `json:"stdin"`
	Encoding string            `json:"encoding"`
}

// runTimeout converts a protocol timeout in milliseconds: absent or 0 is
// no limit (30 s in base mode).
func (s *Server) runTimeout(ms int64) time.Duration {
	if ms <= 0 {
		if s.cfg.BaseMode {
			return baseModeRunCap
		}
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}

func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	var req runRequest
	_, rt, ok := s.runningSandboxJSON(w, r, &req)
	if !ok {
		return
	}
	if req.Command == nil || (*req.Command == "" && !s.cfg.BaseMode) {
		s.missingField(w, "command")
		return
	}
	if err := errors.Join(s.checkCommand(*req.Command, req.Args), s.checkEnv(req.Env), s.checkTimeout(req.Timeout, time.Millisecond)); err != nil {
		s.wrongShape(w, err.Error())
		return
	}
	b64, ok := s.wantBase64(w, req.Encoding)
	if !ok {
		return
	}
	ex := ExecRequest{Command: *req.Command, Args: req.Args, Env: req.Env, Cwd: req.Cwd, MaxOutput: s.cfg.MaxRunOutputBytes}
	if req.Timeout != nil {
		ex.Timeout = s.runTimeout(*req.Timeout)
	} else {
		ex.Timeout = s.runTimeout(0)
	}
	if req.Stdin != nil && !s.cfg.BaseMode {
		if ex.Stdin, ok = decodeBody(w, "stdin", *req.Stdin, b64); !ok {
			return
		}
	}
	res, err := rt.Run(r.Context(), ex)
	if err != nil {
		s.runError(w, err, res, b64)
		return
	}
	s.writeRunResult(w, res, b64)
}

// runError writes the error of a failed run; a timeout (504/4002) carries
// the partial output in "stdout" and "stderr".
func (s *Server) runError(w http.ResponseWriter, err error, res *ExecResult, b64 bool) {
	if writeAgentError(w, err) {
		return
	}
	switch {
	case errors.Is(err, errRunTimeout):
		s.writeRunTimeout(w, res, b64)
	case errors.Is(err, errSandboxNotRunning):
		writeError(w, wire.CodeInvalidSandboxState, "Sandbox is not running")
	case errors.Is(err, errProcessNotFound):
		writeError(w, wire.CodeProcessNotFound, "Process not found")
	default:
		writeErrorDetails(w, wire.CodeProcessExecutionFailed, "Process execution failed", err.Error())
	}
}

type killRequest struct {
	Signal *int `json:"signal"`
}

func (s *Server) handleKill(w http.ResponseWriter, r *http.Request) {
	_, rt, ok := s.runningSandbox(w, r)
	if !ok {
		return
	}
	pid, err := strconv.Atoi(r.PathValue("pid"))
	if err != nil || pid <= 0 {
		if s.cfg.BaseMode {
			writePlain(w, http.StatusBadRequest, "Invalid URL: Cannot parse `"+r.PathValue("pid")+"` to a `u32`")
			return
		}
		writeError(w, wire.CodeInvalidParameter, "invalid pid: "+r.PathValue("pid"))
		return
	}
	var req killRequest
	if !s.decodeJSON(w, r, &req) {
		return
	}
	sig := 15
	if req.Signal != nil && *req.Signal != 0 {
		sig = *req.Signal
	}
	if sig < 1 || sig > 64 {
		s.wrongShape(w, "signal: out of range")
		return
	}
	if err := rt.Signal(pid, syscall.Signal(sig)); err != nil {
		s.runError(w, err, nil, false)
		return
	}
	writeJSON(w, http.StatusOK, successResponse{Success: true})
}
