package workspace

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewClientURLs(t *testing.T) {
	for in, want := range map[string]string{
		"http://h:8080":                   "http://h:8080/api/v1/sandboxes/x",
		"http://h:8080/":                  "http://h:8080/api/v1/sandboxes/x",
		"https://h/base":                  "https://h/base/api/v1/sandboxes/x",
		"https://h/base/":                 "https://h/base/api/v1/sandboxes/x",
		"http://h/base/api/v1":            "http://h/base/api/v1/sandboxes/x",
		"http://h/a%2Fb/":                 "http://h/a%2Fb/api/v1/sandboxes/x",
		" http://h:1/p?ignored=1#frag   ": "http://h:1/p/api/v1/sandboxes/x",
	} {
		c, err := NewClient(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, c.endpointURL("/sandboxes/x", nil).String(), in)
		require.NoError(t, c.Close())
	}
	c, err := NewClient("http://h/")
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, "http://h/api/v1/sandboxes/a%2Fb/process/run/stream?command=ls",
		c.endpointURL("/sandboxes/a%2Fb/process/run/stream", map[string][]string{"command": {"ls"}}).String())
	for _, bad := range []string{"", "localhost:8080", "ftp://h", "http://", "://x"} {
		_, err := NewClient(bad)
		assert.Error(t, err, bad)
	}
}

func TestClientDefaults(t *testing.T) {
	c, err := NewClient("http://h", nil, WithNFS("nfs-host", 2050))
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, DefaultTimeout, c.timeout)
	assert.Equal(t, "nfs-host", c.nfsHost)
	assert.Equal(t, 2050, c.nfsPort)
	assert.Equal(t, 64, c.transport.MaxIdleConnsPerHost)
	assert.Equal(t, "", c.authHeader())
	assert.NotNil(t, c.Workspace)
	assert.NotNil(t, c.Sandbox)
	assert.NotNil(t, c.Process)
	assert.NotNil(t, c.PTY)
	assert.NotNil(t, c.NFS)
	req, err := c.newHTTPRequest(t.Context(), &apiRequest{op: "health", method: "GET", path: "/health"})
	require.NoError(t, err)
	assert.Equal(t, "workspace-sdk-go/"+Version, req.Header.Get("User-Agent"))
	assert.Empty(t, req.Header.Get("Authorization"))
}

func TestHealthAndFeatureCache(t *testing.T) {
	f := newFake(t, []string{"binary", "pty"})
	h, err := f.c.Health(t.Context())
	require.NoError(t, err)
	assert.Equal(t, &HealthInfo{Status: "healthy", Version: "1.2.3", Features: []string{"binary", "pty"}}, h)
	assert.True(t, h.HasFeature("pty"))
	assert.False(t, h.HasFeature("auth"))

	g := newFake(t, []string{"binary"})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := g.c.hasFeature(t.Context(), "binary")
			assert.NoError(t, err)
			assert.True(t, ok)
		}()
	}
	wg.Wait()
	ok, err := g.c.hasFeature(t.Context(), "files.raw")
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Equal(t, 1, g.healthCalls(), "features are fetched once")
}

func TestFeatureFetchRetriedAfterFailure(t *testing.T) {
	f := newFake(t, []string{"binary"}, WithRetry(NoRetry))
	f.mu.Lock()
	f.healthUp = false
	f.mu.Unlock()
	_, err := f.c.Workspace.ReadFile(t.Context(), "ws-1", "a")
	require.ErrorIs(t, err, ErrInternal)
	assert.Empty(t, f.requests())
	f.mu.Lock()
	f.healthUp = true
	f.mu.Unlock()
	f.ok(`{"content":"aGk=","encoding":"base64"}`)
	b, err := f.c.Workspace.ReadFile(t.Context(), "ws-1", "a")
	require.NoError(t, err)
	assert.Equal(t, "hi", string(b))
	assert.Equal(t, 2, f.healthCalls())
}

func TestRetryIdempotentWithRetryAfter(t *testing.T) {
	f := newFake(t, nil, WithRetry(RetryPolicy{MaxAttempts: 3, BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, MaxRetryAfter: 20 * time.Millisecond}))
	f.script(
		reply{status: 503, body: `{"code":5001,"message":"agent"}`, header: map[string]string{"Retry-After": "0"}},
		reply{status: 429, body: `slow down`, header: map[string]string{"Retry-After": "1"}},
		reply{status: 200, body: sbJSON("running")},
	)
	sb, err := f.c.Sandbox.Get(t.Context(), "sbx-1")
	require.NoError(t, err)
	assert.Equal(t, "sbx-1", sb.ID)
	assert.Len(t, f.requests(), 3)
}

func TestRetryGivesUpWithLastError(t *testing.T) {
	f := newFake(t, nil, WithRetry(RetryPolicy{MaxAttempts: 2, BaseBackoff: time.Millisecond}))
	f.script(reply{status: 502, body: "bad gateway"}, reply{status: 504, body: `{"code":5002,"message":"agent timeout"}`})
	err := f.c.Workspace.Delete(t.Context(), "ws-1")
	require.ErrorIs(t, err, ErrAgentConnectionTimeout)
	assert.Len(t, f.requests(), 2)
}

func TestNoRetryOfNonRetryableStatus(t *testing.T) {
	f := newFake(t, nil)
	f.script(reply{status: 500, body: `{"code":1003,"message":"internal"}`})
	_, err := f.c.Sandbox.Get(t.Context(), "x")
	require.ErrorIs(t, err, ErrInternal)
	assert.Len(t, f.requests(), 1)
}

func TestPostIsNeverResent(t *testing.T) {
	f := newFake(t, nil, WithRetry(RetryPolicy{MaxAttempts: 5, BaseBackoff: time.Millisecond}))
	f.script(reply{status: 503, body: `{"code":5001,"message":"agent"}`})
	_, err := f.c.Sandbox.Create(t.Context(), &CreateSandboxParams{WorkspaceID: "w"})
	require.ErrorIs(t, err, ErrAgentNotConnected)
	assert.Len(t, f.requests(), 1)

	f.script(reply{status: 503, body: "x"})
	err = f.c.Workspace.WriteFile(t.Context(), "w", "p", []byte("x"))
	require.Error(t, err)
	assert.Len(t, f.requests(), 2, "PUT is not resent either")
}

// hangup closes the connection without answering.
func hangup(w http.ResponseWriter, r *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func TestRetryConnectionErrors(t *testing.T) {
	f := newFake(t, nil, WithRetry(RetryPolicy{MaxAttempts: 3, BaseBackoff: time.Millisecond}))
	f.script(reply{handler: hangup}, reply{status: 200, body: wsJSON})
	w, err := f.c.Workspace.Get(t.Context(), "ws-1")
	require.NoError(t, err)
	assert.Equal(t, "ws-1", w.ID)
	assert.Len(t, f.requests(), 2)

	g := newFake(t, nil, WithRetry(RetryPolicy{MaxAttempts: 3, BaseBackoff: time.Millisecond}))
	g.script(reply{handler: hangup}, reply{status: 200, body: wsJSON})
	_, err = g.c.Workspace.Create(t.Context(), nil)
	require.Error(t, err)
	assert.Len(t, g.requests(), 1, "a POST that may have reached the server is not resent")
}

func TestRetryNeverPastDeadline(t *testing.T) {
	f := newFake(t, nil, WithRetry(RetryPolicy{MaxAttempts: 3, MaxRetryAfter: time.Hour}))
	f.script(reply{status: 503, body: "busy", header: map[string]string{"Retry-After": "3600"}}, reply{status: 200, body: wsJSON})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := f.c.Workspace.Get(ctx, "ws-1")
	var apiErr *Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 503, apiErr.StatusCode)
	assert.Len(t, f.requests(), 1, "the wait would pass the deadline: give up at once")
}

func TestBackoff(t *testing.T) {
	p := RetryPolicy{BaseBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, MaxRetryAfter: 5 * time.Second}
	for attempt, max := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 10: time.Second} {
		for range 20 {
			d := p.backoff(attempt, 0)
			assert.GreaterOrEqual(t, d, max/2)
			assert.LessOrEqual(t, d, max)
		}
	}
	assert.Equal(t, 3*time.Second, p.backoff(1, 3*time.Second))
	assert.Equal(t, 5*time.Second, p.backoff(1, time.Minute), "Retry-After is clamped")
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, 7*time.Second, parseRetryAfter("7", now))
	assert.Equal(t, time.Duration(0), parseRetryAfter("", now))
	assert.Equal(t, time.Duration(0), parseRetryAfter("-3", now))
	assert.Equal(t, time.Duration(0), parseRetryAfter("soon", now))
	assert.Equal(t, 90*time.Second, parseRetryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now))
	assert.Equal(t, time.Duration(0), parseRetryAfter(now.Add(-time.Hour).Format(http.TimeFormat), now))
}

func TestWithTimeoutBoundsRequests(t *testing.T) {
	f := newFake(t, nil, WithTimeout(50*time.Millisecond), WithRetry(NoRetry))
	f.script(reply{handler: func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }})
	_, err := f.c.Sandbox.Get(t.Context(), "x")
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestCloseIsIdempotent(t *testing.T) {
	f := newFake(t, nil)
	f.ok(wsJSON)
	_, err := f.c.Workspace.Get(t.Context(), "ws-1")
	require.NoError(t, err)
	require.NoError(t, f.c.Close())
	require.NoError(t, f.c.Close())
	_, err = f.c.Workspace.Get(t.Context(), "ws-1")
	require.ErrorIs(t, err, net.ErrClosed)
}

func TestWithHTTPClient(t *testing.T) {
	var seen int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen++
		assert.Equal(t, "/api/v1/workspaces/ws-1", r.URL.Path)
		_, _ = w.Write([]byte(wsJSON))
	}))
	defer srv.Close()
	hc := srv.Client()
	c, err := NewClient(srv.URL, WithHTTPClient(hc))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Workspace.Get(t.Context(), "ws-1")
	require.NoError(t, err)
	assert.Equal(t, 1, seen)
	assert.Nil(t, c.transport)
	hc.CloseIdleConnections()
}

// TestClientTimeoutNamed checks that an SDK deadline says which one fired
// and matches context.DeadlineExceeded and os.ErrDeadlineExceeded.
func TestClientTimeoutNamed(t *testing.T) {
	t.Parallel()
	f := newFake(t, nil, WithTimeout(50*time.Millisecond), WithRetry(NoRetry))
	hang := reply{handler: func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }}
	f.script(hang)
	_, err := f.c.Sandbox.Get(t.Context(), "sbx-1")
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	assert.Contains(t, err.Error(), "client timeout 50ms (WithTimeout)")

	// A command's own Timeout extends the bound, and the error names both.
	f.script(hang)
	_, err = f.c.Process.Run(t.Context(), "sbx-1", "sleep", &RunCommandOptions{Timeout: 10 * time.Millisecond})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "command timeout 10ms + client timeout 50ms (WithTimeout)")

	// The caller's own deadline stays the caller's.
	f.script(hang)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	_, err = f.c.Sandbox.Get(ctx, "sbx-1")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotContains(t, err.Error(), "WithTimeout")
}

// TestRunNotBoundByClientTimeout: without a command Timeout, Run waits for
// the answer as long as ctx allows, past the client timeout.
func TestRunNotBoundByClientTimeout(t *testing.T) {
	t.Parallel()
	f := newFake(t, nil, WithTimeout(20*time.Millisecond))
	// The fake answers after 5 client timeouts have passed.
	f.script(reply{handler: func(w http.ResponseWriter, r *http.Request) {
		<-time.After(100 * time.Millisecond)
		_, _ = io.WriteString(w, `{"exit_code":0,"stdout":"late","stderr":""}`)
	}})
	res, err := f.c.Process.Run(t.Context(), "sbx-1", "sleep", nil)
	require.NoError(t, err)
	assert.Equal(t, "late", res.Stdout)
}

// TestCancelCauseKept: a ctx cancelled with a cause gives an error that
// matches both context.Canceled and the cause.
func TestCancelCauseKept(t *testing.T) {
	t.Parallel()
	f := newFake(t, nil, WithRetry(NoRetry))
	cause := errors.New("the group failed")
	ctx, cancel := context.WithCancelCause(t.Context())
	f.script(reply{handler: func(w http.ResponseWriter, r *http.Request) {
		cancel(cause)
		<-r.Context().Done()
	}})
	_, err := f.c.Sandbox.Get(ctx, "sbx-1")
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, err, cause)
}
