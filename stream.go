package workspace

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"

	sse "github.com/tmaxmax/go-sse"
)

// maxStreamEvent bounds the size of one server-sent event.
const maxStreamEvent = 16 << 20

// RunStream runs command in the sandbox and yields its events as they
// arrive: on servers with the process.stream feature an EventStart with the
// PID, then EventStdout and EventStderr chunks, then one EventExit with the
// exit code. Servers without it (upstream) send what they send (a single
// exit) and RunStream yields just that. opts may be nil; opts.Stdout and
// opts.Stderr, when set, receive each chunk as it arrives (the events are
// still yielded).
//
// Each range over the sequence runs the command anew. The stream is bounded
// only by ctx (not by the Client's timeout). The contract:
//   - at most one of the event and the error is non-nil (a zero event with
//     an error);
//   - iteration stops after an error;
//   - breaking out of the loop or cancelling ctx closes the stream, and so
//     the server kills the process;
//   - errors before the stream starts are *Error values, as for Run
//     (ErrSandboxNotFound, ErrInvalidSandboxState, ErrUnsupported for Stdin
//     without process.stdin);
//   - an error event of the server is yielded as an EventError and then
//     as an *Error with its code: a timeout (code 4002) matches
//     ErrProcessTimeout;
//   - a stream that ends before an exit or error event yields an error
//     wrapping ErrStreamInterrupted, never a silent success.
func (s *ProcessService) RunStream(ctx context.Context, sandboxID, command string, opts *RunCommandOptions) iter.Seq2[ProcessEvent, error] {
	return func(yield func(ProcessEvent, error) bool) {
		const op = "run stream"
		w, err := s.prepareRun(ctx, op, command, opts)
		if err != nil {
			yield(ProcessEvent{}, err)
			return
		}
		q, err := streamQuery(&w.body)
		if err != nil {
			yield(ProcessEvent{}, fmt.Errorf("workspace: %s: %w", op, err))
			return
		}
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		req, err := s.c.newRequest(sctx, http.MethodGet, sandboxPath(sandboxID, "/process/run/stream"), q, nil)
		if err != nil {
			yield(ProcessEvent{}, err)
			return
		}
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Cache-Control", "no-cache")
		resp, err := s.c.hc.Do(req)
		if err != nil {
			yield(ProcessEvent{}, fmt.Errorf("workspace: %s: %w", op, ctxErr(ctx, err)))
			return
		}
		defer resp.Body.Close()
		if err := s.c.checkResponse(resp, op); err != nil {
			yield(ProcessEvent{}, err)
			return
		}
		var stdout, stderr io.Writer
		if opts != nil {
			stdout, stderr = opts.Stdout, opts.Stderr
		}
		dec := &streamDecoder{binary: w.binary, stdout: stdout, stderr: stderr}
		for ev, err := range dec.events(resp.Body) {
			if err != nil && ctx.Err() != nil {
				err = fmt.Errorf("workspace: %s: %w", op, ctx.Err())
			}
			if !yield(ev, err) || err != nil {
				return
			}
		}
	}
}

// streamQuery encodes the run options as the query of run/stream.
func streamQuery(b *runBody) (url.Values, error) {
	q := url.Values{"command": {b.Command}}
	if len(b.Args) > 0 {
		j, err := json.Marshal(b.Args)
		if err != nil {
			return nil, err
		}
		q.Set("args", string(j))
	}
	if len(b.Env) > 0 {
		j, err := json.Marshal(b.Env)
		if err != nil {
			return nil, err
		}
		q.Set("env", string(j))
	}
	if b.Cwd != "" {
		q.Set("cwd", b.Cwd)
	}
	if b.Timeout > 0 {
		q.Set("timeout", strconv.FormatInt(b.Timeout, 10))
	}
	if b.Encoding != "" {
		q.Set("encoding", b.Encoding)
	}
	if b.Stdin != nil {
		q.Set("stdin", *b.Stdin)
	}
	return q, nil
}

// streamDecoder turns the server-sent events of run/stream into
// ProcessEvents.
type streamDecoder struct {
	binary         bool
	stdout, stderr io.Writer
}

// wireEvent is the JSON data of one event.
type wireEvent struct {
	Type     string          `json:"type"`
	Data     json.RawMessage `json:"data"`
	Code     *int            `json:"code"`
	ExitCode *int            `json:"exit_code"`
	PID      int             `json:"pid"`
	Message  string          `json:"message"`
}

// endTracker records whether the underlying reader has ended.
type endTracker struct {
	r     io.Reader
	ended bool
	err   error
}

func (t *endTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil {
		t.ended = true
		if err != io.EOF {
			t.err = err
		}
	}
	return n, err
}

// events decodes r. The sequence ends after an exit event, after an error,
// or with ErrStreamInterrupted when r ends first.
func (d *streamDecoder) events(r io.Reader) iter.Seq2[ProcessEvent, error] {
	const op = "run stream"
	return func(yield func(ProcessEvent, error) bool) {
		tr := &endTracker{r: r}
		interrupted := func(cause error) error {
			if cause != nil {
				return fmt.Errorf("workspace: %s: %w: %w", op, ErrStreamInterrupted, cause)
			}
			return fmt.Errorf("workspace: %s: %w: stream ended before the exit event", op, ErrStreamInterrupted)
		}
		for sev, err := range sse.Read(tr, &sse.ReadConfig{MaxEventSize: maxStreamEvent}) {
			if err != nil {
				if tr.ended {
					yield(ProcessEvent{}, interrupted(err))
				} else {
					yield(ProcessEvent{}, fmt.Errorf("workspace: %s: read event: %w", op, err))
				}
				return
			}
			ev, ok, err := d.decode(sev)
			if err != nil {
				if tr.ended {
					err = interrupted(err)
				}
				yield(ProcessEvent{}, err)
				return
			}
			if !ok {
				continue
			}
			switch ev.Type {
			case EventStdout, EventStderr:
				wr := d.stdout
				if ev.Type == EventStderr {
					wr = d.stderr
				}
				if wr != nil && len(ev.Data) > 0 {
					if _, err := wr.Write(ev.Data); err != nil {
						yield(ProcessEvent{}, fmt.Errorf("workspace: %s: write %s: %w", op, ev.Type, err))
						return
					}
				}
			case EventExit:
				yield(ev, nil)
				return
			case EventError:
				if !yield(ev, nil) {
					return
				}
				yield(ProcessEvent{}, &Error{Code: ErrorCode(ev.Code), Message: ev.Message, Op: op})
				return
			}
			if !yield(ev, nil) {
				return
			}
		}
		yield(ProcessEvent{}, interrupted(tr.err))
	}
}

// decode converts one SSE event; ok is false for events to skip (unknown
// types, heartbeats without data).
func (d *streamDecoder) decode(sev sse.Event) (ev ProcessEvent, ok bool, err error) {
	const op = "run stream"
	if sev.Data == "" {
		return ev, false, nil
	}
	if d.binary && (sev.Type == "stdout" || sev.Type == "stderr") {
		if data, ok := fastBase64Data(sev.Type, sev.Data); ok {
			return ProcessEvent{Type: EventType(sev.Type), Data: data}, true, nil
		}
	}
	var w wireEvent
	if err := json.Unmarshal([]byte(sev.Data), &w); err != nil {
		return ev, false, fmt.Errorf("workspace: %s: decode %q event: %w", op, sev.Type, err)
	}
	typ := w.Type
	if typ == "" {
		typ = sev.Type
	}
	ev.Type = EventType(typ)
	switch ev.Type {
	case EventStart:
		ev.PID = w.PID
	case EventStdout, EventStderr:
		data, err := d.decodeData(w.Data)
		if err != nil {
			return ev, false, fmt.Errorf("workspace: %s: decode %s data: %w", op, typ, err)
		}
		ev.Data = data
	case EventExit:
		switch {
		case w.Code != nil:
			ev.Code = *w.Code
		case w.ExitCode != nil:
			ev.Code = *w.ExitCode
		}
	case EventError:
		if w.Code != nil {
			ev.Code = *w.Code
		}
		ev.Message = w.Message
		if ev.Message == "" {
			ev.Message = "process stream failed"
		}
	default:
		return ev, false, nil
	}
	return ev, true, nil
}

func (d *streamDecoder) decodeData(raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	if d.binary {
		return base64.StdEncoding.DecodeString(s)
	}
	return []byte(s), nil
}

// fastBase64Data decodes the common shape of a binary output event,
// {"type":"stdout","data":"<base64>"}, without a JSON pass; ok is false
// for any other shape, which then takes the general path.
func fastBase64Data(typ, raw string) (data []byte, ok bool) {
	const mid = `","data":"`
	if len(raw) < len(`{"type":"`)+len(typ)+len(mid)+len(`"}`) ||
		raw[:9] != `{"type":"` || raw[9:9+len(typ)] != typ ||
		raw[9+len(typ):9+len(typ)+len(mid)] != mid || raw[len(raw)-2:] != `"}` {
		return nil, false
	}
	enc := raw[9+len(typ)+len(mid) : len(raw)-2]
	data, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, false
	}
	return data, true
}
