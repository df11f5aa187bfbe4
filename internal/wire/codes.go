package wire

// Code is a numeric error code of the protocol (PROTOCOL.md, "Errors").
type Code int

// The error codes of the protocol.
const (
	CodeInvalidRequest              Code = 1001
	CodeInvalidParameter            Code = 1002
	CodeInternal                    Code = 1003
	CodeNotImplemented              Code = 1004
	CodeUnauthorized                Code = 1005
	CodeRequestTooLarge             Code = 1006
	CodeSandboxNotFound             Code = 2001
	CodeSandboxAlreadyExists        Code = 2002
	CodeTemplateNotFound            Code = 2003
	CodeInvalidSandboxState         Code = 2004
	CodeSandboxLimitExceeded        Code = 2005
	CodeFileNotFound                Code = 3001
	CodeFileAlreadyExists           Code = 3002
	CodePermissionDenied            Code = 3003
	CodeInvalidPath                 Code = 3004
	CodeNotADirectory               Code = 3005
	CodeDirectoryNotEmpty           Code = 3006
	CodeProcessNotFound             Code = 4001
	CodeProcessTimeout              Code = 4002
	CodeProcessExecutionFailed      Code = 4003
	CodePTYNotFound                 Code = 4101
	CodePTYLimitExceeded            Code = 4102
	CodePTYAlreadyClosed            Code = 4103
	CodeAgentNotConnected           Code = 5001
	CodeAgentConnectionTimeout      Code = 5002
	CodeAgentCommunicationError     Code = 5003
	CodeDatabaseError               Code = 6001
	CodeDockerError                 Code = 6002
	CodeNFSError                    Code = 6003
	CodeWorkspaceNotFound           Code = 7001
	CodeWorkspaceHasActiveSandboxes Code = 7002
	CodePathNotAllowed              Code = 7003
	CodePortNotReachable            Code = 8001
)

// CodeInfo describes one error code: its name, the HTTP status it is sent
// with, and a short lower-case text for messages.
type CodeInfo struct {
	Code   Code
	Name   string // e.g. "SandboxNotFound"
	Status int    // HTTP status
	Text   string // e.g. "sandbox not found"
}

// Codes is the one table of error codes. The SDK's constants, names and
// sentinels and the server's statuses are derived from it.
var Codes = []CodeInfo{
	{CodeInvalidRequest, "InvalidRequest", 400, "invalid request"},
	{CodeInvalidParameter, "InvalidParameter", 400, "invalid parameter"},
	{CodeInternal, "Internal", 500, "internal error"},
	{CodeNotImplemented, "NotImplemented", 501, "not implemented"},
	{CodeUnauthorized, "Unauthorized", 401, "unauthorized"},
	{CodeRequestTooLarge, "RequestTooLarge", 413, "request too large"},
	{CodeSandboxNotFound, "SandboxNotFound", 404, "sandbox not found"},
	{CodeSandboxAlreadyExists, "SandboxAlreadyExists", 409, "sandbox already exists"},
	{CodeTemplateNotFound, "TemplateNotFound", 404, "template not found"},
	{CodeInvalidSandboxState, "InvalidSandboxState", 400, "invalid sandbox state"},
	{CodeSandboxLimitExceeded, "SandboxLimitExceeded", 429, "sandbox limit exceeded"},
	{CodeFileNotFound, "FileNotFound", 404, "file not found"},
	{CodeFileAlreadyExists, "FileAlreadyExists", 409, "file already exists"},
	{CodePermissionDenied, "PermissionDenied", 403, "permission denied"},
	{CodeInvalidPath, "InvalidPath", 400, "invalid path"},
	{CodeNotADirectory, "NotADirectory", 400, "not a directory"},
	{CodeDirectoryNotEmpty, "DirectoryNotEmpty", 400, "directory not empty"},
	{CodeProcessNotFound, "ProcessNotFound", 404, "process not found"},
	{CodeProcessTimeout, "ProcessTimeout", 504, "process timeout"},
	{CodeProcessExecutionFailed, "ProcessExecutionFailed", 500, "process execution failed"},
	{CodePTYNotFound, "PTYNotFound", 404, "PTY not found"},
	{CodePTYLimitExceeded, "PTYLimitExceeded", 429, "PTY limit exceeded"},
	{CodePTYAlreadyClosed, "PTYAlreadyClosed", 400, "PTY already closed"},
	{CodeAgentNotConnected, "AgentNotConnected", 503, "agent not connected"},
	{CodeAgentConnectionTimeout, "AgentConnectionTimeout", 504, "agent connection timeout"},
	{CodeAgentCommunicationError, "AgentCommunicationError", 502, "agent communication error"},
	{CodeDatabaseError, "DatabaseError", 500, "database error"},
	{CodeDockerError, "DockerError", 500, "docker error"},
	{CodeNFSError, "NFSError", 500, "NFS error"},
	{CodeWorkspaceNotFound, "WorkspaceNotFound", 404, "workspace not found"},
	{CodeWorkspaceHasActiveSandboxes, "WorkspaceHasActiveSandboxes", 409, "workspace has active sandboxes"},
	{CodePathNotAllowed, "PathNotAllowed", 403, "path not allowed"},
	{CodePortNotReachable, "PortNotReachable", 502, "port not reachable"},
}

// Lookup returns the table row of code c.
func Lookup(c Code) (CodeInfo, bool) {
	for _, ci := range Codes {
		if ci.Code == c {
			return ci, true
		}
	}
	return CodeInfo{}, false
}

// Status returns the HTTP status code c is sent with, or 500 for a code the
// table does not hold.
func Status(c Code) int {
	if ci, ok := Lookup(c); ok {
		return ci.Status
	}
	return 500
}
