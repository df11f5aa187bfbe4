//go:build linux

package main

import (
	"bufio"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/elevo/workspace-sdk-go/internal/store"
)

// Fault tests: kill -9 of the real server mid-upload, mid-stream and
// mid-create, then a restart on the same data dir.

func TestKillMidUpload(t *testing.T) {
	dataDir := newDataDir(t)
	c := startChild(t, dataDir)
	ws := c.createWorkspace()
	request(t, c.url, "PUT", filesPath(ws, "keep.txt"), map[string]any{"content": "kept"}).want(t, 200, 0)

	pr, pw := io.Pipe()
	go func() {
		req, _ := http.NewRequest("PUT", c.url+"/api/v1/workspaces/"+ws+"/files/raw?path=dir/big.bin", pr)
		req.ContentLength = 50 * mib
		if resp, err := httpClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	chunk := make([]byte, mib)
	for range 10 {
		_, err := pw.Write(chunk)
		require.NoError(t, err)
	}
	eventually(t, "10 MiB of the upload are on disk", func() bool {
		ents, _ := os.ReadDir(filepath.Join(dataDir, "tmp"))
		if len(ents) != 1 {
			return false
		}
		fi, err := ents[0].Info()
		return err == nil && fi.Size() >= 9*mib
	})
	c.kill()
	pw.CloseWithError(io.ErrClosedPipe)

	c = startChild(t, dataDir)
	ents, err := os.ReadDir(filepath.Join(dataDir, "workspaces", ws))
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"keep.txt"}, names, "partial upload or its directory visible in the workspace")
	tmp, err := os.ReadDir(filepath.Join(dataDir, "tmp"))
	require.NoError(t, err)
	assert.Empty(t, tmp, "temporary files not swept at start")
	m := request(t, c.url, "GET", "/api/v1/workspaces/"+ws+"/files/list?path=/", nil).want(t, 200, 0)
	assert.Len(t, m["files"], 1)
}

func TestKillMidStream(t *testing.T) {
	dataDir := newDataDir(t)
	c := startChild(t, dataDir)
	sb := c.createSandbox(c.createWorkspace())
	q := url.Values{"command": {"sleep"}, "args": {`["4343"]`}}
	resp, err := httpClient.Get(c.url + "/api/v1/sandboxes/" + sb + "/process/run/stream?" + q.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() && lines.Text() != "event: start" {
	}
	require.True(t, processAlive(t, "sleep\x004343\x00"), "the streamed process did not start")
	c.kill()
	eventually(t, "the sandbox's processes end with the server", func() bool { return !processAlive(t, "sleep\x004343\x00") })

	c = startChild(t, dataDir)
	m := request(t, c.url, "GET", "/api/v1/sandboxes/"+sb, nil).want(t, 200, 0)
	assert.Equal(t, "error", m["state"])
	assert.Equal(t, store.ReconcileMessage, m["error_message"])
	run, err := os.ReadDir(filepath.Join(dataDir, "run"))
	require.NoError(t, err)
	for _, e := range run {
		assert.NotContains(t, e.Name(), sb, "run dir of the dead sandbox not swept")
	}
}

func TestKillMidCreate(t *testing.T) {
	dataDir := newDataDir(t)
	c := startChild(t, dataDir)
	ws := c.createWorkspace()
	var (
		mu       sync.Mutex
		answered []string
		wg       sync.WaitGroup
	)
	first := make(chan struct{})
	var once sync.Once
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", c.url+"/api/v1/sandboxes", strings.NewReader(`{"workspace_id":"`+ws+`"}`))
			req.Header.Set("Content-Type", "application/json")
			resp, err := httpClient.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode == 200 {
				a := answer{200, b}
				mu.Lock()
				answered = append(answered, a.object(t)["id"].(string))
				mu.Unlock()
				once.Do(func() { close(first) })
			}
		}()
	}
	<-first // some creates answered, others under way
	c.kill()
	wg.Wait()

	c = startChild(t, dataDir)
	m := request(t, c.url, "GET", "/api/v1/sandboxes", nil).want(t, 200, 0)
	have := map[string]string{}
	for _, s := range m["sandboxes"].([]any) {
		sb := s.(map[string]any)
		have[sb["id"].(string)] = sb["state"].(string)
	}
	for _, id := range answered {
		assert.Contains(t, have, id, "sandbox answered 200 is lost after the crash")
	}
	for id, st := range have {
		assert.Equal(t, "error", st, "sandbox %s after the crash", id)
	}
}

// processAlive reports whether a host process has exactly cmdline.
func processAlive(t *testing.T, cmdline string) bool {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	require.NoError(t, err)
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && string(b) == cmdline {
			return true
		}
	}
	return false
}
