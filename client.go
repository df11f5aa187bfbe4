package workspace

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/elevo/workspace-sdk-go/internal/wire"
)

// Version is the version of this SDK, sent in the default User-Agent.
const Version = "0.1.0"

// DefaultTimeout bounds each non-streaming request unless WithTimeout says
// otherwise.
const DefaultTimeout = 30 * time.Second

// Client talks to a Workspace API server. Create it with NewClient and call
// Close when done. A Client is safe for concurrent use by many goroutines;
// its services share one connection pool.
type Client struct {
	// Workspace manages workspaces and their files.
	Workspace *WorkspaceService
	// Sandbox manages sandboxes.
	Sandbox *SandboxService
	// Process runs commands in sandboxes.
	Process *ProcessService
	// PTY opens interactive terminals in sandboxes.
	PTY *PTYService
	// NFS mounts workspaces and opens userspace NFS sessions.
	NFS *NFSService

	base      *url.URL // scheme, host, and the escaped path prefix (no trailing slash)
	basePath  string   // escaped path prefix + "/api/v1"
	apiKey    string
	timeout   time.Duration
	userAgent string
	retry     RetryPolicy

	hc        *http.Client
	transport *http.Transport // owned transport; nil with WithHTTPClient

	// NFS overrides from WithNFS (read by the NFS service).
	nfsHost string
	nfsPort int

	featSem  chan struct{} // 1-slot semaphore guarding the features fetch
	features atomic.Pointer[map[string]bool]
	closed   atomic.Bool
}

// Option configures a Client in NewClient.
type Option func(*Client)

// WithAPIKey sends key as "Authorization: Bearer <key>" on every request,
// including streams and WebSocket upgrades (default: no key).
func WithAPIKey(key string) Option { return func(c *Client) { c.apiKey = key } }

// WithTimeout bounds each non-streaming call, retries included (default
// DefaultTimeout, 30 s; 0 or negative: no bound besides the ctx). Streams
// and PTY sessions are bounded only by their ctx. ProcessService.Run with a
// Timeout extends the bound by that Timeout.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithHTTPClient makes the Client send its requests through hc instead of a
// client of its own. hc should have no Timeout, or it will cut streams.
// Close does not close hc's connections.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithUserAgent sets the User-Agent header (default
// "workspace-sdk-go/<Version>").
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithNFS overrides the host and port of the workspaces' nfs_url for the NFS
// service (default: as the server says). An empty host or a port <= 0 keeps
// that part of the URL.
func WithNFS(host string, port int) Option {
	return func(c *Client) { c.nfsHost, c.nfsPort = host, port }
}

// WithRetry sets the retry policy of idempotent calls (default
// DefaultRetryPolicy). Use WithRetry(NoRetry) to disable retries.
func WithRetry(p RetryPolicy) Option { return func(c *Client) { c.retry = p } }

// RetryPolicy says how idempotent calls (GET, and the deletes) are retried
// after a connection error or an HTTP 429, 502, 503 or 504. POST and PUT
// calls are never resent. Waits use jittered exponential backoff, or the
// server's Retry-After when it sends one (clamped to MaxRetryAfter), and
// never go past the ctx's deadline.
type RetryPolicy struct {
	// MaxAttempts is the total number of attempts, the first included;
	// 1 or less disables retries.
	MaxAttempts int
	// BaseBackoff is the wait before the first retry; it doubles each time
	// (default 100 ms when zero).
	BaseBackoff time.Duration
	// MaxBackoff caps the backoff (default 2 s when zero).
	MaxBackoff time.Duration
	// MaxRetryAfter caps a server-sent Retry-After (default 10 s when zero).
	MaxRetryAfter time.Duration
}

// DefaultRetryPolicy is the retry policy of a Client without WithRetry:
// 3 attempts, 100 ms base backoff, 2 s max backoff, Retry-After up to 10 s.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 3, BaseBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second, MaxRetryAfter: 10 * time.Second}

// NoRetry disables retries: every call is sent once.
var NoRetry = RetryPolicy{MaxAttempts: 1}

// NewClient returns a Client for the API server at apiURL, such as
// "http://localhost:8080". apiURL may have a trailing slash or a path prefix
// (routes are under <apiURL>/api/v1; a trailing "/api/v1" is accepted too).
// It fails only when apiURL is not an absolute http or https URL.
func NewClient(apiURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(apiURL))
	if err != nil {
		return nil, fmt.Errorf("workspace: invalid API URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("workspace: invalid API URL %q: want http:// or https:// with a host", apiURL)
	}
	prefix := strings.TrimRight(u.EscapedPath(), "/")
	prefix = strings.TrimSuffix(prefix, "/api/v1")
	base := &url.URL{Scheme: u.Scheme, Host: u.Host, User: u.User}
	c := &Client{
		base:      base,
		basePath:  prefix + "/api/v1",
		timeout:   DefaultTimeout,
		userAgent: "workspace-sdk-go/" + Version,
		retry:     DefaultRetryPolicy,
		featSem:   make(chan struct{}, 1),
	}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	if c.hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = 256
		t.MaxIdleConnsPerHost = 64
		t.IdleConnTimeout = 90 * time.Second
		c.transport = t
		c.hc = &http.Client{Transport: t}
	}
	c.Workspace = &WorkspaceService{c: c}
	c.Sandbox = &SandboxService{c: c}
	c.Process = &ProcessService{c: c}
	c.PTY = &PTYService{c: c}
	c.NFS = &NFSService{c: c}
	return c, nil
}

// Environment variables read by NewClientFromEnv.
const (
	// EnvAPIURL names the variable holding the API URL (default
	// DefaultAPIURL).
	EnvAPIURL = "WORKSPACE_API_URL"
	// EnvAPIKey names the variable holding the API key (default: none).
	EnvAPIKey = "WORKSPACE_API_KEY"
	// EnvTimeout names the variable holding the client timeout as a Go
	// duration such as "45s" (default DefaultTimeout).
	EnvTimeout = "WORKSPACE_TIMEOUT"
)

// DefaultAPIURL is the API URL of NewClientFromEnv when WORKSPACE_API_URL
// is unset or empty.
const DefaultAPIURL = "http://localhost:8080"

// NewClientFromEnv returns a Client configured from the environment:
// WORKSPACE_API_URL (default "http://localhost:8080"), WORKSPACE_API_KEY
// (sent as with WithAPIKey when set) and WORKSPACE_TIMEOUT (a Go duration,
// as with WithTimeout). Options given override the environment. It fails
// when the URL is invalid (as NewClient) or WORKSPACE_TIMEOUT is not a
// duration.
func NewClientFromEnv(opts ...Option) (*Client, error) {
	apiURL := strings.TrimSpace(os.Getenv(EnvAPIURL))
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	var envOpts []Option
	if key := os.Getenv(EnvAPIKey); key != "" {
		envOpts = append(envOpts, WithAPIKey(key))
	}
	if v := strings.TrimSpace(os.Getenv(EnvTimeout)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("workspace: %s: %w", EnvTimeout, err)
		}
		envOpts = append(envOpts, WithTimeout(d))
	}
	return NewClient(apiURL, append(envOpts, opts...)...)
}

// Feature names a server advertises in HealthInfo.Features. The SDK uses an
// extension only when the server lists it; see HealthInfo.Has.
const (
	// FeatureBinary: file content and process I/O may be base64 (any bytes).
	FeatureBinary = wire.FeatureBinary
	// FeatureFilesRaw: files move as raw bytes (Upload, Download, ReadFile,
	// WriteFile stream them).
	FeatureFilesRaw = wire.FeatureFilesRaw
	// FeatureProcessStream: RunStream gets output as it is produced.
	FeatureProcessStream = wire.FeatureProcessStream
	// FeatureProcessStdin: RunCommandOptions.Stdin is accepted.
	FeatureProcessStdin = wire.FeatureProcessStdin
	// FeaturePTY: PTY sessions carry terminal output (Connect, Attach, List).
	FeaturePTY = wire.FeaturePTY
	// FeatureAuth: the server checks API keys.
	FeatureAuth = wire.FeatureAuth
	// FeatureProcessDetach: processes can outlive a request.
	FeatureProcessDetach = wire.FeatureProcessDetach
	// FeaturePorts: TCP ports inside sandboxes can be reached.
	FeaturePorts = wire.FeaturePorts
	// FeatureFilesWatch: changes under a path can be watched.
	FeatureFilesWatch = wire.FeatureFilesWatch
	// FeatureFilesArchive: directories move as tar streams.
	FeatureFilesArchive = wire.FeatureFilesArchive
)

// errClosed is returned by calls on a closed Client.
var errClosed = fmt.Errorf("workspace: client is closed: %w", net.ErrClosed)

// Close closes the Client's idle connections. Calls made after Close fail
// with an error matching net.ErrClosed. Close is idempotent and always
// returns nil; it does not end streams or PTY sessions, whose ctx bounds
// them.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	if c.transport != nil {
		c.transport.CloseIdleConnections()
	}
	return nil
}

// Health asks the server for its status, version and features, and
// refreshes the cached feature list the services use.
func (c *Client) Health(ctx context.Context) (*HealthInfo, error) {
	req, err := c.newRequest(ctx, http.MethodGet, "/health", nil, nil)
	if err != nil {
		return nil, err
	}
	var out struct {
		Status   string   `json:"status"`
		Version  string   `json:"version"`
		Features []string `json:"features"`
	}
	if err := c.do(req, "health", &out); err != nil {
		return nil, err
	}
	m := make(map[string]bool, len(out.Features))
	for _, f := range out.Features {
		m[f] = true
	}
	c.features.Store(&m)
	return &HealthInfo{Status: out.Status, Version: out.Version, Features: out.Features}, nil
}

// hasFeature reports whether the server advertises the named feature. The
// feature list is fetched from /health once and cached; a failed fetch is
// retried by the next call.
func (c *Client) hasFeature(ctx context.Context, name string) (bool, error) {
	if m := c.features.Load(); m != nil {
		return (*m)[name], nil
	}
	select {
	case c.featSem <- struct{}{}:
	case <-ctx.Done():
		return false, fmt.Errorf("workspace: health: %w", ctx.Err())
	}
	defer func() { <-c.featSem }()
	if m := c.features.Load(); m != nil {
		return (*m)[name], nil
	}
	if _, err := c.Health(ctx); err != nil {
		return false, err
	}
	return (*c.features.Load())[name], nil
}

// authHeader returns the Authorization header value, or "" without a key.
func (c *Client) authHeader() string {
	if c.apiKey == "" {
		return ""
	}
	return "Bearer " + c.apiKey
}

// endpointURL returns the absolute URL of path (relative to /api/v1, already
// escaped, such as "/sandboxes/"+url.PathEscape(id)) with query.
func (c *Client) endpointURL(path string, query url.Values) *url.URL {
	u := *c.base
	raw := c.basePath + path
	if p, err := url.PathUnescape(raw); err == nil {
		u.Path = p
		if p != raw {
			u.RawPath = raw
		}
	} else {
		u.Path = raw
	}
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	return &u
}

// newRequest builds a request for path (relative to /api/v1) with the
// Client's headers. A nil body sends none; an io.Reader is sent as is with
// Content-Type application/octet-stream; anything else is sent as JSON.
func (c *Client) newRequest(ctx context.Context, method, path string, query url.Values, body any) (*http.Request, error) {
	if c.closed.Load() {
		return nil, errClosed
	}
	var (
		rd    io.Reader
		ctype string
	)
	switch b := body.(type) {
	case nil:
	case io.Reader:
		rd, ctype = b, "application/octet-stream"
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("workspace: encode request: %w", err)
		}
		rd, ctype = bytes.NewReader(buf), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpointURL(path, query).String(), rd)
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	if a := c.authHeader(); a != "" {
		req.Header.Set("Authorization", a)
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	return req, nil
}

// do sends req with send and the Client's timeout, and decodes the JSON
// body into out (nil: discard).
func (c *Client) do(req *http.Request, op string, out any) error {
	return c.doTimeout(req, op, out, c.timeout)
}

// doTimeout is do with an explicit per-call bound (<= 0: none).
func (c *Client) doTimeout(req *http.Request, op string, out any, timeout time.Duration) error {
	resp, err := c.send(req, op, timeout)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if cerr := req.Context().Err(); cerr != nil {
			return fmt.Errorf("workspace: %s: %w", op, cerr)
		}
		return fmt.Errorf("workspace: %s: decode response: %w", op, err)
	}
	return nil
}

// send sends req, retrying idempotent requests (GET, HEAD, DELETE) per the
// retry policy, and returns a 2xx response whose body the caller must
// close; any other status is classified by checkResponse. timeout > 0
// bounds the whole call including reading the body (the bound ends when the
// body is closed).
func (c *Client) send(req *http.Request, op string, timeout time.Duration) (*http.Response, error) {
	ctx := req.Context()
	cancel := context.CancelFunc(func() {})
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
		req = req.WithContext(ctx)
	}
	attempts := c.retry.MaxAttempts
	if !isIdempotent(req.Method) || (req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
		attempts = 1
	}
	if attempts < 1 {
		attempts = 1
	}
	for attempt := 1; ; attempt++ {
		if attempt > 1 && req.GetBody != nil {
			b, err := req.GetBody()
			if err != nil {
				cancel()
				return nil, fmt.Errorf("workspace: %s: %w", op, err)
			}
			req.Body = b
		}
		resp, err := c.hc.Do(req)
		var retryAfter time.Duration
		if err != nil {
			if ctx.Err() != nil {
				cancel()
				return nil, fmt.Errorf("workspace: %s: %w", op, ctxErr(ctx, err))
			}
			err = fmt.Errorf("workspace: %s: %w", op, err)
		} else if attempt < attempts && retryableStatus(resp.StatusCode) {
			retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
			err = c.checkResponse(resp, op)
		} else {
			if err := c.checkResponse(resp, op); err != nil {
				cancel()
				return nil, err
			}
			resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
			return resp, nil
		}
		if attempt >= attempts {
			cancel()
			return nil, err
		}
		wait := c.retry.backoff(attempt, retryAfter)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			cancel()
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			cancel()
			return nil, err
		}
	}
}

// ctxErr prefers the ctx's error (context.Canceled or DeadlineExceeded) so
// that errors.Is works on it, keeping the transport error otherwise.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// cancelBody releases the per-call timeout when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

func isIdempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// backoff returns the wait before retry number attempt (1-based): the
// clamped Retry-After when the server sent one, else jittered exponential
// backoff (uniform in [d/2, d]).
func (p RetryPolicy) backoff(attempt int, retryAfter time.Duration) time.Duration {
	base, maxB, maxRA := p.BaseBackoff, p.MaxBackoff, p.MaxRetryAfter
	if base <= 0 {
		base = 100 * time.Millisecond
	}
	if maxB <= 0 {
		maxB = 2 * time.Second
	}
	if maxRA <= 0 {
		maxRA = 10 * time.Second
	}
	if retryAfter > 0 {
		return min(retryAfter, maxRA)
	}
	d := base
	for i := 1; i < attempt && d < maxB; i++ {
		d *= 2
	}
	d = min(d, maxB)
	half := d / 2
	return half + rand.N(d-half+1)
}

// parseRetryAfter parses a Retry-After value in seconds or as an HTTP date;
// 0 when absent or invalid.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > 1<<31 {
			n = 1 << 31
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// call builds a request with newRequest and sends it with do.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body any, op string, out any) error {
	req, err := c.newRequest(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	return c.do(req, op, out)
}
