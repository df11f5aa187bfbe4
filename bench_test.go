package workspace

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchServer answers every request with the body for its path.
func benchClient(b *testing.B, bodies map[string]string) *Client {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, bodies[r.URL.Path])
	}))
	b.Cleanup(srv.Close)
	c, err := NewClient(srv.URL+"/p", WithAPIKey("k"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

func BenchmarkSandboxGet(b *testing.B) {
	c := benchClient(b, map[string]string{"/p/api/v1/sandboxes/sbx-1": sbJSON("running")})
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Sandbox.Get(ctx, "sbx-1"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProcessRun(b *testing.B) {
	c := benchClient(b, map[string]string{
		"/p/api/v1/health":                      `{"status":"healthy","version":"1","features":["binary"]}`,
		"/p/api/v1/sandboxes/sbx-1/process/run": `{"exit_code":0,"stdout":"aGkK","stderr":""}`,
	})
	ctx := b.Context()
	opts := &RunCommandOptions{Args: []string{"hi"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Process.Run(ctx, "sbx-1", "echo", opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStreamDecode(b *testing.B) {
	ev := "event: stdout\nid: 1\ndata: {\"type\":\"stdout\",\"data\":\"aGVsbG8gd29ybGQK\"}\n\n"
	var s []byte
	for range 100 {
		s = append(s, ev...)
	}
	s = append(s, "event: exit\ndata: {\"type\":\"exit\",\"code\":0}\n\n"...)
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		d := &streamDecoder{binary: true}
		for _, err := range d.events(bytesReader(s)) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
