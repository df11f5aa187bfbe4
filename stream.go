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
	"sync/atomic"

	sse "github.com/tmaxmax/go-sse"

	"github.com/elevo/workspace-sdk-go/internal/wire"
)

// maxStreamEvent bounds the size of one server-sent event.
const maxStreamEvent = 16 << 20

// RunStream runs command in the sandbox and yields its events as they
// arrive: an EventStart with the PID, then EventStdout and EventStderr
// chunks, then one EventExit with the exit code. On servers without the
// process.stream feature (upstream, or a server in base mode) RunStream
// runs the command with Run and yields what Run returns: its whole stdout
// and stderr as one event each (when not empty), then EventExit with the
// real exit code (no EventStart: there is no PID). opts may be nil;
// opts.Stdout and opts.Stderr, when set, receive each chunk as it arrives
// (the events are still yielded).
//
// The sequence runs the command once: ranging over it a second time
// yields only an error (call RunStream again to run the command again).
// The stream is bounded by ctx; the client timeout (WithTimeout) bounds
// only connecting and the server's answer headers. The contract:
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
	var ranged atomic.Bool
	return func(yield func(ProcessEvent, error) bool) {
		const op = "run stream"
		if ranged.Swap(true) {
			yield(ProcessEvent{}, fmt.Errorf("workspace: %s: the sequence was already ranged over; call RunStream again to run the command again", op))
			return
		}
		streams, err := s.c.hasFeature(ctx, FeatureProcessStream)
		if err != nil {
			yield(ProcessEvent{}, err)
			return
		}
		if !streams {
			s.runAsStream(ctx, sandboxID, command, opts, yield)
			return
		}
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
		resp, err := s.c.open(ctx, &apiRequest{op: op, method: http.MethodGet, path: sandboxPath(sandboxID, "/process/run/stream"),
			query: q, accept: "text/event-stream", header: http.Header{"Cache-Control": {"no-cache"}}, scope: untilHeaders})
		if err != nil {
			yield(ProcessEvent{}, err)
			return
		}
		defer resp.Body.Close()
		var stdout, stderr io.Writer
		if opts != nil {
			stdout, stderr = opts.Stdout, opts.Stderr
		}
		dec := &streamDecoder{binary: w.binary, stdout: stdout, stderr: stderr}
		for ev, err := range dec.events(resp.Body) {
			if err != nil {
				if cerr := callCtxErr(resp.Request.Context(), err); cerr != err {
					err = fmt.Errorf("workspace: %s: %w", op, cerr)
				}
			}
			if !yield(ev, err) || err != nil {
				return
			}
		}
	}
}

// runAsStream is RunStream on a server without process.stream: it runs
// the command with Run and yields the result as events.
func (s *ProcessService) runAsStream(ctx context.Context, sandboxID, command string, opts *RunCommandOptions, yield func(ProcessEvent, error) bool) {
	res, err := s.Run(ctx, sandboxID, command, opts)
	if err != nil {
		yield(ProcessEvent{}, err)
		return
	}
	if res.Stdout != "" && !yield(ProcessEvent{Type: EventStdout, Data: []byte(res.Stdout)}, nil) {
		return
	}
	if res.Stderr != "" && !yield(ProcessEvent{Type: EventStderr, Data: []byte(res.Stderr)}, nil) {
		return
	}
	yield(ProcessEvent{Type: EventExit, Code: res.ExitCode}, nil)
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

// streamDecoder turns the server-sent events of a process stream into
// ProcessEvents.
type streamDecoder struct {
	binary         bool
	stdout, stderr io.Writer
}

// events decodes r with go-sse. The sequence ends after an exit event,
// after an error, or with ErrStreamInterrupted when r ends first.
func (d *streamDecoder) events(r io.Reader) iter.Seq2[ProcessEvent, error] {
	const op = "run stream"
	return func(yield func(ProcessEvent, error) bool) {
		for sev, err := range sse.Read(r, &sse.ReadConfig{MaxEventSize: maxStreamEvent}) {
			if err != nil {
				yield(ProcessEvent{}, fmt.Errorf("workspace: %s: %w: %w", op, ErrStreamInterrupted, err))
				return
			}
			ev, ok, err := d.decode(sev.Type, sev.Data)
			if err != nil {
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
		yield(ProcessEvent{}, fmt.Errorf("workspace: %s: %w: stream ended before the exit event", op, ErrStreamInterrupted))
	}
}

// decode converts the data of one SSE event (a wire.Event) of SSE type
// typ; ok is false for events to skip (unknown types, events without
// data).
func (d *streamDecoder) decode(typ, data string) (ev ProcessEvent, ok bool, err error) {
	const op = "run stream"
	if data == "" {
		return ev, false, nil
	}
	if d.binary && (typ == wire.EventStdout || typ == wire.EventStderr) {
		if out, ok := base64Output(typ, data); ok {
			return ProcessEvent{Type: EventType(typ), Data: out}, true, nil
		}
	}
	var w wire.Event
	if err := json.Unmarshal([]byte(data), &w); err != nil {
		return ev, false, fmt.Errorf("workspace: %s: decode %q event: %w", op, typ, err)
	}
	if w.Type != "" {
		typ = w.Type
	}
	ev.Type = EventType(typ)
	switch typ {
	case wire.EventStart:
		ev.PID = w.PID
	case wire.EventStdout, wire.EventStderr:
		if d.binary {
			ev.Data, err = base64.StdEncoding.DecodeString(w.Data)
			if err != nil {
				return ev, false, fmt.Errorf("workspace: %s: decode %s data: %w", op, typ, err)
			}
		} else if w.Data != "" {
			ev.Data = []byte(w.Data)
		}
	case wire.EventExit:
		switch {
		case w.Code != nil:
			ev.Code = *w.Code
		case w.ExitCode != nil:
			ev.Code = *w.ExitCode
		}
	case wire.EventError:
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

// base64Output decodes the data of a binary output event in the form
// encoding/json gives a wire.Event with only Type and Data set,
// {"type":"stdout","data":"<base64>"}, without a JSON pass over the
// (long) data: base64 has no characters JSON escapes, so the text between
// the quotes is the string itself, and the decoder rejects anything else.
// ok is false for any other form, which then takes the JSON path. On bulk
// output this halves the decoding cost.
func base64Output(typ, data string) (out []byte, ok bool) {
	head := `{"type":"` + typ + `","data":"`
	if len(data) < len(head)+2 || data[:len(head)] != head || data[len(data)-2:] != `"}` {
		return nil, false
	}
	enc := data[len(head) : len(data)-2]
	out = make([]byte, base64.StdEncoding.DecodedLen(len(enc)))
	n, err := base64.StdEncoding.Decode(out, []byte(enc))
	if err != nil {
		return nil, false
	}
	return out[:n], true
}
