package workspace

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"

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
//
// Events are framed by sseFramer while the stream has the shape this
// project's server sends, and by go-sse's parser from the first event that
// does not (and for the rest of the stream); both give the same events.
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
		// handle decodes and delivers one event; false ends the iteration.
		handle := func(typ string, data []byte) bool {
			ev, ok, err := d.decode(typ, data)
			if err != nil {
				if tr.ended {
					err = interrupted(err)
				}
				yield(ProcessEvent{}, err)
				return false
			}
			if !ok {
				return true
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
						return false
					}
				}
			case EventExit:
				yield(ev, nil)
				return false
			case EventError:
				if !yield(ev, nil) {
					return false
				}
				yield(ProcessEvent{}, &Error{Code: ErrorCode(ev.Code), Message: ev.Message, Op: op})
				return false
			}
			return yield(ev, nil)
		}
		f := newSSEFramer(tr, maxStreamEvent)
		for {
			typ, data, ok := f.next()
			if !ok {
				break
			}
			if !handle(typ, data) {
				return
			}
		}
		for sev, err := range sse.Read(f.rest(), &sse.ReadConfig{MaxEventSize: maxStreamEvent}) {
			if err != nil {
				if tr.ended {
					yield(ProcessEvent{}, interrupted(err))
				} else {
					yield(ProcessEvent{}, fmt.Errorf("workspace: %s: read event: %w", op, err))
				}
				return
			}
			if !handle(sev.Type, []byte(sev.Data)) {
				return
			}
		}
		yield(ProcessEvent{}, interrupted(tr.err))
	}
}

// decode converts one SSE event; ok is false for events to skip (unknown
// types, heartbeats without data). data may be reused after decode returns:
// the event does not keep it.
func (d *streamDecoder) decode(typ string, data []byte) (ev ProcessEvent, ok bool, err error) {
	const op = "run stream"
	if len(data) == 0 {
		return ev, false, nil
	}
	if d.binary && (typ == "stdout" || typ == "stderr") {
		if out, ok := fastBase64Data(typ, data); ok {
			return ProcessEvent{Type: EventType(typ), Data: out}, true, nil
		}
	}
	var w wireEvent
	if err := json.Unmarshal(data, &w); err != nil {
		return ev, false, fmt.Errorf("workspace: %s: decode %q event: %w", op, typ, err)
	}
	if w.Type != "" {
		typ = w.Type
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
// {"type":"stdout","data":"<base64>"}, without a JSON pass, into a new
// slice; ok is false for any other shape, which then takes the general path.
func fastBase64Data(typ string, raw []byte) (data []byte, ok bool) {
	const head, mid = `{"type":"`, `","data":"`
	if len(raw) < len(head)+len(typ)+len(mid)+len(`"}`) ||
		string(raw[:len(head)]) != head || string(raw[len(head):len(head)+len(typ)]) != typ ||
		string(raw[len(head)+len(typ):len(head)+len(typ)+len(mid)]) != mid || string(raw[len(raw)-2:]) != `"}` {
		return nil, false
	}
	enc := raw[len(head)+len(typ)+len(mid) : len(raw)-2]
	data = make([]byte, base64.StdEncoding.DecodedLen(len(enc)))
	n, err := base64.StdEncoding.Decode(data, enc)
	if err != nil {
		return nil, false
	}
	return data[:n], true
}

// sseFramer reads server-sent events from the shape this project's server
// sends: events ending in a blank line, lines ending in "\n", no
// byte-order mark. It finds the lines with vectorised scans (bytes.Index)
// and hands out each event's data without copying it, where go-sse's
// parser looks at every byte more than once and copies each event twice;
// on bulk output that parser alone was slower than the 200 MB/s target.
//
// At the first input it does not take (a '\r', a possible byte-order mark
// at the start, an event cut off by the end of the input or a read error,
// an event near the size limit), next reports false and rest returns the
// unread input for go-sse, which then parses the rest of the stream: the
// two read the same events from any input (FuzzSSEFramer checks this; only
// a byte-order mark after framed events within a few bytes of the size
// limit may end differently).
type sseFramer struct {
	r       io.Reader
	max     int // events from this size on are left to go-sse
	buf     []byte
	start   int   // first byte not yet framed
	end     int   // end of the bytes read
	scan    int   // where the search for "\n\n" resumes
	err     error // the reader's error, sticky
	started bool  // a line other than a blank one was framed
	data    []byte
}

func newSSEFramer(r io.Reader, maxEvent int) *sseFramer {
	return &sseFramer{r: r, max: maxEvent / 2}
}

// next returns the type and data of the next event with data; data is
// valid until the next call. ok is false when the rest of the input must go
// to go-sse (see rest).
func (f *sseFramer) next() (typ string, data []byte, ok bool) {
	for {
		if i := bytes.Index(f.buf[f.scan:f.end], []byte("\n\n")); i >= 0 {
			stop := f.scan + i + 2
			block := f.buf[f.start:stop]
			if len(block) >= f.max || bytes.IndexByte(block, '\r') >= 0 {
				return "", nil, false
			}
			lines := bytes.TrimLeft(block, "\n")
			if len(lines) == 0 {
				// Only blank lines: go-sse counts them with the next event
				// (for its size limit), so they stay with it.
				f.scan = stop
				continue
			}
			if !f.started {
				// go-sse drops a byte-order mark at the start of its first
				// non-blank line: leave such a stream to it.
				if lines[0] == 0xEF {
					return "", nil, false
				}
				f.started = true
			}
			f.start, f.scan = stop, stop
			if typ, data, dirty := f.parse(block); dirty {
				return typ, data, true
			}
			continue
		}
		f.scan = max(f.start, f.end-1)
		if f.err != nil || f.end-f.start >= f.max {
			return "", nil, false
		}
		if f.end == len(f.buf) {
			if f.start > 0 {
				n := copy(f.buf, f.buf[f.start:f.end])
				f.scan -= f.start
				f.start, f.end = 0, n
			}
			if f.end == len(f.buf) {
				f.buf = append(f.buf, make([]byte, max(64<<10, len(f.buf)))...)
				f.buf = f.buf[:cap(f.buf)]
			}
		}
		n, err := f.r.Read(f.buf[f.end:])
		f.end += n
		if err != nil {
			f.err = err
		}
	}
}

// parse interprets the lines of one event (which ends in "\n\n" and has no
// '\r') as the event-stream format does; dirty reports whether it set any
// field, which is when go-sse dispatches an event.
func (f *sseFramer) parse(block []byte) (typ string, data []byte, dirty bool) {
	lines := 0
	for line := range bytes.Lines(block) {
		line = line[:len(line)-1]
		if len(line) == 0 {
			continue
		}
		name, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			name, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(name) {
		case "data":
			if lines == 0 {
				data = value
			} else {
				if lines == 1 {
					f.data = append(f.data[:0], data...)
				}
				f.data = append(append(f.data, '\n'), value...)
				data = f.data
			}
			lines++
			dirty = true
		case "event":
			switch string(value) {
			case "stdout":
				typ = "stdout"
			case "stderr":
				typ = "stderr"
			default:
				typ = string(value)
			}
			dirty = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				dirty = true
			}
		}
	}
	return typ, data, dirty
}

// rest returns the input the framer did not take: what it buffered, then
// the rest of the reader. When framed events came before a byte-order mark
// (or possibly one: nothing but blank lines buffered), it starts with a
// comment line, so that go-sse does not take the mark for the stream's.
func (f *sseFramer) rest() io.Reader {
	var rs []io.Reader
	if lines := bytes.TrimLeft(f.buf[f.start:f.end], "\n"); f.started && (len(lines) == 0 && f.err == nil || len(lines) > 0 && lines[0] == 0xEF) {
		rs = append(rs, strings.NewReader(":\n"))
	}
	rs = append(rs, bytes.NewReader(f.buf[f.start:f.end]))
	if f.err != nil {
		rs = append(rs, &errReader{f.err})
	} else {
		rs = append(rs, f.r)
	}
	return io.MultiReader(rs...)
}

// errReader returns err on every read.
type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }
