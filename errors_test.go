package workspace

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/elevo/workspace-sdk-go/internal/wire"
)

// codeTable lists every exported Code constant with its name and sentinel,
// as API.md spells them.
var codeTable = []struct {
	code     ErrorCode
	name     string
	sentinel error
}{
	{CodeInvalidRequest, "InvalidRequest", ErrInvalidRequest},
	{CodeInvalidParameter, "InvalidParameter", ErrInvalidParameter},
	{CodeInternal, "Internal", ErrInternal},
	{CodeNotImplemented, "NotImplemented", ErrNotImplemented},
	{CodeUnauthorized, "Unauthorized", ErrUnauthorized},
	{CodeRequestTooLarge, "RequestTooLarge", ErrRequestTooLarge},
	{CodeSandboxNotFound, "SandboxNotFound", ErrSandboxNotFound},
	{CodeSandboxAlreadyExists, "SandboxAlreadyExists", ErrSandboxAlreadyExists},
	{CodeTemplateNotFound, "TemplateNotFound", ErrTemplateNotFound},
	{CodeInvalidSandboxState, "InvalidSandboxState", ErrInvalidSandboxState},
	{CodeSandboxLimitExceeded, "SandboxLimitExceeded", ErrSandboxLimitExceeded},
	{CodeFileNotFound, "FileNotFound", ErrFileNotFound},
	{CodeFileAlreadyExists, "FileAlreadyExists", ErrFileAlreadyExists},
	{CodePermissionDenied, "PermissionDenied", ErrPermissionDenied},
	{CodeInvalidPath, "InvalidPath", ErrInvalidPath},
	{CodeNotADirectory, "NotADirectory", ErrNotADirectory},
	{CodeDirectoryNotEmpty, "DirectoryNotEmpty", ErrDirectoryNotEmpty},
	{CodeProcessNotFound, "ProcessNotFound", ErrProcessNotFound},
	{CodeProcessTimeout, "ProcessTimeout", ErrProcessTimeout},
	{CodeProcessExecutionFailed, "ProcessExecutionFailed", ErrProcessExecutionFailed},
	{CodePTYNotFound, "PTYNotFound", ErrPTYNotFound},
	{CodePTYLimitExceeded, "PTYLimitExceeded", ErrPTYLimitExceeded},
	{CodePTYAlreadyClosed, "PTYAlreadyClosed", ErrPTYAlreadyClosed},
	{CodeAgentNotConnected, "AgentNotConnected", ErrAgentNotConnected},
	{CodeAgentConnectionTimeout, "AgentConnectionTimeout", ErrAgentConnectionTimeout},
	{CodeAgentCommunicationError, "AgentCommunicationError", ErrAgentCommunicationError},
	{CodeDatabaseError, "DatabaseError", ErrDatabaseError},
	{CodeDockerError, "DockerError", ErrDockerError},
	{CodeNFSError, "NFSError", ErrNFSError},
	{CodeWorkspaceNotFound, "WorkspaceNotFound", ErrWorkspaceNotFound},
	{CodeWorkspaceHasActiveSandboxes, "WorkspaceHasActiveSandboxes", ErrWorkspaceHasActiveSandboxes},
	{CodePathNotAllowed, "PathNotAllowed", ErrPathNotAllowed},
	{CodePortNotReachable, "PortNotReachable", ErrPortNotReachable},
}

// TestCodesMatchWireTable checks the exported constants against the one
// code table: same codes, same names, nothing missing on either side.
func TestCodesMatchWireTable(t *testing.T) {
	t.Parallel()
	require.Len(t, codeTable, len(wire.Codes))
	for i, ci := range wire.Codes {
		row := codeTable[i]
		assert.Equal(t, int(ci.Code), int(row.code), "row %d", i)
		assert.Equal(t, ci.Name, row.name)
		assert.Equal(t, ci.Name, row.code.String())
		assert.Equal(t, ci.Status, row.code.Status())
		assert.Equal(t, fmt.Sprintf("workspace: %s (code %d)", ci.Text, ci.Code), row.sentinel.Error())
	}
}

func TestEveryCodeHasItsSentinel(t *testing.T) {
	t.Parallel()
	all := make([]error, len(codeTable))
	for i, tc := range codeTable {
		all[i] = tc.sentinel
	}
	for _, tc := range codeTable {
		t.Run(tc.code.String(), func(t *testing.T) {
			t.Parallel()
			status := tc.code.Status()
			f := newFake(t, nil, WithRetry(NoRetry))
			f.script(reply{status: status, body: fmt.Sprintf(`{"code":%d,"message":"m %d"}`, tc.code, tc.code)})
			_, err := f.c.Sandbox.Get(t.Context(), "sbx-1")
			require.Error(t, err)
			for _, s := range all {
				assert.Equal(t, s == tc.sentinel, errors.Is(err, s), "errors.Is(%v, %v)", err, s)
			}
			assert.Equal(t, status == 404, errors.Is(err, ErrNotFound))
			assert.Equal(t, status == 404, errors.Is(tc.sentinel, ErrNotFound), "sentinel vs ErrNotFound")
			var apiErr *Error
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.code, apiErr.Code)
			assert.Equal(t, status, apiErr.StatusCode)
			assert.Contains(t, tc.sentinel.Error(), fmt.Sprintf("(code %d)", tc.code))
			assert.Equal(t, fmt.Sprintf("workspace: get sandbox: m %d (code %d)", tc.code, tc.code), err.Error())
		})
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{StatusCode: 404, Code: CodeSandboxNotFound, Message: "Sandbox not found: sbx-1", Op: "get sandbox"}
	assert.Equal(t, "workspace: get sandbox: Sandbox not found: sbx-1 (code 2001)", e.Error())
	e = &Error{StatusCode: 422, Message: "bad shape", Op: "create sandbox"}
	assert.Equal(t, "workspace: create sandbox: HTTP 422: bad shape", e.Error())
	e = &Error{StatusCode: 400, Code: 1001, Message: "bad", Details: "field x", Op: "mkdir"}
	assert.Equal(t, "workspace: mkdir: bad: field x (code 1001)", e.Error())
	assert.Equal(t, "workspace: sandbox not found (code 2001)", ErrSandboxNotFound.Error())
	assert.Equal(t, "workspace: PTY not found (code 4101)", ErrPTYNotFound.Error())
	assert.Equal(t, "workspace: not a directory (code 3005)", ErrNotADirectory.Error())
	assert.Equal(t, "SandboxNotFound", CodeSandboxNotFound.String())
	assert.Equal(t, "9999", ErrorCode(9999).String())
}

func TestBroadSentinels(t *testing.T) {
	assert.ErrorIs(t, &Error{StatusCode: 401, Message: "nope"}, ErrUnauthorized)
	assert.ErrorIs(t, &Error{StatusCode: 401, Code: CodeUnauthorized}, ErrUnauthorized)
	assert.ErrorIs(t, &Error{StatusCode: 404, Message: "no route"}, ErrNotFound)
	assert.NotErrorIs(t, &Error{StatusCode: 404, Message: "no route"}, ErrSandboxNotFound)
	assert.ErrorIs(t, &Error{StatusCode: 501, Code: CodeNotImplemented}, ErrUnsupported)
	assert.ErrorIs(t, ErrNotImplemented, ErrUnsupported)
	assert.ErrorIs(t, ErrUnsupported, errors.ErrUnsupported)
	assert.NotErrorIs(t, &Error{StatusCode: 500, Code: 9999}, ErrInternal)
	assert.NotErrorIs(t, &Error{StatusCode: 500}, ErrInternal)
}

func TestParseErrorBody(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   Error
	}{
		{"envelope", 404, `{"code":2001,"message":"Sandbox not found","details":null}`, Error{StatusCode: 404, Code: 2001, Message: "Sandbox not found"}},
		{"details object", 400, `{"code":1001,"message":"m","details":{"f":1}}`, Error{StatusCode: 400, Code: 1001, Message: "m", Details: `{"f":1}`}},
		{"plain text", 415, "Expected request with `Content-Type: application/json`", Error{StatusCode: 415, Message: "Expected request with `Content-Type: application/json`"}},
		{"empty", 405, "", Error{StatusCode: 405, Message: http.StatusText(http.StatusMethodNotAllowed)}},
		{"json without code", 413, `{"other":1}`, Error{StatusCode: 413, Message: `{"other":1}`}},
		{"message only", 500, `{"message":"oops"}`, Error{StatusCode: 500, Message: "oops"}},
		{"bad json", 502, `{"code":`, Error{StatusCode: 502, Message: `{"code":`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := parseErrorBody(tc.status, []byte(tc.body), "op")
			tc.want.Op = "op"
			assert.Equal(t, &tc.want, got)
		})
	}
	long := make([]byte, 10000)
	for i := range long {
		long[i] = 'x'
	}
	assert.LessOrEqual(t, len(parseErrorBody(400, long, "op").Message), maxPlainMessage+3)
}
