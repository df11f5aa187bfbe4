//go:build !windows

package server

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/elevo/workspace-sdk-go/internal/wire"
)

// startProcessRequest is the body of POST /sandboxes/{id}/processes: the
// fields of run, plus open_stdin and follow.
type startProcessRequest struct {
	runRequest
	OpenStdin bool `json:"open_stdin"`
	// Follow: the caller reads the events at once; until its reader
	// attaches, output waits as for an attached reader (an extension of
	// PROTOCOL.md that the SDK's Cmd uses).
	Follow bool `json:"follow"`
}

// processInfoJSON is the ProcessInfo of PROTOCOL.md Part 3.
type processInfoJSON struct {
	PID       int        `json:"pid"`
	Command   string     `json:"command"`
	Args      []string   `json:"args"`
	Cwd       string     `json:"cwd"`
	State     string     `json:"state"`
	ExitCode  *int       `json:"exit_code"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at"`
}

// handleStartProcess serves POST /sandboxes/{id}/processes: it starts a
// process that is not tied to the request and answers once it runs.
func (s *Server) handleStartProcess(w http.ResponseWriter, r *http.Request) {
	var req startProcessRequest
	e, rt, ok := s.runningSandboxJSON(w, r, &req)
	if !ok {
		return
	}
	if req.Command == nil || *req.Command == "" {
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
	ex := ExecRequest{Command: *req.Command, Args: req.Args, Env: req.Env, Cwd: req.Cwd, OpenStdin: req.OpenStdin}
	if req.Timeout != nil {
		ex.Timeout = time.Duration(*req.Timeout) * time.Millisecond
	}
	if req.Stdin != nil {
		if ex.Stdin, ok = decodeBody(w, "stdin", *req.Stdin, b64); !ok {
			return
		}
	}
	if err := s.procs.reserve(); err != nil {
		writeError(w, wire.CodeSandboxLimitExceeded, err.Error())
		return
	}
	s.mu.RLock()
	closed := s.closed
	if !closed {
		s.wg.Add(1)
	}
	s.mu.RUnlock()
	if closed {
		s.procs.release()
		writeErrorStatus(w, http.StatusServiceUnavailable, wire.CodeInternal, "Server is shutting down")
		return
	}
	proc, err := rt.Start(s.ctx, ex)
	if err == nil && proc.PID == 0 { // could not be started: the reason is on stderr
		msg, _ := io.ReadAll(io.LimitReader(proc.Stderr, 4<<10))
		_ = proc.Stdout.Close()
		_ = proc.Stderr.Close()
		code, _ := proc.Wait()
		err = errors.New("exit " + strconv.Itoa(code) + ": " + string(msg))
	}
	if err != nil {
		s.wg.Done()
		s.procs.release()
		s.runError(w, err, nil, false)
		return
	}
	cwd := req.Cwd
	if cwd == "" {
		cwd = "/workspace"
	}
	p := &detachedProc{
		sandboxID: e.rec.ID, pid: proc.PID, command: *req.Command, args: req.Args, cwd: cwd,
		startedAt: now(), proc: proc, openStdin: req.OpenStdin, limit: s.procs.outBytes,
		wake: make(chan struct{}), progress: make(chan struct{}),
	}
	p.append(procEvent{typ: wire.EventStart, pid: proc.PID})
	if req.Follow {
		p.holdForReader()
	}
	if s.procs.add(p) {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			<-e.ended
			s.procs.dropSandbox(e.rec.ID)
		}()
	}
	go func() {
		defer s.wg.Done()
		p.run()
	}()
	writeJSON(w, http.StatusOK, p.info())
}

// handleListProcesses serves GET /sandboxes/{id}/processes.
func (s *Server) handleListProcesses(w http.ResponseWriter, r *http.Request) {
	e, _, ok := s.runningSandbox(w, r)
	if !ok {
		return
	}
	out := struct {
		Processes []*processInfoJSON `json:"processes"`
	}{Processes: []*processInfoJSON{}}
	for _, p := range s.procs.list(e.rec.ID) {
		out.Processes = append(out.Processes, p.info())
	}
	writeJSON(w, http.StatusOK, &out)
}

// detachedProcess looks up the {pid} of a running sandbox, writing the
// error when there is none.
func (s *Server) detachedProcess(w http.ResponseWriter, r *http.Request) (*detachedProc, bool) {
	e, _, ok := s.runningSandbox(w, r)
	if !ok {
		return nil, false
	}
	pid, err := strconv.Atoi(r.PathValue("pid"))
	if err != nil || pid <= 0 {
		writeError(w, wire.CodeInvalidParameter, "invalid pid: "+r.PathValue("pid"))
		return nil, false
	}
	p := s.procs.get(e.rec.ID, pid)
	if p == nil {
		writeError(w, wire.CodeProcessNotFound, "Process not found: "+r.PathValue("pid"))
		return nil, false
	}
	return p, true
}

// handleGetProcess serves GET /sandboxes/{id}/processes/{pid}.
func (s *Server) handleGetProcess(w http.ResponseWriter, r *http.Request) {
	if p, ok := s.detachedProcess(w, r); ok {
		writeJSON(w, http.StatusOK, p.info())
	}
}

// handleProcessEvents serves GET /sandboxes/{id}/processes/{pid}/events:
// the retained events after Last-Event-ID (a gap event first when output
// between was dropped), then live ones, ending after the exit (or error)
// event. Dropping the stream leaves the process alone.
func (s *Server) handleProcessEvents(w http.ResponseWriter, r *http.Request) {
	p, ok := s.detachedProcess(w, r)
	if !ok {
		return
	}
	b64, ok := s.wantBase64(w, r.URL.Query().Get("encoding"))
	if !ok {
		return
	}
	var last int64
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, wire.CodeInvalidParameter, "Last-Event-ID must be an event id")
			return
		}
		last = n
	}
	sw := startSSE(w)
	beat := time.NewTicker(s.cfg.StreamHeartbeat)
	defer beat.Stop()
	pos := p.attach(last)
	defer p.detach(pos)
	for {
		evs, dropped, wake, done := p.since(last)
		if dropped > 0 {
			sw.seq = evs[0].id - 2 // the gap takes the id of the last lost event
			sw.add(wire.EventGap, wire.Event{Type: wire.EventGap, Dropped: dropped})
		}
		for i := range evs {
			ev := &evs[i]
			sw.seq = ev.id - 1
			switch ev.typ {
			case wire.EventStdout, wire.EventStderr:
				sw.addData(ev.typ, ev.data, b64)
			case wire.EventStart:
				sw.add(ev.typ, wire.Event{Type: ev.typ, PID: ev.pid})
			case wire.EventExit:
				sw.add(ev.typ, wire.Event{Type: ev.typ, Code: &ev.code})
			case wire.EventError:
				sw.add(ev.typ, wire.Event{Type: ev.typ, Code: &ev.code, Message: ev.msg})
			}
			last = ev.id
			if sw.buf.Len() >= streamCoalesce {
				if sw.send() != nil {
					return
				}
				p.moved(pos, last)
			}
		}
		if sw.send() != nil || (done && len(evs) == 0) {
			return
		}
		p.moved(pos, last)
		if done {
			continue // the loop ends once nothing is left after the last event
		}
		select {
		case <-wake:
		case <-beat.C:
			if sw.comment() != nil {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

// handleProcessStdin serves POST /sandboxes/{id}/processes/{pid}/stdin:
// the raw body is appended to the process's stdin as it arrives;
// ?close=true closes stdin after it.
func (s *Server) handleProcessStdin(w http.ResponseWriter, r *http.Request) {
	p, ok := s.detachedProcess(w, r)
	if !ok {
		return
	}
	if !p.openStdin {
		writeError(w, wire.CodeInvalidParameter, "the process was not started with open_stdin")
		return
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Body.Read(buf)
		if n > 0 {
			if werr := p.proc.WriteStdin(r.Context(), buf[:n]); werr != nil {
				writeErrorDetails(w, wire.CodeInvalidParameter, "stdin is closed", werr.Error())
				return
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			writeErrorDetails(w, wire.CodeInvalidRequest, "reading the body failed", err.Error())
			return
		}
	}
	if r.URL.Query().Get("close") == "true" {
		if err := p.proc.CloseStdin(); err != nil {
			writeErrorDetails(w, wire.CodeProcessExecutionFailed, "closing stdin failed", err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, successResponse{Success: true})
}
