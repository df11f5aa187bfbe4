//go:build !windows

package server

import (
	"errors"
	"io/fs"
	"net/http"
	"syscall"

	"github.com/elevo/workspace-sdk-go/internal/wire"
)

// writeFileError writes the protocol error for a file-system error on path p.
func writeFileError(w http.ResponseWriter, err error, p string) {
	var errno syscall.Errno
	switch {
	case isNoSpace(err):
		writeInsufficientStorage(w, "cannot write "+p+": "+err.Error())
	case isEscape(err):
		writeError(w, wire.CodePathNotAllowed, "Path not allowed: "+p)
	case errors.Is(err, errRootPath):
		writeError(w, wire.CodeInvalidPath, "Invalid path: "+p)
	case errors.Is(err, errSpecial):
		writeError(w, wire.CodePermissionDenied, "Not a regular file: "+p)
	case errors.As(err, &errno) && errno == syscall.ENOTEMPTY:
		writeError(w, wire.CodeDirectoryNotEmpty, "Directory not empty: "+p)
	case errors.Is(err, fs.ErrNotExist):
		writeError(w, wire.CodeFileNotFound, "File not found: "+p)
	case errors.Is(err, fs.ErrExist):
		writeError(w, wire.CodeFileAlreadyExists, "File already exists: "+p)
	case errors.As(err, &errno) && errno == syscall.EISDIR:
		writeError(w, wire.CodeNotADirectory, "Is a directory: "+p)
	case errors.As(err, &errno) && errno == syscall.ENOTDIR:
		writeError(w, wire.CodeNotADirectory, "Not a directory: "+p)
	case errors.Is(err, fs.ErrPermission):
		writeError(w, wire.CodePermissionDenied, "Permission denied: "+p)
	case errors.As(err, &errno) && (errno == syscall.ELOOP || errno == syscall.ENAMETOOLONG || errno == syscall.EINVAL):
		writeErrorDetails(w, wire.CodeInvalidPath, "Invalid path: "+p, err.Error())
	default:
		writeErrorDetails(w, wire.CodeInternal, "File operation failed: "+p, err.Error())
	}
}
