//go:build !windows

package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/elevo/workspace-sdk-go/internal/sandbox"
)

// rawNoRuntime is a Runtime without sandboxes: the raw routes need none.
type rawNoRuntime struct{}

func (rawNoRuntime) Start(context.Context, sandbox.Spec) (SandboxRuntime, error) {
	return nil, errors.New("raw_test: no sandboxes")
}
func (rawNoRuntime) Close() error { return nil }

// rawEnv is a server on httptest with one workspace.
type rawEnv struct {
	t     *testing.T
	url   string // .../api/v1/workspaces/<id>/files/raw
	base  string // .../api/v1
	dir   string // the workspace directory
	ws    string
	ended chan string // the path of every raw PUT whose handler returned
}

func newRawEnv(t *testing.T, cfg Config) *rawEnv {
	t.Helper()
	cfg.DataDir = t.TempDir()
	cfg.Runtime = rawNoRuntime{}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &rawEnv{t: t, ended: make(chan string, 16)}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/files/raw") {
			defer func() { e.ended <- r.URL.Query().Get("path") }()
		}
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	e.base = ts.URL + "/api/v1"
	if cfg.BaseMode {
		return e
	}
	resp, err := http.Post(e.base+"/workspaces", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ws struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&ws); err != nil || ws.ID == "" {
		t.Fatalf("create workspace: %v %q", err, ws.ID)
	}
	e.ws = ws.ID
	e.url = e.base + "/workspaces/" + ws.ID + "/files/raw"
	e.dir = filepath.Join(cfg.DataDir, "workspaces", ws.ID)
	return e
}

// do sends a request to the raw route for path and returns status, body
// and headers.
func (e *rawEnv) do(method, path string, body io.Reader, hdr map[string]string) (int, []byte, http.Header) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+"?path="+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, b := roundTrip(e.t, req)
	return resp.StatusCode, b, resp.Header
}

// wantError checks a JSON error envelope.
func wantError(t *testing.T, status int, body []byte, wantStatus, wantCode int) {
	t.Helper()
	var env struct{ Code int }
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("status %d, body %q: not a JSON envelope: %v", status, body, err)
	}
	if status != wantStatus || env.Code != wantCode {
		t.Fatalf("got %d/%d (%s), want %d/%d", status, env.Code, body, wantStatus, wantCode)
	}
}

// leftovers lists every entry under dir except the given paths.
func leftovers(t *testing.T, dir string, except ...string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		if rel != "." && !slices.Contains(except, rel) {
			out = append(out, rel)
		}
		return nil
	})
	return out
}

func rawPattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i>>8)
	}
	return b
}

func TestRawFeatureAdvertised(t *testing.T) {
	e := newRawEnv(t, Config{})
	resp, err := http.Get(e.base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct{ Features []string }
	json.NewDecoder(resp.Body).Decode(&h)
	if !slices.Contains(h.Features, "files.raw") {
		t.Fatalf("features %v lack files.raw", h.Features)
	}
}

func TestRawBaseModeHasNoRoute(t *testing.T) {
	e := newRawEnv(t, Config{BaseMode: true})
	resp, err := http.Get(e.base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if bytes.Contains(b, []byte("files.raw")) {
		t.Fatalf("base mode advertises files.raw: %s", b)
	}
	resp, err = http.Get(e.base + "/workspaces/x/files/raw?path=a")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("base mode raw route: %d, want 404", resp.StatusCode)
	}
}

func TestRawRoundTrip(t *testing.T) {
	e := newRawEnv(t, Config{})
	data := rawPattern(300_000) // binary, more than one copy buffer
	status, body, _ := e.do(http.MethodPut, "/deep/er/blob.bin", bytes.NewReader(data), nil)
	if status != http.StatusOK || !bytes.Contains(body, []byte(`"success":true`)) || !bytes.Contains(body, []byte(`"path":"/deep/er/blob.bin"`)) {
		t.Fatalf("put: %d %s", status, body)
	}
	if <-e.ended != "/deep/er/blob.bin" {
		t.Fatal("unexpected handler")
	}
	onDisk, err := os.ReadFile(filepath.Join(e.dir, "deep/er/blob.bin"))
	if err != nil || !bytes.Equal(onDisk, data) {
		t.Fatalf("on disk: %v, equal %v", err, bytes.Equal(onDisk, data))
	}
	if os.Geteuid() == 0 {
		for _, p := range []string{"deep", "deep/er", "deep/er/blob.bin"} {
			fi, err := os.Stat(filepath.Join(e.dir, p))
			if err != nil {
				t.Fatal(err)
			}
			if uid := statUID(fi); uid != 100000 {
				t.Errorf("%s owned by uid %d, want the sandbox uid 100000", p, uid)
			}
		}
	}
	if l := leftovers(t, e.dir, "deep", "deep/er", "deep/er/blob.bin"); len(l) > 0 {
		t.Fatalf("left behind: %v", l)
	}

	status, got, hdr := e.do(http.MethodGet, "deep/er/blob.bin", nil, nil)
	if status != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("get: %d, %d bytes, equal %v", status, len(got), bytes.Equal(got, data))
	}
	if ct := hdr.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	if hdr.Get("Accept-Ranges") != "bytes" || hdr.Get("Content-Length") != fmt.Sprint(len(data)) {
		t.Errorf("headers %v", hdr)
	}

	// Replace with an empty chunked body.
	status, body, _ = e.do(http.MethodPut, "deep/er/blob.bin", io.MultiReader(), nil)
	<-e.ended
	if status != http.StatusOK {
		t.Fatalf("put empty: %d %s", status, body)
	}
	if fi, err := os.Stat(filepath.Join(e.dir, "deep/er/blob.bin")); err != nil || fi.Size() != 0 {
		t.Fatalf("after empty put: %v %v", fi, err)
	}
}

func TestRawRange(t *testing.T) {
	e := newRawEnv(t, Config{})
	data := rawPattern(10_000)
	if err := os.WriteFile(filepath.Join(e.dir, "r.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rng        string
		from, to   int // expected slice
		contentRng string
	}{
		{"bytes=100-199", 100, 200, "bytes 100-199/10000"},
		{"bytes=9990-", 9990, 10000, "bytes 9990-9999/10000"},
		{"bytes=-10", 9990, 10000, "bytes 9990-9999/10000"},
		{"bytes=5000-999999", 5000, 10000, "bytes 5000-9999/10000"},
	} {
		status, got, hdr := e.do(http.MethodGet, "r.bin", nil, map[string]string{"Range": tc.rng})
		if status != http.StatusPartialContent {
			t.Fatalf("%s: status %d", tc.rng, status)
		}
		if !bytes.Equal(got, data[tc.from:tc.to]) {
			t.Fatalf("%s: wrong bytes (%d)", tc.rng, len(got))
		}
		if cr := hdr.Get("Content-Range"); cr != tc.contentRng {
			t.Fatalf("%s: Content-Range %q, want %q", tc.rng, cr, tc.contentRng)
		}
	}
	status, _, hdr := e.do(http.MethodGet, "r.bin", nil, map[string]string{"Range": "bytes=10000-"})
	if status != http.StatusRequestedRangeNotSatisfiable || hdr.Get("Content-Range") != "bytes */10000" {
		t.Fatalf("unsatisfiable range: %d %v", status, hdr)
	}
	// A stale If-Range gets the whole file.
	status, got, _ := e.do(http.MethodGet, "r.bin", nil, map[string]string{"Range": "bytes=0-9", "If-Range": "Mon, 02 Jan 2006 15:04:05 GMT"})
	if status != http.StatusOK || len(got) != len(data) {
		t.Fatalf("stale If-Range: %d, %d bytes", status, len(got))
	}
}

func TestRawErrors(t *testing.T) {
	e := newRawEnv(t, Config{})
	os.MkdirAll(filepath.Join(e.dir, "adir"), 0o755)
	os.WriteFile(filepath.Join(e.dir, "afile"), []byte("x"), 0o644)
	os.Symlink("/etc", filepath.Join(e.dir, "out"))
	if err := mkfifo(filepath.Join(e.dir, "fifo")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, path     string
		status, code     int
		readsNoBodyFirst bool
	}{
		{"GET", "missing", 404, 3001, false},
		{"GET", "adir", 400, 3005, false},
		{"GET", "fifo", 403, 3003, false},
		{"GET", "../x", 403, 7003, false},
		{"GET", "out/passwd", 403, 7003, false},
		{"PUT", "adir", 400, 3005, true},
		{"PUT", "../x", 403, 7003, true},
		{"PUT", "out/x", 403, 7003, true},
		{"PUT", "afile/x", 400, 3005, true},
		{"PUT", "", 400, 3004, true},
	} {
		var body io.Reader
		if tc.method == "PUT" {
			body = strings.NewReader("payload")
		}
		status, b, _ := e.do(tc.method, tc.path, body, nil)
		if tc.method == "PUT" {
			<-e.ended
		}
		t.Run(tc.method+" "+tc.path, func(t *testing.T) { wantError(t, status, b, tc.status, tc.code) })
	}
	// Missing path parameter and unknown workspace.
	resp, err := http.Get(e.base + "/workspaces/" + e.ws + "/files/raw")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantError(t, resp.StatusCode, b, 400, 1002)
	resp, err = http.Get(e.base + "/workspaces/nope/files/raw?path=a")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	wantError(t, resp.StatusCode, b, 404, 7001)
	if l := leftovers(t, e.dir, "adir", "afile", "out", "fifo"); len(l) > 0 {
		t.Fatalf("left behind: %v", l)
	}
}

// rawRequestHead writes the head of a raw PUT of path on a new connection.
func (e *rawEnv) rawRequestHead(path string, hdr string) net.Conn {
	e.t.Helper()
	host := strings.TrimPrefix(strings.SplitN(e.base, "/api", 2)[0], "http://")
	c, err := net.Dial("tcp", host)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	// A guard against a hang, not a timing assertion.
	c.SetDeadline(time.Now().Add(30 * time.Second))
	u := strings.TrimPrefix(e.url, "http://"+host)
	fmt.Fprintf(c, "PUT %s?path=%s HTTP/1.1\r\nHost: %s\r\n%s\r\n", u, path, host, hdr)
	return c
}

func TestRawDroppedUploadLeavesNothing(t *testing.T) {
	e := newRawEnv(t, Config{})
	old := []byte("the old content")
	if err := os.WriteFile(filepath.Join(e.dir, "keep.bin"), old, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"keep.bin", "new/sub/file.bin"} {
		c := e.rawRequestHead(p, "Content-Length: 10000000\r\n")
		if _, err := c.Write(rawPattern(500_000)); err != nil {
			t.Fatal(err)
		}
		c.Close() // the client goes away mid-body
		if got := <-e.ended; got != p {
			t.Fatalf("handler for %q ended, want %q", got, p)
		}
	}
	// A chunked upload cut off mid-body.
	c := e.rawRequestHead("chunked.bin", "Transfer-Encoding: chunked\r\n")
	fmt.Fprintf(c, "%x\r\n%s\r\n", 100_000, rawPattern(100_000))
	c.Close()
	<-e.ended

	got, err := os.ReadFile(filepath.Join(e.dir, "keep.bin"))
	if err != nil || !bytes.Equal(got, old) {
		t.Fatalf("keep.bin changed: %q %v", got, err)
	}
	if l := leftovers(t, e.dir, "keep.bin"); len(l) > 0 {
		t.Fatalf("a dropped upload left %v behind", l)
	}
}

func TestRawUploadLimit(t *testing.T) {
	const limit = 64 << 10
	e := newRawEnv(t, Config{MaxUploadBytes: limit})

	// The head announces a body far over the limit and the body is never
	// sent: the answer can only come before the body is read.
	c := e.rawRequestHead("big.bin", fmt.Sprintf("Content-Length: %d\r\n", int64(1)<<40))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer before the body was sent: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantError(t, resp.StatusCode, b, 413, 1006)
	<-e.ended

	// A chunked body that grows past the limit is cut off.
	status, b, _ := e.do(http.MethodPut, "chunky.bin", io.MultiReader(bytes.NewReader(rawPattern(limit)), strings.NewReader("one too many")), nil)
	<-e.ended
	wantError(t, status, b, 413, 1006)

	// At the limit is fine.
	status, b, _ = e.do(http.MethodPut, "ok.bin", bytes.NewReader(rawPattern(limit)), nil)
	<-e.ended
	if status != http.StatusOK {
		t.Fatalf("upload at the limit: %d %s", status, b)
	}
	if l := leftovers(t, e.dir, "ok.bin"); len(l) > 0 {
		t.Fatalf("left behind: %v", l)
	}
}

func statUID(fi os.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

func mkfifo(p string) error { return syscall.Mkfifo(p, 0o644) }
