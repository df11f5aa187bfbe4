//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// child is a real workspace-server process (this test binary run as the
// command), so that tests can measure its memory and kill -9 it.
type child struct {
	t       *testing.T
	cmd     *exec.Cmd
	url     string
	dataDir string
	logs    *syncBuffer
	exited  chan struct{}
}

// newDataDir returns a data directory the sandbox uid can traverse to.
func newDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o711))
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o711))
	return filepath.Join(dir, "data")
}

// startChild starts the server on dataDir with args and waits until it
// listens. It is killed when the test ends.
func startChild(t *testing.T, dataDir string, args ...string) *child {
	t.Helper()
	args = append([]string{"-port", "0", "-nfs-port", "-1", "-data-dir", dataDir}, args...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "WORKSPACE_SERVER_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	c := &child{t: t, cmd: cmd, dataDir: dataDir, logs: &syncBuffer{}, exited: make(chan struct{})}
	urls := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			c.logs.Write([]byte(lines.Text() + "\n")) //nolint:errcheck // in memory
			if m := regexp.MustCompile(`url=(http://\S+)`).FindStringSubmatch(lines.Text()); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr) //nolint:errcheck // drain
		cmd.Wait()                  //nolint:errcheck // killed by the test
		close(c.exited)
	}()
	t.Cleanup(c.kill)
	select {
	case c.url = <-urls:
	case <-c.exited:
		t.Fatalf("server exited before listening:\n%s", c.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("server did not listen in 60 s:\n%s", c.logs)
	}
	return c
}

// kill sends SIGKILL (kill -9) and waits for the process to end.
func (c *child) kill() {
	c.cmd.Process.Kill() //nolint:errcheck // may have exited
	<-c.exited
}

// peakRSS returns the server process's peak resident memory (VmHWM).
func (c *child) peakRSS() int64 { return procStatusKiB(c.t, c.cmd.Process.Pid, "VmHWM:") << 10 }

// rss returns the server process's resident memory now (VmRSS).
func (c *child) rss() int64 { return procStatusKiB(c.t, c.cmd.Process.Pid, "VmRSS:") << 10 }

func procStatusKiB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	require.NoError(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field) {
			n, err := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// answer is an HTTP answer: status and body.
type answer struct {
	status int
	body   []byte
}

// object decodes a JSON object answer.
func (a answer) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(a.body, &m), "status %d body %.300s", a.status, a.body)
	return m
}

// code returns the code of a JSON error answer.
func (a answer) code(t *testing.T) int {
	t.Helper()
	c, _ := a.object(t)["code"].(float64)
	return int(c)
}

// httpClient sends one request per connection, so no idle connection
// outlives a test.
var httpClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, ExpectContinueTimeout: 10 * time.Second}, Timeout: 120 * time.Second}

// request sends method path with body (JSON-encoded unless an io.Reader
// or nil) and extra headers.
func request(t *testing.T, base, method, path string, body any, hdr ...string) answer {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case io.Reader:
		rd = b
	default:
		j, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, base+path, rd)
	require.NoError(t, err)
	if _, ok := body.(io.Reader); !ok && body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{resp.StatusCode, b}
}

// want checks an answer's status and, when code is not 0, its error code.
func (a answer) want(t *testing.T, status, code int) map[string]any {
	t.Helper()
	require.Equal(t, status, a.status, "body %.500s", a.body)
	m := a.object(t)
	if code != 0 {
		require.Equal(t, code, a.code(t), "body %.500s", a.body)
	}
	return m
}

// createWorkspace creates a workspace and returns its id.
func (c *child) createWorkspace() string {
	return request(c.t, c.url, "POST", "/api/v1/workspaces", map[string]any{}).want(c.t, 200, 0)["id"].(string)
}

// createSandbox creates a sandbox in ws and returns its id.
func (c *child) createSandbox(ws string) string {
	return request(c.t, c.url, "POST", "/api/v1/sandboxes", map[string]any{"workspace_id": ws}).want(c.t, 200, 0)["id"].(string)
}

// eventually polls cond until it holds, failing after 60 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
