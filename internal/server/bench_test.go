//go:build !windows

package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkControlPlane measures GET sandbox + list files through real
// HTTP (keep-alive) with the fake runtime, in parallel.
func BenchmarkControlPlane(b *testing.B) {
	ts := newTestServer(b, "", nil)
	ws := ts.createWorkspace()
	ts.want(ts.do("PUT", filesURL(ws, "", "a/b.txt"), map[string]any{"content": "x"}), 200, 0)
	id := ts.createSandbox(ws, nil)["id"].(string)
	urls := []string{ts.url + "/api/v1/sandboxes/" + id, ts.url + filesURL(ws, "/list", "a")}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			res, err := cl.Get(urls[i%2])
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
			i++
		}
	})
}

// BenchmarkRunOverhead measures a Run through HTTP with the fake runtime
// (the server's own cost, without the sandbox).
func BenchmarkRunOverhead(b *testing.B) {
	ts := newTestServer(b, "", nil)
	ws := ts.createWorkspace()
	id := ts.createSandbox(ws, nil)["id"].(string)
	url := ts.url + "/api/v1/sandboxes/" + id + "/process/run"
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	b.ResetTimer()
	for range b.N {
		res, err := cl.Post(url, "application/json", strings.NewReader(`{"command":"echo","args":["hi"]}`))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
}
