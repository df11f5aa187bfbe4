package workspace

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/elevo/workspace-sdk-go/internal/sandbox"
)

func TestMain(m *testing.M) {
	sandbox.MaybeRunAgent() // integration tests start real sandboxes
	goleak.VerifyTestMain(m)
}

// basePrefix is where the fake server mounts the API: every test client
// uses a base URL with a path prefix, so a method that builds an absolute
// URL by hand fails loudly.
const basePrefix = "/prefix"

const (
	testKey   = "test-key"
	testAgent = "test-agent/1.0"
)

// recorded is one request the fake server received.
type recorded struct {
	Method string
	Path   string // escaped path below /prefix/api/v1
	Query  string // raw query
	Header http.Header
	Body   []byte
}

// reply is a scripted answer of the fake server.
type reply struct {
	status  int
	body    string
	header  map[string]string
	handler http.HandlerFunc // when set, answers instead
}

// fake is an httptest server with the API mounted under /prefix/api/v1. It
// answers /health from features and every other request from a queue of
// scripted replies, recording each request.
type fake struct {
	t        *testing.T
	srv      *httptest.Server
	c        *Client
	mu       sync.Mutex
	reqs     []recorded
	replies  []reply
	features []string
	health   int  // number of /health requests
	healthUp bool // false: /health answers 500
}

func newFake(t *testing.T, features []string, opts ...Option) *fake {
	t.Helper()
	f := &fake{t: t, features: features, healthUp: true}
	mux := http.NewServeMux()
	mux.HandleFunc(basePrefix+"/api/v1/", f.serve)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request outside the base path: %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	all := append([]Option{WithAPIKey(testKey), WithUserAgent(testAgent)}, opts...)
	c, err := NewClient(f.srv.URL+basePrefix+"/", all...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	f.c = c
	return f
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.EscapedPath(), basePrefix+"/api/v1")
	if r.Header.Get("Authorization") != "Bearer "+testKey {
		f.t.Errorf("%s %s: Authorization = %q", r.Method, path, r.Header.Get("Authorization"))
	}
	if r.Header.Get("User-Agent") != testAgent {
		f.t.Errorf("%s %s: User-Agent = %q", r.Method, path, r.Header.Get("User-Agent"))
	}
	if path == "/health" {
		f.mu.Lock()
		f.health++
		up := f.healthUp
		feats := f.features
		f.mu.Unlock()
		if !up {
			w.WriteHeader(500)
			_, _ = io.WriteString(w, `{"code":1003,"message":"down"}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "healthy", "version": "1.2.3", "features": feats})
		return
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{Method: r.Method, Path: path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
	var rep reply
	if len(f.replies) > 0 {
		rep = f.replies[0]
		f.replies = f.replies[1:]
	} else {
		rep = reply{status: 599, body: "no scripted reply"}
	}
	f.mu.Unlock()
	if rep.handler != nil {
		rep.handler(w, r)
		return
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	if rep.status == 0 {
		rep.status = 200
	}
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

// script queues replies.
func (f *fake) script(rs ...reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies = append(f.replies, rs...)
}

// ok queues 200 replies with the given bodies.
func (f *fake) ok(bodies ...string) {
	for _, b := range bodies {
		f.script(reply{status: 200, body: b})
	}
}

// requests returns the recorded requests (health excluded).
func (f *fake) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

// only returns the single recorded request, failing otherwise.
func (f *fake) only() recorded {
	f.t.Helper()
	rs := f.requests()
	require.Len(f.t, rs, 1, "requests: %+v", rs)
	return rs[0]
}

func (f *fake) healthCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.health
}

func ctxT(t *testing.T) context.Context { return t.Context() }
