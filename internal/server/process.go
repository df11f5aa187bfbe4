package server

import (
	"encoding/base64"
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

type runResponse struct {
	ExitCode int    `json:"exit_code"`
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
	Encoding string `json:"encoding,omitempty"`
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

// encodeOutput renders process output: base64, or a string whose invalid
// UTF-8 encoding/json turns into U+FFFD.
func encodeOutput(b []byte, b64 bool) string {
	if b64 {
		return base64.StdEncoding.EncodeToString(b)
	}
	return string(b)
}

func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	_, rt, ok := s.runningSandbox(w, r)
	if !ok {
		return
	}
	var req runRequest
	if !s.decodeJSON(w, r, &req) {
		return
	}
	if req.Command == nil || (*req.Command == "" && !s.cfg.BaseMode) {
		s.missingField(w, "command")
		return
	}
	if req.Timeout != nil && *req.Timeout < 0 {
		s.wrongShape(w, "timeout: must not be negative")
		return
	}
	b64, ok := s.wantBase64(w, req.Encoding)
	if !ok {
		return
	}
	ex := ExecRequest{Command: *req.Command, Args: req.Args, Env: req.Env, Cwd: req.Cwd}
	if req.Timeout != nil {
		ex.Timeout = s.runTimeout(*req.Timeout)
	} else {
		ex.Timeout = s.runTimeout(0)
	}
	if req.Stdin != nil && !s.cfg.BaseMode {
		ex.Stdin = []byte(*req.Stdin)
		if b64 {
			n, err := base64.StdEncoding.Decode(ex.Stdin, ex.Stdin)
			if err != nil {
				writeErrorDetails(w, wire.CodeInvalidParameter, "stdin is not valid base64", err.Error())
				return
			}
			ex.Stdin = ex.Stdin[:n]
		}
	}
	res, err := rt.Run(r.Context(), ex)
	if err != nil {
		s.runError(w, err, res, b64)
		return
	}
	out := runResponse{ExitCode: res.ExitCode, Stdout: encodeOutput(res.Stdout, b64), Stderr: encodeOutput(res.Stderr, b64)}
	if b64 {
		out.Encoding = "base64"
	}
	writeJSON(w, http.StatusOK, &out)
}

// runError writes the error of a failed run; a timeout (504/4002) carries
// the partial output in "stdout" and "stderr".
func (s *Server) runError(w http.ResponseWriter, err error, res *ExecResult, b64 bool) {
	switch {
	case errors.Is(err, errRunTimeout):
		body := &errorBody{Code: wire.CodeProcessTimeout, Message: "Process timed out"}
		var so, se string
		if res != nil {
			so, se = encodeOutput(res.Stdout, b64), encodeOutput(res.Stderr, b64)
		}
		body.Stdout, body.Stderr = &so, &se
		writeJSON(w, http.StatusGatewayTimeout, body)
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
