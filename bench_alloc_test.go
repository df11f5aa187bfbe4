package workspace

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// The Alloc benchmarks measure what one SDK call allocates, without a
// network or a server in the process: the client's transport is a
// RoundTripper that answers from memory. Run with
//
//	go test -run '^$' -bench Alloc -benchmem .

// memTransport answers each request with the canned body for its path.
type memTransport struct{ bodies map[string][]byte }

func (m memTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	body, ok := m.bodies[r.URL.Path]
	status := http.StatusOK
	if !ok {
		status, body = http.StatusNotFound, []byte(`{"code":1001,"message":"no such route"}`)
	}
	return &http.Response{
		StatusCode:    status,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}, nil
}

func allocClient(b *testing.B, bodies map[string]string) *Client {
	b.Helper()
	m := memTransport{bodies: map[string][]byte{
		"/api/v1/health": []byte(`{"status":"healthy","version":"1","features":["binary","files.raw","process.stream"]}`),
	}}
	for k, v := range bodies {
		m.bodies[k] = []byte(v)
	}
	c, err := NewClient("http://sdk.invalid", WithAPIKey("k"), WithHTTPClient(&http.Client{Transport: m}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	if _, err := c.Health(b.Context()); err != nil {
		b.Fatal(err)
	}
	return c
}

func runAlloc(b *testing.B, fn func() error) {
	b.Helper()
	if err := fn(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := fn(); err != nil {
			b.Fatal(err)
		}
	}
}

// jsonArray is a JSON array of the n elements item(0) ... item(n-1).
func jsonArray(n int, item func(i int) string) string {
	items := make([]string, n)
	for i := range items {
		items[i] = item(i)
	}
	return "[" + strings.Join(items, ",") + "]"
}

func BenchmarkAllocSandboxGet(b *testing.B) {
	c := allocClient(b, map[string]string{"/api/v1/sandboxes/sbx-1": sbJSON("running")})
	runAlloc(b, func() error { _, err := c.Sandbox.Get(b.Context(), "sbx-1"); return err })
}

func BenchmarkAllocSandboxList(b *testing.B) {
	list := `{"sandboxes":` + jsonArray(10, func(int) string { return sbJSON("running") }) + `,"total":10}`
	c := allocClient(b, map[string]string{"/api/v1/sandboxes": list})
	runAlloc(b, func() error { _, err := c.Sandbox.List(b.Context(), nil); return err })
}

func BenchmarkAllocListFiles(b *testing.B) {
	list := `{"files":` + jsonArray(10, func(i int) string {
		return `{"name":"f` + strconv.Itoa(i) + `.txt","path":"d/f` + strconv.Itoa(i) + `.txt","type":"file","size":5,"modified_at":"2026-01-02T03:04:05.123456789Z"}`
	}) + `}`
	c := allocClient(b, map[string]string{"/api/v1/workspaces/w/files/list": list})
	runAlloc(b, func() error { _, err := c.Workspace.ListFiles(b.Context(), "w", "d"); return err })
}

func BenchmarkAllocProcessRun(b *testing.B) {
	c := allocClient(b, map[string]string{"/api/v1/sandboxes/sbx-1/process/run": `{"exit_code":0,"stdout":"","stderr":""}`})
	runAlloc(b, func() error { _, err := c.Process.Run(b.Context(), "sbx-1", "true", nil); return err })
}

func BenchmarkAllocReadFileRaw(b *testing.B) {
	c := allocClient(b, map[string]string{"/api/v1/workspaces/w/files/raw": strings.Repeat("x", 4096)})
	runAlloc(b, func() error { _, err := c.Workspace.ReadFile(b.Context(), "w", "f"); return err })
}

func BenchmarkAllocWriteFileRaw(b *testing.B) {
	c := allocClient(b, map[string]string{"/api/v1/workspaces/w/files/raw": `{"success":true,"path":"f"}`})
	data := bytes.Repeat([]byte("x"), 4096)
	runAlloc(b, func() error { return c.Workspace.WriteFile(b.Context(), "w", "f", data) })
}

func BenchmarkAllocDownload(b *testing.B) {
	c := allocClient(b, map[string]string{"/api/v1/workspaces/w/files/raw": strings.Repeat("x", 1<<20)})
	buf := make([]byte, 64<<10)
	b.SetBytes(1 << 20)
	runAlloc(b, func() error {
		rc, err := c.Workspace.Download(b.Context(), "w", "f", nil)
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = io.CopyBuffer(discardWriter{}, rc, buf)
		return err
	})
}

func BenchmarkAllocUpload(b *testing.B) {
	c := allocClient(b, map[string]string{"/api/v1/workspaces/w/files/raw": `{"success":true,"path":"f"}`})
	data := bytes.Repeat([]byte("x"), 1<<20)
	b.SetBytes(1 << 20)
	runAlloc(b, func() error {
		return c.Workspace.Upload(b.Context(), "w", "f", bytes.NewReader(data), nil)
	})
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
