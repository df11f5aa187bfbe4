package workspace

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEveryCodeHasItsSentinel(t *testing.T) {
	cases := []struct {
		code     ErrorCode
		status   int
		sentinel error
	}{
		{1001, 400, ErrInvalidRequest}, {1002, 400, ErrInvalidParameter}, {1003, 500, ErrInternal},
		{1004, 501, ErrNotImplemented}, {1005, 401, ErrUnauthorized},
		{2001, 404, ErrSandboxNotFound}, {2002, 409, ErrSandboxAlreadyExists}, {2003, 404, ErrTemplateNotFound},
		{2004, 400, ErrInvalidSandboxState}, {2005, 429, ErrSandboxLimitExceeded},
		{3001, 404, ErrFileNotFound}, {3002, 409, ErrFileAlreadyExists}, {3003, 403, ErrPermissionDenied},
		{3004, 400, ErrInvalidPath}, {3005, 400, ErrNotADirectory}, {3006, 400, ErrDirectoryNotEmpty},
		{4001, 404, ErrProcessNotFound}, {4002, 504, ErrProcessTimeout}, {4003, 500, ErrProcessExecutionFailed},
		{4101, 404, ErrPTYNotFound}, {4102, 429, ErrPTYLimitExceeded}, {4103, 500, ErrPTYAlreadyClosed},
		{5001, 503, ErrAgentNotConnected}, {5002, 504, ErrAgentConnectionTimeout}, {5003, 503, ErrAgentCommunicationError},
		{6001, 500, ErrDatabaseError}, {6002, 500, ErrDockerError}, {6003, 500, ErrNFSError},
		{7001, 404, ErrWorkspaceNotFound}, {7002, 409, ErrWorkspaceHasActiveSandboxes}, {7003, 403, ErrPathNotAllowed},
	}
	all := make([]error, len(cases))
	for i, tc := range cases {
		all[i] = tc.sentinel
	}
	for _, tc := range cases {
		t.Run(tc.code.String(), func(t *testing.T) {
			f := newFake(t, nil, WithRetry(NoRetry))
			f.script(reply{status: tc.status, body: fmt.Sprintf(`{"code":%d,"message":"m %d"}`, tc.code, tc.code)})
			_, err := f.c.Sandbox.Get(t.Context(), "sbx-1")
			require.Error(t, err)
			for _, s := range all {
				assert.Equal(t, s == tc.sentinel, errors.Is(err, s), "errors.Is(%v, %v)", err, s)
			}
			assert.Equal(t, tc.status == 404, errors.Is(err, ErrNotFound))
			assert.Equal(t, tc.status == 404, errors.Is(tc.sentinel, ErrNotFound), "sentinel vs ErrNotFound")
			var apiErr *Error
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.code, apiErr.Code)
			assert.Equal(t, tc.status, apiErr.StatusCode)
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
