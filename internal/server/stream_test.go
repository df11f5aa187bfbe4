//go:build !windows

package server

import (
	"bufio"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// newRealServer starts a Server on the bubblewrap runtime with one running
// sandbox and returns it with the sandbox id.
func newRealServer(t *testing.T, mod func(*Config)) (*testServer, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "srvtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, dir, func(c *Config) {
		c.Runtime = nil
		if mod != nil {
			mod(c)
		}
	})
	ws := ts.createWorkspace()
	sb := ts.createSandbox(ws, nil)
	return ts, sb["id"].(string)
}

type sseEvent struct{ id, typ, data string }

// readSSE reads the whole event stream of GET path, also returning the
// number of comment lines.
func readSSE(t *testing.T, ts *testServer, path string) (evs []sseEvent, comments int) {
	t.Helper()
	res, err := http.Get(ts.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, content type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(res.Body)
	var cur sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur != (sseEvent{}) {
				evs = append(evs, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, ":"):
			comments++
		case strings.HasPrefix(line, "id: "):
			cur.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			cur.typ = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data += line[6:]
		}
	}
	return evs, comments
}

func streamPath(sid string, q url.Values) string {
	return "/api/v1/sandboxes/" + sid + "/process/run/stream?" + q.Encode()
}

func TestRunStreamWire(t *testing.T) {
	ts, sid := newRealServer(t, func(c *Config) { c.StreamHeartbeat = 50 * time.Millisecond })

	t.Run("Events", func(t *testing.T) {
		q := url.Values{"command": {"sh"}, "args": {`["-c","printf a; sleep 0.3; printf '\\377' >&2; exit 4"]`}, "encoding": {"base64"}}
		evs, comments := readSSE(t, ts, streamPath(sid, q))
		if len(evs) != 4 {
			t.Fatalf("events: %+v", evs)
		}
		for i, ev := range evs {
			if ev.id != strconv.Itoa(i+1) {
				t.Errorf("event %d id %q", i, ev.id)
			}
		}
		if evs[0].typ != "start" || !strings.HasPrefix(evs[0].data, `{"type":"start","pid":`) {
			t.Errorf("start: %+v", evs[0])
		}
		if evs[1].typ != "stdout" || evs[1].data != `{"type":"stdout","data":"YQ=="}` {
			t.Errorf("stdout: %+v", evs[1])
		}
		if evs[2].typ != "stderr" || evs[2].data != `{"type":"stderr","data":"/w=="}` {
			t.Errorf("stderr: %+v", evs[2])
		}
		if evs[3].typ != "exit" || evs[3].data != `{"type":"exit","code":4}` {
			t.Errorf("exit: %+v", evs[3])
		}
		if comments == 0 {
			t.Error("no heartbeat comment while the command was idle")
		}
	})

	t.Run("TextKeepsRunesWhole", func(t *testing.T) {
		// é split across two writes arrives in one piece.
		q := url.Values{"command": {"sh"}, "args": {`["-c","printf '\\303'; sleep 0.1; printf '\\251'"]`}}
		evs, _ := readSSE(t, ts, streamPath(sid, q))
		var got string
		for _, ev := range evs {
			if ev.typ == "stdout" {
				got += ev.data
			}
		}
		if got != `{"type":"stdout","data":"é"}` {
			t.Errorf("stdout events %q", got)
		}
	})

	t.Run("Timeout", func(t *testing.T) {
		q := url.Values{"command": {"sleep"}, "args": {`["60"]`}, "timeout": {"100"}}
		evs, _ := readSSE(t, ts, streamPath(sid, q))
		last := evs[len(evs)-1]
		if last.typ != "error" || !strings.Contains(last.data, `"code":4002`) {
			t.Errorf("last event %+v", last)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		ts.want(ts.do("GET", streamPath(sid, url.Values{"command": {"ls"}, "args": {`{"a":1}`}}), nil), 400, 1002)
		ts.want(ts.do("GET", streamPath(sid, url.Values{"command": {"ls"}, "env": {`[1]`}}), nil), 400, 1002)
		ts.want(ts.do("GET", streamPath(sid, url.Values{"command": {"ls"}, "timeout": {"-1"}}), nil), 400, 1002)
		ts.want(ts.do("GET", streamPath(sid, url.Values{"command": {"ls"}, "encoding": {"rot13"}}), nil), 400, 1002)
		ts.want(ts.do("GET", streamPath(sid, url.Values{}), nil), 400, 1001)
		ts.want(ts.do("GET", streamPath("nope", url.Values{"command": {"ls"}}), nil), 404, 2001)
	})
}

func TestRunStreamBaseModeStub(t *testing.T) {
	ts, sid := newRealServer(t, func(c *Config) { c.BaseMode = true })
	evs, _ := readSSE(t, ts, streamPath(sid, url.Values{"command": {"echo"}}))
	if len(evs) != 1 || evs[0].typ != "exit" || evs[0].data != `{"type":"exit","code":0}` {
		t.Errorf("events %+v", evs)
	}
	for _, f := range ts.Features() {
		if f == "process.stream" || f == "pty" {
			t.Errorf("base mode advertises %s", f)
		}
	}
}

func TestCompleteUTF8(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{"", 0}, {"abc", 3}, {"a\xc3", 1}, {"a\xc3\xa9", 3}, {"\xe2\x82", 0}, {"x\xe2\x82\xac", 4},
		{"\xf0\x9f\x98", 0}, {"\xff", 1}, {"a\x80", 2},
	} {
		if got := completeUTF8([]byte(c.in)); got != c.want {
			t.Errorf("completeUTF8(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}
