//go:build !windows

package server

import (
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/elevo/workspace-sdk-go/internal/wire"
)

// Browser safety: a web page the user visits must not be able to drive a
// server on the user's machine. Two checks run before routing:
//
//   - Host allow-list (DNS rebinding): the Host header must be an IP
//     literal, a loopback name, the listen host or a name of
//     Config.AllowedHosts ("*" allows every name). A rebound name such as
//     evil.example:8080 is refused.
//   - Cross-origin state-changing requests are refused
//     (http.CrossOriginProtection: Sec-Fetch-Site and Origin), and JSON
//     routes refuse bodies that are not JSON (415), so a cross-origin
//     text/plain form post cannot pass as a request.

// loopbackHosts are always allowed in Host.
var loopbackHosts = []string{"localhost", "localhost.localdomain", "ip6-localhost"}

// allowedHosts returns the names (lower case) allowed in Host besides IP
// literals.
func allowedHosts(cfg Config) []string {
	hosts := slices.Clone(loopbackHosts)
	if h, _, err := net.SplitHostPort(cfg.HTTPAddr); err == nil && h != "" {
		hosts = append(hosts, strings.ToLower(h))
	}
	for _, h := range cfg.AllowedHosts {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// hostAllowed reports whether the Host header hostport may be served.
func (s *Server) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "" || net.ParseIP(host) != nil {
		return true // HTTP/1.0 without Host, or an address: nothing to rebind
	}
	return slices.Contains(s.allowedHosts, host) || slices.Contains(s.allowedHosts, "*")
}

// guardRequest runs the browser-safety checks; it writes the refusal and
// returns false when the request must not be served.
func (s *Server) guardRequest(w http.ResponseWriter, r *http.Request) bool {
	if !s.hostAllowed(r.Host) {
		writeErrorStatus(w, http.StatusForbidden, wire.CodeInvalidRequest, "Host not allowed: "+r.Host+" (see -allowed-hosts)")
		return false
	}
	if err := s.crossOrigin.Check(r); err != nil {
		writeErrorStatus(w, http.StatusForbidden, wire.CodeInvalidRequest, "Cross-origin request refused: "+err.Error())
		return false
	}
	return true
}

// hasBody reports whether r carries a request body.
func hasBody(r *http.Request) bool {
	return r.ContentLength > 0 || (r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody)
}

// Body deadlines. A request body must arrive within BodyTimeout (JSON
// routes) or keep making progress (uploads: at least uploadProgressBytes
// every TransferIdleTimeout); a client trickling bytes is cut off. Once
// the body is read the read deadline is lifted, so a long run, stream or
// download is never cut by it (net/http's background read would
// otherwise cancel the request when the deadline passes).

// uploadProgressBytes is the progress an upload must make within each
// TransferIdleTimeout.
const uploadProgressBytes = 64 << 10

// bodyDeadline bounds the reading of r's body by d from now, lifting the
// deadline once the body ends.
func bodyDeadline(w http.ResponseWriter, r *http.Request, d time.Duration) {
	if d <= 0 || !hasBody(r) {
		return
	}
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(d)) != nil {
		return
	}
	r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
}

// deadlineBody lifts the read deadline when the body ends. (After a
// timeout it stays, so net/http's discarding of the rest of the body fails
// at once and the connection is closed.)
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		b.rc.SetReadDeadline(time.Time{}) //nolint:errcheck // best effort
	}
	return n, err
}

// progressBody is an upload body that must make progress: each
// uploadProgressBytes received push the read deadline idle further.
type progressBody struct {
	r     io.Reader
	rc    *http.ResponseController
	idle  time.Duration
	since int64 // bytes since the deadline was last pushed
}

func newProgressBody(w http.ResponseWriter, r io.Reader, idle time.Duration) io.Reader {
	if idle <= 0 {
		return r
	}
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(idle)) != nil {
		return r
	}
	return &progressBody{r: r, rc: rc, idle: idle}
}

func (b *progressBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.since += int64(n)
	switch {
	case err == io.EOF:
		b.rc.SetReadDeadline(time.Time{}) //nolint:errcheck // best effort
	case b.since >= uploadProgressBytes:
		b.since = 0
		b.rc.SetReadDeadline(time.Now().Add(b.idle)) //nolint:errcheck // best effort
	}
	return n, err
}
