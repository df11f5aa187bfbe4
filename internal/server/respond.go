//go:build !windows

package server

import (
	"bufio"
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/elevo/workspace-sdk-go/internal/wire"
)

// errorBody is the JSON error envelope.
type errorBody struct {
	Code    wire.Code `json:"code"`
	Message string    `json:"message"`
	Details string    `json:"details,omitempty"`
}

// writeJSON writes v as a JSON response with the given status, encoded
// straight to the connection (net/http adds a Content-Length to small
// answers and chunks large ones), so no response is held in full.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v) //nolint:errcheck // the client went away; values are always encodable
}

// writeError writes the JSON error envelope {code, message} with the HTTP
// status of code in the wire table.
func writeError(w http.ResponseWriter, code wire.Code, msg string) {
	writeErrorStatus(w, wire.Status(code), code, msg)
}

// writeErrorStatus writes the JSON error envelope {code, message} with an
// HTTP status other than the wire table's (a few answers keep upstream's).
func writeErrorStatus(w http.ResponseWriter, status int, code wire.Code, msg string) {
	writeJSON(w, status, &errorBody{Code: code, Message: msg})
}

// writeErrorDetails writes the JSON error envelope with details, with the
// HTTP status of code in the wire table.
func writeErrorDetails(w http.ResponseWriter, code wire.Code, msg, details string) {
	writeErrorDetailsStatus(w, wire.Status(code), code, msg, details)
}

// writeErrorDetailsStatus is writeErrorDetails with an explicit HTTP status.
func writeErrorDetailsStatus(w http.ResponseWriter, status int, code wire.Code, msg, details string) {
	writeJSON(w, status, &errorBody{Code: code, Message: msg, Details: details})
}

// writePlain writes a plain-text error as upstream's framework does.
func writePlain(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(msg)))
	w.WriteHeader(status)
	io.WriteString(w, msg) //nolint:errcheck // the client went away
}

// decodeJSON reads the request body into v. It returns false after
// writing the error: in full mode the JSON envelope (400/1001 malformed,
// 400/1002 wrong shape, 413/1001 too large); in base mode upstream's plain
// text (415 without a JSON content type, 400 malformed, 422 wrong shape,
// 413 too large). In full mode an empty body counts as {}.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); !isJSONContentType(ct) {
		if s.cfg.BaseMode {
			writePlain(w, http.StatusUnsupportedMediaType, "Expected request with `Content-Type: application/json`")
			return false
		}
		// A body without a type is taken as JSON (curl, old clients); a
		// body of another type is refused: a browser form or text/plain
		// post must not pass as a JSON request.
		if ct != "" && hasBody(r) {
			writeErrorStatus(w, http.StatusUnsupportedMediaType, wire.CodeInvalidRequest, "Unsupported Content-Type "+ct+": this route takes application/json")
			return false
		}
	}
	limit := s.bodyLimit
	if r.ContentLength > limit {
		s.tooLarge(w)
		return false
	}
	var data []byte
	var err error
	if r.ContentLength > 0 {
		data = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, data)
	} else {
		data, err = io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.tooLarge(w)
			return false
		}
		s.badRequest(w, wire.CodeInvalidRequest, "failed to read request body: "+err.Error())
		return false
	}
	if len(bytes.TrimSpace(data)) == 0 && !s.cfg.BaseMode {
		return true
	}
	if err := json.Unmarshal(data, v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			s.wrongShape(w, err.Error())
			return false
		}
		if s.cfg.BaseMode {
			writePlain(w, http.StatusBadRequest, "Failed to parse the request body as JSON: "+err.Error())
		} else {
			writeErrorDetails(w, wire.CodeInvalidRequest, "Invalid JSON body", err.Error())
		}
		return false
	}
	return true
}

// runningSandboxJSON is the preamble of a sandbox route with a JSON body:
// runningSandbox, then decodeJSON into req; each writes its own error.
func (s *Server) runningSandboxJSON(w http.ResponseWriter, r *http.Request, req any) (*sandboxEntry, SandboxRuntime, bool) {
	e, rt, ok := s.runningSandbox(w, r)
	if !ok || !s.decodeJSON(w, r, req) {
		return nil, nil, false
	}
	return e, rt, true
}

func isJSONContentType(ct string) bool {
	ct = strings.ToLower(strings.TrimSpace(ct))
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	return ct == "application/json" || (strings.HasPrefix(ct, "application/") && strings.HasSuffix(ct, "+json"))
}

func (s *Server) tooLarge(w http.ResponseWriter) {
	if s.cfg.BaseMode {
		writePlain(w, http.StatusRequestEntityTooLarge, "Failed to buffer the request body: length limit exceeded")
		return
	}
	writeError(w, wire.CodeRequestTooLarge, fmt.Sprintf("request body larger than %d bytes", s.bodyLimit))
}

// wrongShape answers a body whose JSON has the wrong shape: 400/1002 in
// full mode, upstream's plain-text 422 in base mode.
func (s *Server) wrongShape(w http.ResponseWriter, msg string) {
	if s.cfg.BaseMode {
		writePlain(w, http.StatusUnprocessableEntity, "Failed to deserialize the JSON body into the target type: "+msg)
		return
	}
	writeError(w, wire.CodeInvalidParameter, msg)
}

// missingField answers a body that lacks a required field.
func (s *Server) missingField(w http.ResponseWriter, name string) {
	s.wrongShape(w, "missing field `"+name+"`")
}

// badQuery answers a malformed query string: 400/1002 in full mode,
// upstream's plain-text 400 in base mode.
func (s *Server) badQuery(w http.ResponseWriter, msg string) {
	if s.cfg.BaseMode {
		writePlain(w, http.StatusBadRequest, "Failed to deserialize query string: "+msg)
		return
	}
	writeError(w, wire.CodeInvalidParameter, msg)
}

func (s *Server) badRequest(w http.ResponseWriter, code wire.Code, msg string) {
	writeErrorStatus(w, http.StatusBadRequest, code, msg)
}

// ServeHTTP checks auth, then routes. Unknown routes (404) and wrong
// methods (405) get the JSON envelope in full mode.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.guardRequest(w, r) {
		return
	}
	if !isRawUpload(r) {
		bodyDeadline(w, r, s.cfg.BodyTimeout)
	}
	if s.apiKey != nil && r.URL.Path != "/api/v1/health" && !s.authorized(r) && !s.previewAuthorized(r) {
		writeError(w, wire.CodeUnauthorized, "Unauthorized")
		return
	}
	if h, pattern := s.mux.Handler(r); pattern == "" {
		s.serveUnmatched(w, r, h)
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(h[len(prefix):])), s.apiKey) == 1
}

// serveUnmatched runs the mux's own 404/405/redirect handler h; in full
// mode a 404 or 405 is rewritten to the JSON envelope (keeping Allow).
func (s *Server) serveUnmatched(w http.ResponseWriter, r *http.Request, h http.Handler) {
	if s.cfg.BaseMode {
		h.ServeHTTP(w, r)
		return
	}
	cw := &captureWriter{h: http.Header{}}
	h.ServeHTTP(cw, r)
	switch cw.status {
	case http.StatusNotFound:
		writeErrorStatus(w, http.StatusNotFound, wire.CodeInvalidRequest, "Not found: "+r.Method+" "+r.URL.Path)
	case http.StatusMethodNotAllowed:
		if a := cw.h.Get("Allow"); a != "" {
			w.Header().Set("Allow", a)
		}
		writeErrorStatus(w, http.StatusMethodNotAllowed, wire.CodeInvalidRequest, "Method not allowed: "+r.Method+" "+r.URL.Path)
	default:
		for k, v := range cw.h {
			w.Header()[k] = v
		}
		if cw.status == 0 {
			cw.status = http.StatusOK
		}
		w.WriteHeader(cw.status)
		w.Write(cw.body.Bytes()) //nolint:errcheck // the client went away
	}
}

type captureWriter struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (c *captureWriter) Header() http.Header { return c.h }
func (c *captureWriter) WriteHeader(s int) {
	if c.status == 0 {
		c.status = s
	}
}
func (c *captureWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(p)
}

// writeJSONList writes {"<key>": [items...], "total": len(items)} with
// status 200, encoding one item at a time, so a long list is never held
// encoded in full.
func writeJSONList[T any](w http.ResponseWriter, key string, items []T) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	bw.WriteString(`{"` + key + `":[`)
	for i, it := range items {
		if i > 0 {
			bw.WriteByte(',')
		}
		if err := enc.Encode(it); err != nil {
			return
		}
	}
	bw.WriteString(`],"total":` + strconv.Itoa(len(items)) + "}\n")
	bw.Flush() //nolint:errcheck // the client went away
}
