//go:build !windows

package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/elevo/workspace-sdk-go/internal/netsplice"

	"github.com/elevo/workspace-sdk-go/internal/sandbox"
	"github.com/elevo/workspace-sdk-go/internal/wire"
)

// The ports feature (PROTOCOL.md Part 3): a TCP port inside a sandbox,
// reached through a connection its agent dials in the sandbox's network
// namespace (SandboxRuntime values that implement portDialer), spliced
// to a WebSocket (ports/{port}/connect) or behind a reverse proxy
// (ports/{port}/http/...). With auth on, ports/{port}/url hands out a
// preview URL whose token opens that sandbox's port, and nothing else,
// without the API key.

// portDialer is a sandbox runtime that can connect to a TCP port inside
// its sandbox (the bubblewrap runtime's *sandbox.Sandbox is one).
type portDialer interface {
	// DialPort connects to 127.0.0.1:port inside the sandbox; an error
	// matching sandbox.ErrPortNotReachable when nothing listens.
	DialPort(ctx context.Context, port int) (net.Conn, error)
}

// Names of the preview token in the query of a preview URL and in the
// cookie the proxy sets, scoped to the port's path, once the token was
// accepted (so the page's own links and scripts work).
const (
	previewTokenParam  = "preview_token"
	previewTokenCookie = "workspace_preview_token"
)

// portTarget resolves {id} and {port} of a ports request to a live
// sandbox that can dial, writing the error (404/2001, 400/2004, 400/1002,
// 501/1004) itself.
func (s *Server) portTarget(w http.ResponseWriter, r *http.Request) (portDialer, int, bool) {
	_, rt, ok := s.runningSandbox(w, r)
	if !ok {
		return nil, 0, false
	}
	port, err := strconv.Atoi(r.PathValue("port"))
	if err != nil || port < 1 || port > 65535 {
		s.badRequest(w, wire.CodeInvalidParameter, "Invalid port: "+r.PathValue("port"))
		return nil, 0, false
	}
	d, ok := rt.(portDialer)
	if !ok {
		writeError(w, wire.CodeNotImplemented, "This sandbox runtime cannot reach ports")
		return nil, 0, false
	}
	return d, port, true
}

// writeDialError writes the answer to a failed DialPort: 502/8001 when
// nothing listens, 400/2004 when the sandbox ended.
func writeDialError(w http.ResponseWriter, err error, port int) {
	switch {
	case errors.Is(err, sandbox.ErrPortNotReachable):
		writeError(w, wire.CodePortNotReachable, "Nothing listening on port "+strconv.Itoa(port)+" in the sandbox")
	case errors.Is(err, errSandboxNotRunning):
		writeError(w, wire.CodeInvalidSandboxState, "Sandbox is not running")
	default:
		writeErrorDetails(w, wire.CodePortNotReachable, "Cannot reach port "+strconv.Itoa(port)+" in the sandbox", err.Error())
	}
}

// handlePortConnect splices a WebSocket to a TCP connection to the port:
// binary messages carry the byte stream, either side closing closes the
// other. Nothing listening is 502/8001 before the upgrade.
func (s *Server) handlePortConnect(w http.ResponseWriter, r *http.Request) {
	d, port, ok := s.portTarget(w, r)
	if !ok {
		return
	}
	tcp, err := d.DialPort(r.Context(), port)
	if err != nil {
		writeDialError(w, err, port)
		return
	}
	defer tcp.Close()
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return // Accept answered the client
	}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	ws := netsplice.WebSocket(ctx, conn)
	netsplice.Splice(ws, tcp)
}

// handlePortHTTP proxies any request under ports/{port}/http/ to
// http://127.0.0.1:{port}/{path} inside the sandbox, WebSocket upgrades
// included. The API key and the preview token are not passed on.
func (s *Server) handlePortHTTP(w http.ResponseWriter, r *http.Request) {
	d, port, ok := s.portTarget(w, r)
	if !ok {
		return
	}
	prefix := portHTTPPrefix(r.PathValue("id"), r.PathValue("port"))
	if tok := r.URL.Query().Get(previewTokenParam); tok != "" && s.apiKey != nil {
		// Accepted by previewAuthorized: keep it in a cookie for the
		// page's own requests.
		http.SetCookie(w, &http.Cookie{
			Name: previewTokenCookie, Value: tok, Path: prefix + "/",
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil,
		})
	}
	host := "127.0.0.1:" + strconv.Itoa(port)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialPort(ctx, port)
		},
		DisableCompression:  true,
		MaxIdleConnsPerHost: 1,
	}
	defer tr.CloseIdleConnections()
	proxy := &httputil.ReverseProxy{
		Transport: tr,
		Rewrite: func(pr *httputil.ProxyRequest) {
			out := pr.Out
			out.URL.Scheme, out.URL.Host, out.Host = "http", host, host
			out.URL.Path = strings.TrimPrefix(pr.In.URL.Path, prefix)
			out.URL.RawPath = ""
			if raw := strings.TrimPrefix(pr.In.URL.EscapedPath(), prefix); raw != out.URL.Path {
				out.URL.RawPath = raw
			}
			if out.URL.Path == "" {
				out.URL.Path, out.URL.RawPath = "/", ""
			}
			if s.apiKey != nil {
				out.Header.Del("Authorization")
				dropPreviewCookie(out)
				if q := out.URL.Query(); q.Has(previewTokenParam) {
					q.Del(previewTokenParam)
					out.URL.RawQuery = q.Encode()
				}
			}
			pr.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the client went away
			}
			writeDialError(w, err, port)
		},
	}
	proxy.ServeHTTP(w, r)
}

// dropPreviewCookie removes the preview token cookie from r.
func dropPreviewCookie(r *http.Request) {
	cookies := r.Cookies()
	r.Header.Del("Cookie")
	for _, c := range cookies {
		if c.Name != previewTokenCookie {
			r.AddCookie(c)
		}
	}
}

// portHTTPPrefix is the path under which the proxy of sandbox id's port
// answers (without the final "/").
func portHTTPPrefix(id, port string) string {
	return apiPrefix + "/sandboxes/" + id + "/ports/" + port + "/http"
}

type portURLResponse struct {
	URL string `json:"url"`
}

// handlePortURL answers the absolute preview URL of the port, carrying a
// preview token when auth is on.
func (s *Server) handlePortURL(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := s.portTarget(w, r); !ok {
		return
	}
	id, port := r.PathValue("id"), r.PathValue("port")
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: r.Host, Path: portHTTPPrefix(id, port) + "/"}
	if s.apiKey != nil {
		u.RawQuery = url.Values{previewTokenParam: {s.previewToken(id, port)}}.Encode()
	}
	writeJSON(w, http.StatusOK, portURLResponse{URL: u.String()})
}

// previewToken is the token that opens the proxy of sandbox id's port:
// an HMAC of the sandbox id and port under a key derived from the API
// key, so it is valid for that sandbox and port only, and only as long as
// the sandbox runs (the proxy needs a running sandbox; ids never repeat).
func (s *Server) previewToken(id, port string) string {
	k := hmac.New(sha256.New, s.apiKey)
	k.Write([]byte("workspace preview token key v1"))
	m := hmac.New(sha256.New, k.Sum(nil))
	m.Write([]byte(id + "\x00" + port))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// previewAuthorized reports whether r is a request to a port proxy that
// carries that sandbox and port's preview token (in the query or the
// cookie the proxy set). ServeHTTP accepts it instead of the API key on
// that path only.
func (s *Server) previewAuthorized(r *http.Request) bool {
	if p := r.URL.Path; path.Clean(p) != strings.TrimSuffix(p, "/") {
		return false // dot segments: the mux would redirect elsewhere
	}
	rest, ok := strings.CutPrefix(r.URL.Path, apiPrefix+"/sandboxes/")
	if !ok {
		return false
	}
	id, rest, ok := strings.Cut(rest, "/")
	if !ok || id == "" {
		return false
	}
	rest, ok = strings.CutPrefix(rest, "ports/")
	if !ok {
		return false
	}
	port, rest, ok := strings.Cut(rest, "/")
	if !ok || port == "" || (rest != "http" && !strings.HasPrefix(rest, "http/")) {
		return false
	}
	tok := r.URL.Query().Get(previewTokenParam)
	if tok == "" {
		if c, err := r.Cookie(previewTokenCookie); err == nil {
			tok = c.Value
		}
	}
	if tok == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(tok), []byte(s.previewToken(id, port))) == 1
}
