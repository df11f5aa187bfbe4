//go:build !windows

package server

import (
	"errors"
	"net/http"

	"github.com/elevo/workspace-sdk-go/internal/wire"
)

// agentErrorCode returns the protocol code of a runtime error that says
// the sandbox's agent failed: 5001 when it died or broke the protocol,
// 5002 when it stopped answering, 1006 when a request was too large for
// it. ok is false for any other error.
func agentErrorCode(err error) (code wire.Code, ok bool) {
	switch {
	case errors.Is(err, errAgentTimeout):
		return wire.CodeAgentConnectionTimeout, true
	case errors.Is(err, errAgentDead):
		return wire.CodeAgentNotConnected, true
	case errors.Is(err, errRequestTooLarge):
		return wire.CodeRequestTooLarge, true
	}
	return 0, false
}

// writeAgentError answers an agent failure (see agentErrorCode) and
// reports whether err was one.
func writeAgentError(w http.ResponseWriter, err error) bool {
	code, ok := agentErrorCode(err)
	if !ok {
		return false
	}
	writeErrorDetails(w, code, agentErrorMessage(code), err.Error())
	return true
}

// agentErrorMessage is the message of an agent failure's code.
func agentErrorMessage(code wire.Code) string {
	switch code {
	case wire.CodeAgentConnectionTimeout:
		return "Sandbox agent did not answer in time"
	case wire.CodeAgentNotConnected:
		return "Sandbox agent is not running"
	}
	return "Request too large for the sandbox agent"
}

// agentFailed reports whether err says the sandbox's agent failed.
func agentFailed(err error) bool {
	_, ok := agentErrorCode(err)
	return ok
}
