package workspace

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sse "github.com/tmaxmax/go-sse"
)

type yielded struct {
	ev  ProcessEvent
	err error
}

func collect(seq func(func(ProcessEvent, error) bool)) []yielded {
	var out []yielded
	for ev, err := range seq {
		out = append(out, yielded{ev, err})
	}
	return out
}

func decodeAll(r io.Reader, binary bool) []yielded {
	d := &streamDecoder{binary: binary}
	return collect(d.events(r))
}

func TestStreamDecoding(t *testing.T) {
	full := "event: start\nid: 1\ndata: {\"type\":\"start\",\"pid\":42}\n\n" +
		": heartbeat\n\n" +
		"event: stdout\nid: 2\ndata: {\"type\":\"stdout\",\"data\":\"aGVs\"}\n\n" +
		"event: progress\ndata: {\"type\":\"progress\",\"pct\":50}\n\n" +
		"event: stderr\r\ndata: {\"type\":\"stderr\",\r\ndata: \"data\":\"ZXJy\"}\r\n\r\n" +
		"event: stdout\ndata: {\"type\":\"stdout\",\"data\":\"bG8K\"}\n\n" +
		"event: exit\ndata: {\"type\":\"exit\",\"code\":3}\n\n" +
		"event: stdout\ndata: {\"type\":\"stdout\",\"data\":\"bm8=\"}\n\n"
	want := []yielded{
		{ev: ProcessEvent{Type: EventStart, PID: 42}},
		{ev: ProcessEvent{Type: EventStdout, Data: []byte("hel")}},
		{ev: ProcessEvent{Type: EventStderr, Data: []byte("err")}},
		{ev: ProcessEvent{Type: EventStdout, Data: []byte("lo\n")}},
		{ev: ProcessEvent{Type: EventExit, Code: 3}},
	}
	for name, r := range map[string]func() io.Reader{
		"whole":    func() io.Reader { return strings.NewReader(full) },
		"one byte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(full)) },
		"half":     func() io.Reader { return iotest.HalfReader(strings.NewReader(full)) },
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, want, decodeAll(r(), true))
		})
	}
}

func TestStreamDecodingUpstream(t *testing.T) {
	// upstream sends one unnamed exit event, no binary encoding.
	got := decodeAll(strings.NewReader("data: {\"type\":\"exit\",\"code\":0}\n\n"), false)
	assert.Equal(t, []yielded{{ev: ProcessEvent{Type: EventExit}}}, got)
	got = decodeAll(strings.NewReader("event: stdout\ndata: {\"type\":\"stdout\",\"data\":\"hi\\n\"}\n\nevent: exit\ndata: {\"type\":\"exit\",\"code\":1}\n"), false)
	assert.Equal(t, []yielded{{ev: ProcessEvent{Type: EventStdout, Data: []byte("hi\n")}}, {ev: ProcessEvent{Type: EventExit, Code: 1}}}, got)
	// an event cut off in the middle of a line is not complete
	got = decodeAll(strings.NewReader("data: {\"type\":\"exit\",\"code\":1}"), false)
	require.Len(t, got, 1)
	require.ErrorIs(t, got[0].err, ErrStreamInterrupted)
}

func TestStreamDecodingErrors(t *testing.T) {
	t.Run("no exit", func(t *testing.T) {
		got := decodeAll(strings.NewReader("event: stdout\ndata: {\"type\":\"stdout\",\"data\":\"aGk=\"}\n\n"), true)
		require.Len(t, got, 2)
		assert.Equal(t, []byte("hi"), got[0].ev.Data)
		require.ErrorIs(t, got[1].err, ErrStreamInterrupted)
		assert.Equal(t, ProcessEvent{}, got[1].ev)
	})
	t.Run("empty", func(t *testing.T) {
		got := decodeAll(strings.NewReader(""), true)
		require.Len(t, got, 1)
		require.ErrorIs(t, got[0].err, ErrStreamInterrupted)
	})
	t.Run("truncated event", func(t *testing.T) {
		got := decodeAll(strings.NewReader("data: {\"type\":\"exit\",\"co"), true)
		require.Len(t, got, 1)
		require.ErrorIs(t, got[0].err, ErrStreamInterrupted)
	})
	t.Run("read error", func(t *testing.T) {
		r := io.MultiReader(strings.NewReader("data: {\"type\":\"start\",\"pid\":1}\n\n"), iotest.ErrReader(io.ErrUnexpectedEOF))
		got := decodeAll(r, true)
		require.Len(t, got, 2)
		require.ErrorIs(t, got[1].err, ErrStreamInterrupted)
		require.ErrorIs(t, got[1].err, io.ErrUnexpectedEOF)
	})
	t.Run("timeout error event", func(t *testing.T) {
		got := decodeAll(strings.NewReader("event: error\ndata: {\"type\":\"error\",\"code\":4002,\"message\":\"Process timeout\"}\n\nevent: exit\ndata: {\"type\":\"exit\",\"code\":0}\n\n"), true)
		require.Len(t, got, 2)
		assert.Equal(t, ProcessEvent{Type: EventError, Code: 4002, Message: "Process timeout"}, got[0].ev)
		require.ErrorIs(t, got[1].err, ErrProcessTimeout)
	})
	t.Run("error event without code", func(t *testing.T) {
		got := decodeAll(strings.NewReader("data: {\"type\":\"error\",\"message\":\"spawn failed\"}\n\n"), false)
		require.Len(t, got, 2)
		var apiErr *Error
		require.ErrorAs(t, got[1].err, &apiErr)
		assert.Equal(t, "spawn failed", apiErr.Message)
	})
	t.Run("bad base64", func(t *testing.T) {
		got := decodeAll(strings.NewReader("data: {\"type\":\"stdout\",\"data\":\"!!\"}\n\ndata: {\"type\":\"exit\",\"code\":0}\n\n"), true)
		require.Len(t, got, 1)
		require.Error(t, got[0].err)
		assert.NotErrorIs(t, got[0].err, ErrStreamInterrupted)
	})
}

// streamServer answers run/stream with body after checking the request.
func streamReply(t *testing.T, check func(r *http.Request), body string) reply {
	return reply{handler: func(w http.ResponseWriter, r *http.Request) {
		if check != nil {
			check(r)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, body)
	}}
}

func TestRunStreamRequest(t *testing.T) {
	f := newFake(t, []string{"binary", "process.stream", "process.stdin"})
	f.script(streamReply(t, func(r *http.Request) {
		assert.Equal(t, "text/event-stream", r.Header.Get("Accept"))
	}, "event: start\ndata: {\"type\":\"start\",\"pid\":7}\n\nevent: stdout\ndata: {\"type\":\"stdout\",\"data\":\"b3V0\"}\n\nevent: stderr\ndata: {\"type\":\"stderr\",\"data\":\"ZXJy\"}\n\nevent: exit\ndata: {\"type\":\"exit\",\"code\":0}\n\n"))
	var o, e bytes.Buffer
	got := collect(f.c.Process.RunStream(t.Context(), "sbx 1", "tail", &RunCommandOptions{
		Args: []string{"-f", "x y"}, Env: map[string]string{"A": "1"}, Cwd: "/w", Timeout: 2500 * 1000, Stdin: []byte{0xff},
		Stdout: &o, Stderr: &e,
	}))
	require.Len(t, got, 4)
	assert.Equal(t, 7, got[0].ev.PID)
	assert.Equal(t, EventExit, got[3].ev.Type)
	assert.Equal(t, "out", o.String())
	assert.Equal(t, "err", e.String())
	r := f.only()
	assert.Equal(t, "GET", r.Method)
	assert.Equal(t, "/sandboxes/sbx%201/process/run/stream", r.Path)
	q, err := url.ParseQuery(r.Query)
	require.NoError(t, err)
	assert.Equal(t, url.Values{"command": {"tail"}, "args": {`["-f","x y"]`}, "env": {`{"A":"1"}`}, "cwd": {"/w"},
		"timeout": {"3"}, "encoding": {"base64"}, "stdin": {"/w=="}}, q)
}

func TestRunStreamErrors(t *testing.T) {
	t.Run("before start", func(t *testing.T) {
		f := newFake(t, []string{"process.stream"})
		f.script(reply{status: 404, body: `{"code":2001,"message":"Sandbox not found"}`})
		got := collect(f.c.Process.RunStream(t.Context(), "sbx-1", "ls", nil))
		require.Len(t, got, 1)
		require.ErrorIs(t, got[0].err, ErrSandboxNotFound)
		q, _ := url.ParseQuery(f.only().Query)
		assert.Equal(t, url.Values{"command": {"ls"}}, q)
	})
	t.Run("stdin unsupported", func(t *testing.T) {
		f := newFake(t, []string{"binary", "process.stream"})
		got := collect(f.c.Process.RunStream(t.Context(), "sbx-1", "cat", &RunCommandOptions{Stdin: []byte("x")}))
		require.Len(t, got, 1)
		require.ErrorIs(t, got[0].err, ErrUnsupported)
		assert.Empty(t, f.requests())
	})
	t.Run("no exit", func(t *testing.T) {
		f := newFake(t, []string{"process.stream"})
		f.script(streamReply(t, nil, "event: stdout\ndata: {\"type\":\"stdout\",\"data\":\"a\"}\n\n"))
		got := collect(f.c.Process.RunStream(t.Context(), "sbx-1", "ls", nil))
		require.Len(t, got, 2)
		require.ErrorIs(t, got[1].err, ErrStreamInterrupted)
	})
	t.Run("server hangs up", func(t *testing.T) {
		f := newFake(t, []string{"process.stream"})
		f.script(reply{handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(200)
			_, _ = io.WriteString(w, "data: {\"type\":\"start\",\"pid\":1}\n\n")
			http.NewResponseController(w).Flush()
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		}})
		got := collect(f.c.Process.RunStream(t.Context(), "sbx-1", "ls", nil))
		require.NotEmpty(t, got)
		require.ErrorIs(t, got[len(got)-1].err, ErrStreamInterrupted)
	})
	t.Run("cancel mid-stream", func(t *testing.T) {
		f := newFake(t, []string{"process.stream"})
		f.script(reply{handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "data: {\"type\":\"start\",\"pid\":1}\n\n")
			http.NewResponseController(w).Flush()
			<-r.Context().Done()
		}})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var got []yielded
		for ev, err := range f.c.Process.RunStream(ctx, "sbx-1", "ls", nil) {
			got = append(got, yielded{ev, err})
			cancel()
		}
		require.Len(t, got, 2)
		require.ErrorIs(t, got[1].err, context.Canceled)
	})
}

// TestRunStreamWithoutStreamFeature checks the fallback: a server without
// process.stream gets the plain run call, and the events carry its real
// output and exit code.
func TestRunStreamWithoutStreamFeature(t *testing.T) {
	t.Parallel()
	f := newFake(t, nil)
	f.ok(`{"exit_code":3,"stdout":"out\n","stderr":"err\n"}`)
	var o bytes.Buffer
	got := collect(f.c.Process.RunStream(t.Context(), "sbx-1", "sh", &RunCommandOptions{Args: []string{"-c", "x"}, Stdout: &o}))
	assert.Equal(t, []yielded{
		{ev: ProcessEvent{Type: EventStdout, Data: []byte("out\n")}},
		{ev: ProcessEvent{Type: EventStderr, Data: []byte("err\n")}},
		{ev: ProcessEvent{Type: EventExit, Code: 3}},
	}, got)
	assert.Equal(t, "out\n", o.String())
	r := f.only()
	assert.Equal(t, "POST", r.Method)
	assert.Equal(t, "/sandboxes/sbx-1/process/run", r.Path)
	assert.JSONEq(t, `{"command":"sh","args":["-c","x"]}`, string(r.Body))
}

// TestRunStreamRangedTwice checks that a second range over one RunStream
// value is an error and sends nothing.
func TestRunStreamRangedTwice(t *testing.T) {
	t.Parallel()
	f := newFake(t, nil)
	f.ok(`{"exit_code":0,"stdout":"","stderr":""}`)
	seq := f.c.Process.RunStream(t.Context(), "sbx-1", "true", nil)
	first := collect(seq)
	require.Len(t, first, 1)
	require.NoError(t, first[0].err)
	second := collect(seq)
	require.Len(t, second, 1)
	assert.ErrorContains(t, second[0].err, "already ranged")
	assert.Len(t, f.requests(), 1)
}

func TestRunStreamBreakClosesConnection(t *testing.T) {
	f := newFake(t, []string{"process.stream"})
	closed := make(chan struct{})
	f.script(reply{handler: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: {\"type\":\"start\",\"pid\":1}\n\ndata: {\"type\":\"stdout\",\"data\":\"x\"}\n\n")
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
		close(closed)
	}})
	for ev, err := range f.c.Process.RunStream(t.Context(), "sbx-1", "yes", nil) {
		require.NoError(t, err)
		require.Equal(t, EventStart, ev.Type)
		break
	}
	<-closed // the server saw the client go away
}

func FuzzRunStreamDecode(f *testing.F) {
	f.Add("event: start\ndata: {\"type\":\"start\",\"pid\":1}\n\ndata: {\"type\":\"stdout\",\"data\":\"aGk=\"}\n\ndata: {\"type\":\"exit\",\"code\":0}\n\n", true)
	f.Add("data: {\"type\":\"exit\",\"code\":0}\n\n", false)
	f.Add(": c\r\nevent: error\r\ndata: {\"type\":\"error\",\"code\":4002}\r\n\r\n", false)
	f.Add("data: {\"type\":\"stdout\",\ndata: \"data\":\"x\"}\n\n", false)
	f.Add("", true)
	f.Fuzz(func(t *testing.T, in string, binary bool) {
		got := decodeAll(strings.NewReader(in), binary)
		if len(got) == 0 {
			t.Fatal("the stream yielded nothing: it must end with exit or an error")
		}
		for i, y := range got {
			if y.err != nil && (y.ev.Type != "" || y.ev.Data != nil) {
				t.Fatalf("event and error together: %+v", y)
			}
			if y.err != nil && i != len(got)-1 {
				t.Fatalf("iteration continued after an error at %d", i)
			}
			if y.ev.Type == EventExit && i != len(got)-1 {
				t.Fatalf("events after exit")
			}
		}
		last := got[len(got)-1]
		if last.err == nil && last.ev.Type != EventExit {
			t.Fatalf("stream ended without exit or error: %+v", last)
		}
		var apiErr *Error
		if last.err != nil && !errors.Is(last.err, ErrStreamInterrupted) && !errors.As(last.err, &apiErr) && !strings.Contains(last.err.Error(), "decode") {
			t.Fatalf("unexpected error kind: %v", last.err)
		}
	})
}

// limitedReads returns at most n bytes per read.
type limitedReads struct {
	r io.Reader
	n int
}

func (l *limitedReads) Read(p []byte) (int, error) {
	if len(p) > l.n {
		p = p[:l.n]
	}
	return l.r.Read(p)
}

// BenchmarkStreamDecodeBulk decodes 64 MiB of stdout in base64 events of
// 32 and 256 KiB, read 64 KiB at a time like a socket: "events" is the
// decoder RunStream uses, "go-sse" go-sse's parser alone on the same input
// (without the JSON and base64 decoding).
func BenchmarkStreamDecodeBulk(b *testing.B) {
	for _, size := range []int{32 << 10, 256 << 10} {
		data := base64.StdEncoding.EncodeToString(make([]byte, size))
		var s []byte
		n := (64 << 20) / size
		for i := range n {
			s = fmt.Appendf(s, "id: %d\nevent: stdout\ndata: {\"type\":\"stdout\",\"data\":\"%s\"}\n\n", i, data)
		}
		s = append(s, "event: exit\ndata: {\"type\":\"exit\",\"code\":0}\n\n"...)
		b.Run(fmt.Sprintf("events/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(n * size))
			for b.Loop() {
				d := &streamDecoder{binary: true, stdout: io.Discard}
				for _, err := range d.events(&limitedReads{bytes.NewReader(s), 64 << 10}) {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.Run(fmt.Sprintf("go-sse/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(n * size))
			for b.Loop() {
				for _, err := range sse.Read(&limitedReads{bytes.NewReader(s), 64 << 10}, &sse.ReadConfig{MaxEventSize: maxStreamEvent}) {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
