package integration

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// flakyProxy is a reverse proxy in front of a real server that answers
// the first GET of each request URI (path and query) with 503, as a
// restarting load balancer would, and passes everything else through.
type flakyProxy struct {
	srv   *httptest.Server
	mu    sync.Mutex
	seen  map[string]int // GET request URI -> requests
	proxy *httputil.ReverseProxy
}

func newFlakyProxy(t *testing.T, target string) *flakyProxy {
	u, err := url.Parse(target)
	require.NoError(t, err)
	p := &flakyProxy{seen: map[string]int{}, proxy: httputil.NewSingleHostReverseProxy(u)}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			p.mu.Lock()
			p.seen[r.URL.RequestURI()]++
			first := p.seen[r.URL.RequestURI()] == 1
			p.mu.Unlock()
			if first {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, `{"code":5001,"message":"try again"}`)
				return
			}
		}
		p.proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// fastRetry retries at once, so that the test does not wait for backoff.
var fastRetry = workspace.WithRetry(workspace.RetryPolicy{MaxAttempts: 3, BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond})

// TestIntegrationEveryReadRetries puts a proxy that answers the first GET
// of every URI 503 in front of the real server: every read call of the SDK
// recovers, because every request goes through the one send path.
func TestIntegrationEveryReadRetries(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			srv := workspacetest.NewServer(t, m.opts...)
			direct := srv.Client()
			ws, sb := newSandbox(t, direct, nil)
			ctx := ctxFor(t)
			require.NoError(t, direct.Workspace.WriteFile(ctx, ws.ID, "a.txt", []byte("alpha")))
			require.NoError(t, direct.Workspace.WriteFile(ctx, ws.ID, "b.txt", []byte("bravo")))

			proxy := newFlakyProxy(t, srv.URL)
			c, err := workspace.NewClient(proxy.srv.URL, fastRetry)
			require.NoError(t, err)
			t.Cleanup(func() { c.Close() })

			h, err := c.Health(ctx)
			require.NoError(t, err, "Health")
			_, err = c.Workspace.Get(ctx, ws.ID)
			require.NoError(t, err, "Workspace.Get")
			_, err = c.Workspace.List(ctx)
			require.NoError(t, err, "Workspace.List")
			files, err := c.Workspace.ListFiles(ctx, ws.ID, "")
			require.NoError(t, err, "ListFiles")
			assert.Len(t, files, 2)
			_, err = c.Workspace.GetFileInfo(ctx, ws.ID, "a.txt")
			require.NoError(t, err, "GetFileInfo")
			data, err := c.Workspace.ReadFile(ctx, ws.ID, "a.txt")
			require.NoError(t, err, "ReadFile")
			assert.Equal(t, "alpha", string(data))
			rc, err := c.Workspace.Download(ctx, ws.ID, "b.txt", nil)
			require.NoError(t, err, "Download")
			data, err = io.ReadAll(rc)
			rc.Close()
			require.NoError(t, err)
			assert.Equal(t, "bravo", string(data))
			_, err = c.Sandbox.Get(ctx, sb.ID)
			require.NoError(t, err, "Sandbox.Get")
			_, err = c.Sandbox.List(ctx, nil)
			require.NoError(t, err, "Sandbox.List")

			if h.Has(workspace.FeatureProcessStream) {
				var out []byte
				for ev, err := range c.Process.RunStream(ctx, sb.ID, "echo", &workspace.RunCommandOptions{Args: []string{"streamed"}}) {
					require.NoError(t, err, "RunStream")
					out = append(out, ev.Data...)
				}
				assert.Equal(t, "streamed\n", string(out))
			}
			if h.Has(workspace.FeaturePTY) {
				info, err := direct.PTY.Create(ctx, sb.ID, &workspace.PTYOptions{Shell: "/bin/sh"})
				require.NoError(t, err)
				list, err := c.PTY.List(ctx, sb.ID)
				require.NoError(t, err, "PTY.List")
				assert.Len(t, list, 1)
				sess, err := c.PTY.Attach(ctx, sb.ID, info.ID)
				require.NoError(t, err, "PTY.Attach")
				require.NoError(t, sess.Kill(ctx))
				_, err = sess.Wait(ctx)
				require.NoError(t, err)
				require.NoError(t, sess.Close())
			}

			// Every read above met a 503 first and was sent again.
			proxy.mu.Lock()
			defer proxy.mu.Unlock()
			for uri, n := range proxy.seen {
				assert.GreaterOrEqual(t, n, 2, "GET %s was not retried", uri)
			}
			assert.GreaterOrEqual(t, len(proxy.seen), 9, "GETs seen: %v", proxy.seen)
		})
	}
}

// TestIntegrationRunOutlastsClientTimeout runs a command that takes longer
// than the client timeout: the client timeout bounds connecting and the
// server's answer, not the command's run time.
func TestIntegrationRunOutlastsClientTimeout(t *testing.T) {
	t.Parallel()
	srv := workspacetest.NewServer(t)
	_, sb := newSandbox(t, srv.Client(), nil)
	c, err := workspace.NewClient(srv.URL, workspace.WithTimeout(time.Second))
	require.NoError(t, err)
	defer c.Close()
	ctx := ctxFor(t)
	res, err := c.Process.Run(ctx, sb.ID, "sh", shOpts("sleep 2; echo done"))
	require.NoError(t, err)
	assert.Equal(t, 0, res.ExitCode)
	assert.Equal(t, "done\n", res.Stdout)

	var out []byte
	for ev, err := range c.Process.RunStream(ctx, sb.ID, "sh", shOpts("sleep 2; echo streamed")) {
		require.NoError(t, err)
		out = append(out, ev.Data...)
	}
	assert.Equal(t, "streamed\n", string(out))
}
