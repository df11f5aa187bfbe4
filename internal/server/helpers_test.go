//go:build !windows

package server

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/elevo/workspace-sdk-go/internal/sandbox"
	"github.com/elevo/workspace-sdk-go/internal/wire"
)

func TestMain(m *testing.M) {
	sandbox.MaybeRunAgent()
	goleak.VerifyTestMain(m)
}

type testServer struct {
	*Server
	t    testing.TB
	url  string
	fake *fakeRuntime
	key  string
}

// newTestServer starts a Server with the fake runtime behind httptest.
func newTestServer(t testing.TB, dir string, mod func(*Config)) *testServer {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	fake := &fakeRuntime{}
	cfg := Config{DataDir: dir, Runtime: fake, StopGrace: 1, Logger: slog.New(slog.DiscardHandler)}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	ts := &testServer{Server: s, t: t, url: hs.URL, fake: fake, key: cfg.APIKey}
	t.Cleanup(func() {
		hs.Close()
		s.Close()
	})
	return ts
}

type resp struct {
	status int
	ctype  string
	body   []byte
}

func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d: body %q is not a JSON object: %v", r.status, r.body, err)
	}
	return m
}

// code returns the "code" of a JSON error body.
func (r resp) code(t testing.TB) int {
	t.Helper()
	c, _ := r.json(t)["code"].(float64)
	return int(c)
}

// do sends a request; body is JSON-encoded unless it is a string (sent
// as is) or nil.
func (ts *testServer) do(method, path string, body any) resp {
	ts.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, ts.url+path, rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if ts.key != "" {
		req.Header.Set("Authorization", "Bearer "+ts.key)
	}
	res, data := roundTrip(ts.t, req)
	return resp{status: res.StatusCode, ctype: res.Header.Get("Content-Type"), body: data}
}

// roundTrip sends req and returns the response with its whole body read
// (and closed).
func roundTrip(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, data
}

// want checks the status and, for errors, the protocol code.
func (ts *testServer) want(r resp, status int, code wire.Code) map[string]any {
	ts.t.Helper()
	if r.status != status {
		ts.t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	m := r.json(ts.t)
	if code != 0 {
		if got := wire.Code(r.code(ts.t)); got != code {
			ts.t.Fatalf("code = %d, want %d; body %s", got, code, r.body)
		}
	}
	return m
}

func (ts *testServer) createWorkspace() string {
	ts.t.Helper()
	m := ts.want(ts.do("POST", "/api/v1/workspaces", map[string]any{"name": "w"}), 200, 0)
	return m["id"].(string)
}

func (ts *testServer) createSandbox(wsID string, extra map[string]any) map[string]any {
	ts.t.Helper()
	body := map[string]any{"workspace_id": wsID}
	for k, v := range extra {
		body[k] = v
	}
	return ts.want(ts.do("POST", "/api/v1/sandboxes", body), 200, 0)
}

// eventually polls cond until it holds, failing the test after 30 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
