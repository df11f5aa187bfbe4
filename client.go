package workspace

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
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

// WithTimeout sets the client timeout (default DefaultTimeout, 30 s; 0 or
// negative: no bound besides the ctx). It bounds connecting and the wait
// for the server's answer, retries included: the whole call for ordinary
// JSON calls; up to the answer's headers for RunStream, Download and a PTY
// handshake (the body or session is then bounded by ctx alone); connecting
// only for Upload and for Run without a command Timeout (a command's run
// time is its own business); RunCommandOptions.Timeout plus the client
// timeout for Run with one. A fired client timeout is an error that names
// it, "client timeout 30s (WithTimeout)", and matches
// context.DeadlineExceeded and os.ErrDeadlineExceeded.
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
// refreshes the cached feature list the services use. Errors: an *Error
// when the server answers with one (after the retries of a read), a
// wrapped transport error when it cannot be reached, and ctx's error.
func (c *Client) Health(ctx context.Context) (*HealthInfo, error) {
	var out struct {
		Status   string   `json:"status"`
		Version  string   `json:"version"`
		Features []string `json:"features"`
	}
	if err := c.callJSON(ctx, &apiRequest{op: "health", method: http.MethodGet, path: "/health"}, &out); err != nil {
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

// requireFeature fails with an error wrapping ErrUnsupported, naming op,
// when the server does not advertise the named feature.
func (c *Client) requireFeature(ctx context.Context, op, name string) error {
	ok, err := c.hasFeature(ctx, name)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("workspace: %s: server lacks the %q feature: %w", op, name, ErrUnsupported)
	}
	return nil
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

// timeoutScope says how far the client timeout (WithTimeout) reaches into
// a call.
type timeoutScope int

const (
	// wholeCall: from sending to the end of reading the answer's body
	// (JSON calls, whose answers are small).
	wholeCall timeoutScope = iota
	// untilHeaders: connecting and waiting for the answer's headers
	// (streams, downloads, WebSocket handshakes); the body is bounded by
	// ctx alone.
	untilHeaders
	// untilConnected: connecting only (a command's run, an upload), since
	// the answer comes when the work is done.
	untilConnected
)

// apiRequest is one call of the API: what to send, and how the client
// timeout bounds it.
type apiRequest struct {
	op     string // names the call in errors, e.g. "get sandbox"
	method string
	path   string // below /api/v1, escaped
	query  url.Values
	// body is nil (none), an io.Reader sent as raw bytes
	// (application/octet-stream, size bytes or -1 for unknown), or a value
	// sent as JSON.
	body   any
	size   int64
	accept string // default application/json
	header http.Header
	scope  timeoutScope
	// extra lengthens the client timeout of a wholeCall, with its reason
	// (a command's own Timeout).
	extra       time.Duration
	extraReason string
}

// deadlineError is the cause of a call ended by one of the SDK's own
// deadlines; it says which one. It matches context.DeadlineExceeded and
// os.ErrDeadlineExceeded.
type deadlineError struct{ which string }

func (e *deadlineError) Error() string { return "deadline exceeded: " + e.which }

// Is makes the error match context.DeadlineExceeded and
// os.ErrDeadlineExceeded.
func (e *deadlineError) Is(target error) bool {
	return target == context.DeadlineExceeded || target == os.ErrDeadlineExceeded
}

// Timeout reports true, as net.Error timeouts do.
func (e *deadlineError) Timeout() bool { return true }

// bound derives the ctx of one call under the client timeout. stop ends
// the bound (the timer) without cancelling; release cancels the ctx and
// must be called once the call is done.
func (c *Client) bound(ctx context.Context, r *apiRequest) (bctx context.Context, stop func(), release func()) {
	bctx, cancel := context.WithCancelCause(ctx)
	release = func() { cancel(nil) }
	d, which := c.timeout, fmt.Sprintf("client timeout %v (WithTimeout)", c.timeout)
	if d <= 0 {
		return bctx, func() {}, release
	}
	if r.scope == wholeCall && r.extra > 0 {
		d += r.extra
		which = fmt.Sprintf("%s %v + client timeout %v (WithTimeout)", r.extraReason, r.extra, c.timeout)
	}
	t := time.AfterFunc(d, func() { cancel(&deadlineError{which: which}) })
	stop = func() { t.Stop() }
	if r.scope == untilConnected {
		bctx = httptrace.WithClientTrace(bctx, &httptrace.ClientTrace{
			GotConn: func(httptrace.GotConnInfo) { t.Stop() },
		})
	}
	return bctx, stop, func() { t.Stop(); cancel(nil) }
}

// newHTTPRequest builds the request of r with the Client's headers.
func (c *Client) newHTTPRequest(ctx context.Context, r *apiRequest) (*http.Request, error) {
	var (
		rd    io.Reader
		ctype string
		size  int64
	)
	switch b := r.body.(type) {
	case nil:
	case io.Reader:
		rd, ctype, size = b, "application/octet-stream", r.size
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("workspace: %s: encode request: %w", r.op, err)
		}
		rd, ctype, size = bytes.NewReader(buf), "application/json", int64(len(buf))
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.endpointURL(r.path, r.query).String(), rd)
	if err != nil {
		return nil, fmt.Errorf("workspace: %s: %w", r.op, err)
	}
	if rd != nil {
		switch {
		case size == 0:
			req.Body, req.GetBody, req.ContentLength = http.NoBody, nil, 0
		case size > 0:
			req.ContentLength = size
		default:
			req.ContentLength = -1 // chunked
		}
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	accept := r.accept
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	if a := c.authHeader(); a != "" {
		req.Header.Set("Authorization", a)
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	return req, nil
}

// callJSON is the one JSON call: it sends r with open and decodes the
// answer's JSON body into out (nil: the body is discarded).
func (c *Client) callJSON(ctx context.Context, r *apiRequest, out any) error {
	resp, err := c.open(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if cerr := callCtxErr(resp.Request.Context(), err); cerr != err {
			return fmt.Errorf("workspace: %s: %w", r.op, cerr)
		}
		return fmt.Errorf("workspace: %s: decode response: %w", r.op, err)
	}
	return nil
}

// open is the one streaming open: it sends r with the Client's auth and
// headers, under the retry policy (only GET and DELETE are resent) and the
// client timeout (see timeoutScope), classifies a non-2xx answer as an
// *Error with checkResponse, and returns the 2xx response. The caller must
// close its body; the call's ctx lives until then, and
// resp.Request.Context() is that ctx.
func (c *Client) open(ctx context.Context, r *apiRequest) (*http.Response, error) {
	return c.roundTrip(ctx, r, c.hc.Do)
}

// roundTrip is open with the attempt made by do (c.hc.Do, or a WebSocket
// handshake whose successful answer is 101).
func (c *Client) roundTrip(ctx context.Context, r *apiRequest, do func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	if c.closed.Load() {
		return nil, errClosed
	}
	bctx, stop, release := c.bound(ctx, r)
	req, err := c.newHTTPRequest(bctx, r)
	if err != nil {
		release()
		return nil, err
	}
	attempts := c.retry.MaxAttempts
	if !retried(req.Method) || (req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
		attempts = 1
	}
	attempts = max(attempts, 1)
	for attempt := 1; ; attempt++ {
		if attempt > 1 && req.GetBody != nil {
			b, err := req.GetBody()
			if err != nil {
				release()
				return nil, fmt.Errorf("workspace: %s: %w", r.op, err)
			}
			req.Body = b
		}
		resp, err := do(req)
		var retryAfter time.Duration
		switch {
		case err != nil:
			if bctx.Err() != nil {
				release()
				return nil, fmt.Errorf("workspace: %s: %w", r.op, callCtxErr(bctx, err))
			}
			err = fmt.Errorf("workspace: %s: %w", r.op, err)
		case attempt < attempts && retryableStatus(resp.StatusCode):
			retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
			err = c.checkResponse(resp, r.op)
		default:
			if err := c.checkResponse(resp, r.op); err != nil {
				release()
				return nil, err
			}
			if r.scope == untilHeaders {
				stop()
			}
			if resp.Body == nil {
				resp.Body = http.NoBody
			}
			resp.Body = &releaseBody{ReadCloser: resp.Body, release: release}
			return resp, nil
		}
		if attempt >= attempts {
			release()
			return nil, err
		}
		wait := c.retry.backoff(attempt, retryAfter)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			release()
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-bctx.Done():
			t.Stop()
			release()
			return nil, err
		}
	}
}

// callCtxErr returns why ctx ended (the SDK deadline that fired, or ctx's
// own error, with its cause when one was given) together with err's text,
// so that errors.Is works on it; err as is when ctx has not ended.
func callCtxErr(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if cerr == nil {
		return err
	}
	var reason error = cerr
	var de *deadlineError
	if cause := context.Cause(ctx); errors.As(cause, &de) {
		reason = de
	} else if cause != nil && cause != cerr {
		reason = fmt.Errorf("%w: %w", cerr, cause)
	}
	if errors.Is(err, reason) {
		return err
	}
	return fmt.Errorf("%w (%v)", reason, err)
}

// releaseBody releases the call's ctx when the body is closed.
type releaseBody struct {
	io.ReadCloser
	release func()
}

func (b *releaseBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}
