package workspace

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/elevo/workspace-sdk-go/internal/wire"
)

// ErrorCode is a numeric error code of the Workspace API, such as 2001 for
// "sandbox not found". Code 0 means the server sent no code (a plain-text
// error).
type ErrorCode int

// The error codes of the Workspace API. Their names, texts and HTTP
// statuses come from the protocol's one code table (internal/wire), which a
// test checks these constants against.
const (
	CodeInvalidRequest              ErrorCode = 1001
	CodeInvalidParameter            ErrorCode = 1002
	CodeInternal                    ErrorCode = 1003
	CodeNotImplemented              ErrorCode = 1004
	CodeUnauthorized                ErrorCode = 1005
	CodeRequestTooLarge             ErrorCode = 1006
	CodeSandboxNotFound             ErrorCode = 2001
	CodeSandboxAlreadyExists        ErrorCode = 2002
	CodeTemplateNotFound            ErrorCode = 2003
	CodeInvalidSandboxState         ErrorCode = 2004
	CodeSandboxLimitExceeded        ErrorCode = 2005
	CodeFileNotFound                ErrorCode = 3001
	CodeFileAlreadyExists           ErrorCode = 3002
	CodePermissionDenied            ErrorCode = 3003
	CodeInvalidPath                 ErrorCode = 3004
	CodeNotADirectory               ErrorCode = 3005
	CodeDirectoryNotEmpty           ErrorCode = 3006
	CodeProcessNotFound             ErrorCode = 4001
	CodeProcessTimeout              ErrorCode = 4002
	CodeProcessExecutionFailed      ErrorCode = 4003
	CodePTYNotFound                 ErrorCode = 4101
	CodePTYLimitExceeded            ErrorCode = 4102
	CodePTYAlreadyClosed            ErrorCode = 4103
	CodeAgentNotConnected           ErrorCode = 5001
	CodeAgentConnectionTimeout      ErrorCode = 5002
	CodeAgentCommunicationError     ErrorCode = 5003
	CodeDatabaseError               ErrorCode = 6001
	CodeDockerError                 ErrorCode = 6002
	CodeNFSError                    ErrorCode = 6003
	CodeWorkspaceNotFound           ErrorCode = 7001
	CodeWorkspaceHasActiveSandboxes ErrorCode = 7002
	CodePathNotAllowed              ErrorCode = 7003
	CodePortNotReachable            ErrorCode = 8001
)

// codeInfo returns the row of wire.Codes for c.
func codeInfo(c ErrorCode) (wire.CodeInfo, bool) { return wire.Lookup(wire.Code(c)) }

// String returns the code's name, such as "SandboxNotFound", or its number
// when the code is unknown.
func (c ErrorCode) String() string {
	if ci, ok := codeInfo(c); ok {
		return ci.Name
	}
	return strconv.Itoa(int(c))
}

// Status returns the HTTP status the server sends with the code, or 0 for an
// unknown code.
func (c ErrorCode) Status() int {
	if ci, ok := codeInfo(c); ok {
		return ci.Status
	}
	return 0
}

// codeSentinel is the value behind the per-code sentinel errors; its text
// and HTTP status come from the protocol's code table (internal/wire).
type codeSentinel struct{ code ErrorCode }

// sentinelFor returns the sentinel error of code c.
func sentinelFor(c ErrorCode) error { return &codeSentinel{code: c} }

func (s *codeSentinel) Error() string {
	text := "error"
	if ci, ok := codeInfo(s.code); ok {
		text = ci.Text
	}
	return fmt.Sprintf("workspace: %s (code %d)", text, int(s.code))
}

// Is lets a code sentinel whose code is sent with HTTP 404 match
// ErrNotFound, and ErrNotImplemented match ErrUnsupported.
func (s *codeSentinel) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return s.code.Status() == http.StatusNotFound
	case ErrUnsupported:
		return s.code == CodeNotImplemented
	}
	return false
}

// plainSentinel is the type of the broad sentinel errors.
type plainSentinel struct {
	text string
	also error
}

func (s *plainSentinel) Error() string { return "workspace: " + s.text }

// Unwrap returns the standard library error the sentinel also matches, if any.
func (s *plainSentinel) Unwrap() error { return s.also }

// Sentinel errors, one for every error code of the API. Test for them with
// errors.Is: an *Error with the matching Code matches its sentinel. Each
// sentinel's text is the code's text, such as "workspace: sandbox not found
// (code 2001)"; those of codes sent with HTTP 404 also match ErrNotFound.
var (
	// ErrInvalidRequest matches errors with code 1001 (HTTP 400).
	ErrInvalidRequest error = sentinelFor(CodeInvalidRequest)
	// ErrInvalidParameter matches errors with code 1002 (HTTP 400).
	ErrInvalidParameter error = sentinelFor(CodeInvalidParameter)
	// ErrInternal matches errors with code 1003 (HTTP 500).
	ErrInternal error = sentinelFor(CodeInternal)
	// ErrNotImplemented matches errors with code 1004 (HTTP 501); it also
	// matches ErrUnsupported.
	ErrNotImplemented error = sentinelFor(CodeNotImplemented)
	// ErrRequestTooLarge matches errors with code 1006 (HTTP 413): a body
	// over the route's limit, or a JSON file read over the JSON read limit
	// (use ReadFile on a server with files.raw, or Download).
	ErrRequestTooLarge error = sentinelFor(CodeRequestTooLarge)
	// ErrSandboxNotFound matches errors with code 2001 (HTTP 404).
	ErrSandboxNotFound error = sentinelFor(CodeSandboxNotFound)
	// ErrSandboxAlreadyExists matches errors with code 2002 (HTTP 409).
	ErrSandboxAlreadyExists error = sentinelFor(CodeSandboxAlreadyExists)
	// ErrTemplateNotFound matches errors with code 2003 (HTTP 404).
	ErrTemplateNotFound error = sentinelFor(CodeTemplateNotFound)
	// ErrInvalidSandboxState matches errors with code 2004 (HTTP 400).
	ErrInvalidSandboxState error = sentinelFor(CodeInvalidSandboxState)
	// ErrSandboxLimitExceeded matches errors with code 2005 (HTTP 429).
	ErrSandboxLimitExceeded error = sentinelFor(CodeSandboxLimitExceeded)
	// ErrFileNotFound matches errors with code 3001 (HTTP 404).
	ErrFileNotFound error = sentinelFor(CodeFileNotFound)
	// ErrFileAlreadyExists matches errors with code 3002 (HTTP 409).
	ErrFileAlreadyExists error = sentinelFor(CodeFileAlreadyExists)
	// ErrPermissionDenied matches errors with code 3003 (HTTP 403).
	ErrPermissionDenied error = sentinelFor(CodePermissionDenied)
	// ErrInvalidPath matches errors with code 3004 (HTTP 400).
	ErrInvalidPath error = sentinelFor(CodeInvalidPath)
	// ErrNotADirectory matches errors with code 3005 (HTTP 400); its text
	// is "not a directory".
	ErrNotADirectory error = sentinelFor(CodeNotADirectory)
	// ErrDirectoryNotEmpty matches errors with code 3006 (HTTP 400).
	ErrDirectoryNotEmpty error = sentinelFor(CodeDirectoryNotEmpty)
	// ErrProcessNotFound matches errors with code 4001 (HTTP 404).
	ErrProcessNotFound error = sentinelFor(CodeProcessNotFound)
	// ErrProcessTimeout matches errors with code 4002 (HTTP 504).
	ErrProcessTimeout error = sentinelFor(CodeProcessTimeout)
	// ErrProcessExecutionFailed matches errors with code 4003 (HTTP 500).
	ErrProcessExecutionFailed error = sentinelFor(CodeProcessExecutionFailed)
	// ErrPTYNotFound matches errors with code 4101 (HTTP 404).
	ErrPTYNotFound error = sentinelFor(CodePTYNotFound)
	// ErrPTYLimitExceeded matches errors with code 4102 (HTTP 429).
	ErrPTYLimitExceeded error = sentinelFor(CodePTYLimitExceeded)
	// ErrPTYAlreadyClosed matches errors with code 4103 (HTTP 400).
	ErrPTYAlreadyClosed error = sentinelFor(CodePTYAlreadyClosed)
	// ErrAgentNotConnected matches errors with code 5001 (HTTP 503).
	ErrAgentNotConnected error = sentinelFor(CodeAgentNotConnected)
	// ErrAgentConnectionTimeout matches errors with code 5002 (HTTP 504).
	ErrAgentConnectionTimeout error = sentinelFor(CodeAgentConnectionTimeout)
	// ErrAgentCommunicationError matches errors with code 5003 (HTTP 502).
	ErrAgentCommunicationError error = sentinelFor(CodeAgentCommunicationError)
	// ErrDatabaseError matches errors with code 6001 (HTTP 500).
	ErrDatabaseError error = sentinelFor(CodeDatabaseError)
	// ErrDockerError matches errors with code 6002 (HTTP 500).
	ErrDockerError error = sentinelFor(CodeDockerError)
	// ErrNFSError matches errors with code 6003 (HTTP 500).
	ErrNFSError error = sentinelFor(CodeNFSError)
	// ErrWorkspaceNotFound matches errors with code 7001 (HTTP 404).
	ErrWorkspaceNotFound error = sentinelFor(CodeWorkspaceNotFound)
	// ErrWorkspaceHasActiveSandboxes matches errors with code 7002 (HTTP 409).
	ErrWorkspaceHasActiveSandboxes error = sentinelFor(CodeWorkspaceHasActiveSandboxes)
	// ErrPathNotAllowed matches errors with code 7003 (HTTP 403).
	ErrPathNotAllowed error = sentinelFor(CodePathNotAllowed)
	// ErrPortNotReachable matches errors with code 8001 (HTTP 502): nothing
	// listens on the sandbox port.
	ErrPortNotReachable error = sentinelFor(CodePortNotReachable)
)

// Broad sentinel errors.
var (
	// ErrNotFound matches every error answered with HTTP 404, whatever its
	// code (sandbox, workspace, file, process or PTY not found, or an
	// unknown route).
	ErrNotFound error = &plainSentinel{text: "not found"}
	// ErrUnauthorized matches HTTP 401 and code 1005: the API key is
	// missing or wrong.
	ErrUnauthorized error = sentinelFor(CodeUnauthorized)
	// ErrUnsupported is returned when the server lacks a feature the call
	// needs (such as binary file content on an upstream server, or Stdin
	// without process.stdin); code 1004 (not implemented) matches it too. It
	// also matches errors.ErrUnsupported.
	ErrUnsupported error = &plainSentinel{text: "not supported by the server", also: errors.ErrUnsupported}
	// ErrStreamInterrupted is wrapped by the error a stream yields when it
	// ends before its final event (such as a process stream without an exit
	// event).
	ErrStreamInterrupted error = &plainSentinel{text: "stream interrupted"}
)

// Error is an error answered by the Workspace API. Test for a particular
// error with errors.Is and the sentinels (ErrSandboxNotFound, ErrNotFound,
// ...), and get at its fields with errors.As.
type Error struct {
	// StatusCode is the HTTP status of the response (0 for an error event
	// of a stream).
	StatusCode int
	// Code is the API error code; 0 when the server answered with plain
	// text (such as upstream's 422 for a body of the wrong shape).
	Code ErrorCode
	// Message is the server's message, or the plain-text body.
	Message string
	// Details is the server's optional details text.
	Details string
	// Stdout and Stderr hold the partial output of a command that timed
	// out (code 4002) on servers that report it.
	Stdout, Stderr string
	// Op names the SDK operation that failed, such as "get sandbox".
	Op string
}

// Error reads like "workspace: get sandbox: Sandbox not found: sbx-1 (code 2001)".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("workspace: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	if e.Code == 0 && e.StatusCode != 0 {
		b.WriteString("HTTP ")
		b.WriteString(strconv.Itoa(e.StatusCode))
		if e.Message != "" {
			b.WriteString(": ")
		}
	}
	b.WriteString(e.Message)
	if e.Details != "" {
		b.WriteString(": ")
		b.WriteString(e.Details)
	}
	if e.Code != 0 {
		b.WriteString(" (code ")
		b.WriteString(strconv.Itoa(int(e.Code)))
		b.WriteString(")")
	}
	return b.String()
}

// Is reports whether the error matches target: the sentinel of its code,
// ErrNotFound for any 404, ErrUnauthorized for 401 or code 1005, and
// ErrUnsupported for code 1004.
func (e *Error) Is(target error) bool {
	switch target {
	case nil:
		return false
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized || e.Code == CodeUnauthorized
	case ErrUnsupported:
		return e.Code == CodeNotImplemented
	}
	if e.Code == 0 {
		return false
	}
	s, ok := target.(*codeSentinel)
	return ok && s.code == e.Code
}

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 8 << 20

// maxPlainMessage bounds the text kept from a plain-text error body.
const maxPlainMessage = 4 << 10

// errorEnvelope is the JSON error body.
type errorEnvelope struct {
	Code    *int            `json:"code"`
	Message *string         `json:"message"`
	Details json.RawMessage `json:"details"`
	Stdout  string          `json:"stdout"`
	Stderr  string          `json:"stderr"`
}

// checkResponse is the one place that turns a non-2xx response into an
// *Error. It returns nil for 2xx responses (and 101, a completed WebSocket
// handshake) without touching the body;
// otherwise it reads (at most maxErrorBody of) the body and closes it.
func (c *Client) checkResponse(resp *http.Response, op string) error {
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 || resp.StatusCode == http.StatusSwitchingProtocols {
		return nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return parseErrorBody(resp.StatusCode, body, op)
}

func parseErrorBody(status int, body []byte, op string) *Error {
	e := &Error{StatusCode: status, Op: op}
	var env errorEnvelope
	if len(body) > 0 && body[0] == '{' && json.Unmarshal(body, &env) == nil && (env.Code != nil || env.Message != nil) {
		if env.Code != nil {
			e.Code = ErrorCode(*env.Code)
		}
		if env.Message != nil {
			e.Message = *env.Message
		}
		e.Details = detailsText(env.Details)
		e.Stdout, e.Stderr = env.Stdout, env.Stderr
		return e
	}
	text := strings.TrimSpace(string(body))
	if len(text) > maxPlainMessage {
		text = text[:maxPlainMessage] + "..."
	}
	if text == "" {
		text = http.StatusText(status)
	}
	e.Message = text
	return e
}

func detailsText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}
