package conformance_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/internal/conformance"
	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// brokenServer puts a reverse proxy in front of a real reference server;
// rewrite (nil: none) may change each answer. It returns a client for the
// proxy.
func brokenServer(t *testing.T, rewrite func(*http.Response) error) *workspace.Client {
	c, _ := brokenServerAndDirect(t, rewrite)
	return c
}

// brokenServerAndDirect is brokenServer that also returns a client that
// talks to the real server directly.
func brokenServerAndDirect(t *testing.T, rewrite func(*http.Response) error) (proxied, direct *workspace.Client) {
	t.Helper()
	srv := workspacetest.NewServer(t)
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = rewrite
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)
	c, err := workspace.NewClient(ps.URL, workspace.WithRetry(workspace.NoRetry))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, srv.Client()
}

// replaceBody replaces the body of resp by f(body).
func replaceBody(resp *http.Response, f func([]byte) []byte) error {
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	b = f(b)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Del("Content-Length")
	return nil
}

// runOnly runs the one check named name against c.
func runOnly(t *testing.T, c *workspace.Client, name string) conformance.Result {
	t.Helper()
	res := conformance.Run(t.Context(), c, conformance.Options{Match: func(n string) bool { return n == name }})
	if len(res) != 1 || res[0].Name != name {
		t.Fatalf("Run: got results %v, want one for %s", res, name)
	}
	return res[0]
}

// wantFailure checks that r failed with a detail that names every part of
// want.
func wantFailure(t *testing.T, r conformance.Result, want ...string) {
	t.Helper()
	if r.Status != conformance.Fail {
		t.Fatalf("got %s, want FAIL", r)
	}
	for _, w := range want {
		if !strings.Contains(r.Detail, w) {
			t.Errorf("detail %q lacks %q", r.Detail, w)
		}
	}
}

// TestConformanceThroughTransparentProxy: the proxy alone changes nothing, so the
// checks the broken servers fail pass through it.
func TestConformanceThroughTransparentProxy(t *testing.T) {
	c := brokenServer(t, nil)
	for _, name := range []string{"workspaces/crud", "process.stream/events", "sandboxes/workspace-busy"} {
		if r := runOnly(t, c, name); r.Status != conformance.Pass {
			t.Errorf("%s through a transparent proxy: %s", name, r)
		}
	}
}

// TestConformanceWrongErrorCode: a server answering 3001 where the protocol says
// 7001 fails workspaces/crud with the route and both codes.
func TestConformanceWrongErrorCode(t *testing.T) {
	c := brokenServer(t, func(resp *http.Response) error {
		if resp.StatusCode != http.StatusNotFound {
			return nil
		}
		return replaceBody(resp, func(b []byte) []byte { return bytes.ReplaceAll(b, []byte(`7001`), []byte(`3001`)) })
	})
	wantFailure(t, runOnly(t, c, "workspaces/crud"), "GET /workspaces/{id} after delete", "want code 7001", "got code 3001")
}

// TestConformanceWrongStatus: 7002 answered with HTTP 400 instead of 409 fails
// sandboxes/workspace-busy naming the route and both statuses.
func TestConformanceWrongStatus(t *testing.T) {
	c, direct := brokenServerAndDirect(t, func(resp *http.Response) error {
		if resp.StatusCode == http.StatusConflict {
			resp.StatusCode, resp.Status = http.StatusBadRequest, "400 Bad Request"
		}
		return nil
	})
	wantFailure(t, runOnly(t, c, "sandboxes/workspace-busy"), "DELETE /workspaces/{id} with a running sandbox", "HTTP 409", "HTTP 400")
	// The failed check left a running sandbox and its workspace: Run
	// removed them all the same.
	sbs, err := direct.Sandbox.List(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, sb := range sbs {
		t.Errorf("sandbox %s (%s, %s) left after the run", sb.ID, sb.Name, sb.State)
	}
	wss, err := direct.Workspace.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, ws := range wss {
		t.Errorf("workspace %s (%s) left after the run", ws.ID, ws.Name)
	}
}

// TestConformanceMissingExitEvent: a stream whose exit event is dropped fails
// process.stream/events naming the route and the missing event.
func TestConformanceMissingExitEvent(t *testing.T) {
	c := brokenServer(t, func(resp *http.Response) error {
		if !strings.HasSuffix(resp.Request.URL.Path, "/process/run/stream") {
			return nil
		}
		return replaceBody(resp, func(b []byte) []byte {
			var kept [][]byte
			for _, ev := range bytes.Split(b, []byte("\n\n")) {
				if !bytes.Contains(ev, []byte("event: exit")) {
					kept = append(kept, ev)
				}
			}
			return bytes.Join(kept, []byte("\n\n"))
		})
	})
	wantFailure(t, runOnly(t, c, "process.stream/events"), "GET /sandboxes/{id}/process/run/stream", "without an exit event")
}
