//go:build linux

package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// One test per row of issue 10, each running the attack against a real
// workspace-server process with bounded sizes.

const mib = 1 << 20

func filesPath(ws, p string) string {
	return "/api/v1/workspaces/" + ws + "/files?path=" + url.QueryEscape(p)
}

// Row 1: a sparse 128 MiB file read through the JSON route is refused
// (413/1006 naming files/raw) without the server reading it.
func TestRow1SparseFileJSONRead(t *testing.T) {
	c := startChild(t, newDataDir(t))
	ws := c.createWorkspace()
	big := filepath.Join(c.dataDir, "workspaces", ws, "big")
	f, err := os.Create(big)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(128*mib)) // no disk used, like `truncate -s 128M big`
	require.NoError(t, f.Close())

	before := c.peakRSS()
	for range 3 {
		a := request(t, c.url, "GET", filesPath(ws, "big"), nil)
		m := a.want(t, 413, 1006)
		assert.Contains(t, m["message"], "files/raw")
	}
	assert.Less(t, c.peakRSS()-before, int64(16*mib*memFactor), "server memory grew on refused reads")
	// files/raw streams it without holding it.
	resp, err := httpClient.Get(c.url + "/api/v1/workspaces/" + ws + "/files/raw?path=big")
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, int64(128*mib), n)
	assert.Less(t, c.peakRSS()-before, int64(16*mib*memFactor), "server memory grew on a raw download")
}

// Row 2: a run printing far more than the output limit answers with the
// output cut at the limit, flagged, and the server holds it once.
func TestRow2RunOutputBounded(t *testing.T) {
	c := startChild(t, newDataDir(t), "-max-run-output-bytes", fmt.Sprint(4*mib))
	sb := c.createSandbox(c.createWorkspace())
	before := c.rss()
	a := request(t, c.url, "POST", "/api/v1/sandboxes/"+sb+"/process/run", map[string]any{
		"command": "sh", "args": []string{"-c", "head -c 268435456 /dev/zero | tr '\\0' a; echo done >&2"},
	})
	m := a.want(t, 200, 0)
	assert.Equal(t, 4*mib, len(m["stdout"].(string)))
	assert.Equal(t, true, m["stdout_truncated"])
	assert.Nil(t, m["stderr_truncated"])
	assert.Equal(t, "done\n", m["stderr"])
	// 256 MiB printed; 4 MiB kept; held once in the server.
	assert.Less(t, c.peakRSS()-before, int64(48*mib*memFactor), "peak server memory of one bounded run")
}

// Row 3: a run whose args, env or body are over the limits is refused
// at once, before anything reaches the agent.
func TestRow3RequestSizeLimits(t *testing.T) {
	c := startChild(t, newDataDir(t), "-max-args-bytes", fmt.Sprint(mib), "-max-body-bytes", fmt.Sprint(8*mib))
	sb := c.createSandbox(c.createWorkspace())
	run := "/api/v1/sandboxes/" + sb + "/process/run"
	long := strings.Repeat("x", 2*mib)
	request(t, c.url, "POST", run, map[string]any{"command": "true", "args": []string{long}, "timeout": 1000}).want(t, 400, 1002)
	request(t, c.url, "POST", run, map[string]any{"command": "true", "env": map[string]string{"A": long}}).want(t, 400, 1002)
	huge, err := json.Marshal(map[string]any{"command": "true", "stdin": strings.Repeat("y", 9*mib)})
	require.NoError(t, err)
	// Expect: 100-continue lets the client learn the answer given before
	// the body is read instead of failing on a closed connection.
	request(t, c.url, "POST", run, bytes.NewReader(huge), "Content-Type", "application/json", "Expect", "100-continue").want(t, 413, 1006)
	// The sandbox still answers.
	m := request(t, c.url, "POST", run, map[string]any{"command": "echo", "args": []string{"ok"}}).want(t, 200, 0)
	assert.Equal(t, "ok\n", m["stdout"])
}

// Row 5: idle connections beyond the cap, a body trickled byte by byte,
// and a slow but steady upload.
func TestRow5Connections(t *testing.T) {
	c := startChild(t, newDataDir(t), "-max-connections", "16", "-header-timeout", "1s", "-body-timeout", "1s", "-transfer-idle-timeout", "1s")
	host := strings.TrimPrefix(c.url, "http://")

	// 64 idle connections (4x the cap): health still answers once the
	// header timeout frees the slots.
	var idle []net.Conn
	for range 64 {
		conn, err := net.Dial("tcp", host)
		require.NoError(t, err)
		idle = append(idle, conn)
	}
	request(t, c.url, "GET", "/api/v1/health", nil).want(t, 200, 0)
	for _, conn := range idle {
		conn.Close()
	}

	// Out of descriptors (the file limit lowered under the server): accept
	// errors are logged at warn and retried with a backoff; the server
	// answers again once connections close.
	c2 := startChild(t, newDataDir(t), "-max-connections", "200", "-header-timeout", "2s")
	pid := c2.cmd.Process.Pid
	var old unix.Rlimit
	require.NoError(t, unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &old))
	low := unix.Rlimit{Cur: 64, Max: old.Max}
	require.NoError(t, unix.Prlimit(pid, unix.RLIMIT_NOFILE, &low, nil))
	host2 := strings.TrimPrefix(c2.url, "http://")
	var flood []net.Conn
	for range 100 {
		conn, err := net.Dial("tcp", host2)
		require.NoError(t, err)
		flood = append(flood, conn)
	}
	eventually(t, "the accept error is logged at warn", func() bool {
		return strings.Contains(c2.logs.String(), "level=WARN msg=\"http accept failed; retrying\"")
	})
	for _, conn := range flood {
		conn.Close()
	}
	request(t, c2.url, "GET", "/api/v1/health", nil).want(t, 200, 0)
	require.NoError(t, unix.Prlimit(pid, unix.RLIMIT_NOFILE, &old, nil))

	// A JSON body sent one byte at a time is cut off by the body deadline.
	conn, err := net.Dial("tcp", host)
	require.NoError(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/workspaces HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n", host)
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		io.Copy(io.Discard, conn) //nolint:errcheck // until the server closes it
	}()
	start := time.Now()
	for {
		if _, err := conn.Write([]byte(" ")); err != nil {
			break
		}
		select {
		case <-closed:
		case <-time.After(200 * time.Millisecond):
			require.Less(t, time.Since(start), 60*time.Second, "a trickled body was never cut off")
			continue
		}
		break
	}

	// A steady upload that takes longer than the body deadline is not cut.
	ws := c.createWorkspace()
	pr, pw := io.Pipe()
	go func() {
		chunk := bytes.Repeat([]byte("u"), 256<<10)
		for range 12 {
			pw.Write(chunk) //nolint:errcheck // the reader is the server
			time.Sleep(250 * time.Millisecond)
		}
		pw.Close()
	}()
	req, err := http.NewRequest("PUT", c.url+"/api/v1/workspaces/"+ws+"/files/raw?path=slow.bin", pr)
	require.NoError(t, err)
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	fi, err := os.Stat(filepath.Join(c.dataDir, "workspaces", ws, "slow.bin"))
	require.NoError(t, err)
	assert.Equal(t, int64(12*256<<10), fi.Size())
}

// Row 6: what a web page can send is refused, and nothing is created.
func TestRow6BrowserRequests(t *testing.T) {
	c := startChild(t, newDataDir(t))
	host := strings.TrimPrefix(c.url, "http://")
	_, port, _ := net.SplitHostPort(host)
	ws := "/api/v1/workspaces"
	// A cross-origin "simple" request: text/plain, no preflight.
	request(t, c.url, "POST", ws, strings.NewReader(`{"name":"x"}`), "Content-Type", "text/plain").want(t, 415, 1001)
	request(t, c.url, "POST", ws, strings.NewReader(`{}`), "Content-Type", "application/json",
		"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site").want(t, 403, 1001)
	request(t, c.url, "POST", ws, strings.NewReader(`{}`), "Content-Type", "application/json",
		"Origin", "http://evil.example").want(t, 403, 1001)
	// DNS rebinding: a foreign name in Host.
	request(t, c.url, "GET", ws, nil, "Host", "evil.example:"+port).want(t, 403, 1001)
	request(t, c.url, "POST", ws, map[string]any{}, "Host", "evil.example:"+port).want(t, 403, 1001)
	m := request(t, c.url, "GET", ws, nil).want(t, 200, 0)
	assert.Equal(t, float64(0), m["total"], "a refused request created a workspace")
	// Loopback names and same-origin requests are served.
	request(t, c.url, "GET", ws, nil, "Host", "localhost:"+port).want(t, 200, 0)
	request(t, c.url, "POST", ws, map[string]any{}, "Origin", c.url, "Sec-Fetch-Site", "same-origin").want(t, 200, 0)

	// -allowed-hosts adds names.
	c2 := startChild(t, newDataDir(t), "-allowed-hosts", "ws.internal")
	_, port2, _ := net.SplitHostPort(strings.TrimPrefix(c2.url, "http://"))
	request(t, c2.url, "GET", ws, nil, "Host", "ws.internal:"+port2).want(t, 200, 0)
}

// Row 8: on a full filesystem the server never answers 200 for what it
// did not keep, and the reserve keeps the store writable.
func TestRow8FullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test mounts a small tmpfs: run it as root (the project's tests do)")
	}
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o711))
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o711))
	require.NoError(t, syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=48m,mode=0711"))
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) }) //nolint:errcheck // cleanup
	dataDir := filepath.Join(dir, "data")

	// With the reserve (8 MiB): writes and creates are refused with 507
	// once below it; the store stays writable, deletes work.
	c := startChild(t, dataDir, "-min-free-bytes", fmt.Sprint(8*mib))
	ws := c.createWorkspace()
	var refused answer
	for i := range 12 {
		// Expect: 100-continue: a refusal given before the body is read
		// reaches the client instead of a reset connection.
		a := request(t, c.url, "PUT", "/api/v1/workspaces/"+ws+"/files/raw?path=fill"+fmt.Sprint(i), bytes.NewReader(make([]byte, 4*mib)), "Expect", "100-continue")
		if a.status != 200 {
			refused = a
			break
		}
	}
	refused.want(t, 507, 1003)
	// A sandbox writes past the reserve (directly, as it can): now every
	// write and create is refused, and deleting frees it again.
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(dataDir, &st))
	fill := int64(st.Bavail)*st.Bsize - 4*mib
	require.NoError(t, os.WriteFile(filepath.Join(dataDir, "workspaces", ws, "sandbox-fill"), make([]byte, fill), 0o644))
	request(t, c.url, "POST", "/api/v1/workspaces", map[string]any{}).want(t, 507, 1003)
	request(t, c.url, "PUT", filesPath(ws, "small"), map[string]any{"content": "x"}).want(t, 507, 1003)
	request(t, c.url, "POST", "/api/v1/sandboxes", map[string]any{"workspace_id": ws}).want(t, 507, 1003)
	request(t, c.url, "DELETE", filesPath(ws, "sandbox-fill"), nil).want(t, 200, 0)
	kept := c.createWorkspace()
	c.kill()

	// Without the reserve, fill the disk to the last byte (as a sandbox
	// would): every create is either answered 200 and kept, or refused.
	c = startChild(t, dataDir, "-min-free-bytes", "-1")
	f, err := os.Create(filepath.Join(dataDir, "workspaces", ws, "filler"))
	require.NoError(t, err)
	_, err = io.Copy(f, io.LimitReader(rand.Reader, 64*mib))
	require.Error(t, err, "the tmpfs did not fill")
	f.Close()
	answered := map[string]bool{}
	for range 5 {
		a := request(t, c.url, "POST", "/api/v1/workspaces", map[string]any{"metadata": map[string]any{"pad": strings.Repeat("p", 32<<10)}})
		if a.status == 200 {
			answered[a.object(t)["id"].(string)] = true
		} else {
			assert.GreaterOrEqual(t, a.status, 500, "body %s", a.body)
		}
	}
	c.kill()
	require.NoError(t, os.Remove(filepath.Join(dataDir, "workspaces", ws, "filler")))
	c = startChild(t, dataDir)
	m := request(t, c.url, "GET", "/api/v1/workspaces", nil).want(t, 200, 0)
	have := map[string]bool{}
	for _, w := range m["workspaces"].([]any) {
		have[w.(map[string]any)["id"].(string)] = true
	}
	assert.True(t, have[ws] && have[kept], "workspaces answered 200 before are gone")
	for id := range answered {
		assert.True(t, have[id], "workspace %s answered 200 on a full disk is gone after restart", id)
	}
	assert.Len(t, have, 2+len(answered), "a workspace that was refused came back")
}

// Row 9: oversized names and metadata are refused, so lists stay small.
func TestRow9NameAndMetadataLimits(t *testing.T) {
	c := startChild(t, newDataDir(t))
	before := c.rss()
	meta := map[string]any{"blob": strings.Repeat("m", 30*mib)}
	request(t, c.url, "POST", "/api/v1/workspaces", map[string]any{"metadata": meta}).want(t, 400, 1002)
	meta = map[string]any{"blob": strings.Repeat("m", 1*mib)}
	request(t, c.url, "POST", "/api/v1/workspaces", map[string]any{"metadata": meta}).want(t, 400, 1002)
	request(t, c.url, "POST", "/api/v1/workspaces", map[string]any{"name": strings.Repeat("n", 1000)}).want(t, 400, 1002)
	ws := c.createWorkspace()
	request(t, c.url, "POST", "/api/v1/sandboxes", map[string]any{"workspace_id": ws, "metadata": meta}).want(t, 400, 1002)
	m := request(t, c.url, "GET", "/api/v1/workspaces", nil).want(t, 200, 0)
	assert.Equal(t, float64(1), m["total"])
	assert.Less(t, c.peakRSS()-before, int64(128*mib*memFactor), "peak server memory of refused bodies")
}

// Row 11: the smaller ones.
func TestRow11SmallerOnes(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(keyFile, []byte("s3cret\n"), 0o600))
	c := startChild(t, newDataDir(t), "-api-key-file", keyFile)
	auth := []string{"Authorization", "Bearer s3cret"}
	request(t, c.url, "GET", "/api/v1/workspaces", nil).want(t, 401, 1005)
	ws := request(t, c.url, "POST", "/api/v1/workspaces", map[string]any{}, auth...).want(t, 200, 0)["id"].(string)
	assert.NotContains(t, c.logs.String(), "command line", "a warning without -api-key")

	// Timeout out of range, bad env keys.
	sbs := "/api/v1/sandboxes"
	request(t, c.url, "POST", sbs, map[string]any{"workspace_id": ws, "timeout": int64(9223372037)}, auth...).want(t, 400, 1002)
	for _, k := range []string{"A=B", "A\x00B", ""} {
		request(t, c.url, "POST", sbs, map[string]any{"workspace_id": ws, "env": map[string]string{k: "v"}}, auth...).want(t, 400, 1002)
	}
	sb := request(t, c.url, "POST", sbs, map[string]any{"workspace_id": ws, "timeout": 3600}, auth...).want(t, 200, 0)["id"].(string)
	run := sbs + "/" + sb + "/process/run"
	request(t, c.url, "POST", run, map[string]any{"command": "true", "env": map[string]string{"X=Y": "1"}}, auth...).want(t, 400, 1002)
	request(t, c.url, "POST", run, map[string]any{"command": "true", "timeout": int64(1) << 62}, auth...).want(t, 400, 1002)

	// A FIFO is "other", never "file".
	require.NoError(t, syscall.Mkfifo(filepath.Join(c.dataDir, "workspaces", ws, "fifo"), 0o644))
	m := request(t, c.url, "GET", "/api/v1/workspaces/"+ws+"/files/info?path=fifo", nil, auth...).want(t, 200, 0)
	assert.Equal(t, "other", m["type"])
	m = request(t, c.url, "GET", "/api/v1/workspaces/"+ws+"/files/list?path=/", nil, auth...).want(t, 200, 0)
	assert.Equal(t, "other", m["files"].([]any)[0].(map[string]any)["type"])

	// Deleting a workspace during an upload is 409/7002; the upload ends
	// well.
	request(t, c.url, "DELETE", sbs+"/"+sb, nil, auth...).want(t, 200, 0)
	pr, pw := io.Pipe()
	upload := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("PUT", c.url+"/api/v1/workspaces/"+ws+"/files/raw?path=up.bin", pr)
		req.Header.Set("Authorization", "Bearer s3cret")
		resp, err := httpClient.Do(req)
		if err != nil {
			upload <- 0
			return
		}
		resp.Body.Close()
		upload <- resp.StatusCode
	}()
	_, err := pw.Write(make([]byte, mib))
	require.NoError(t, err)
	eventually(t, "the upload is written", func() bool {
		ents, _ := os.ReadDir(filepath.Join(c.dataDir, "tmp"))
		return len(ents) == 1
	})
	request(t, c.url, "DELETE", "/api/v1/workspaces/"+ws, nil, auth...).want(t, 409, 7002)
	require.NoError(t, pw.Close())
	assert.Equal(t, 200, <-upload)
	request(t, c.url, "DELETE", "/api/v1/workspaces/"+ws, nil, auth...).want(t, 200, 0)

	// -api-key on the command line warns.
	c2 := startChild(t, newDataDir(t), "-api-key", "visible")
	assert.Contains(t, c2.logs.String(), "command line")
}
