package nfsclient

import (
	"fmt"
	"io/fs"
	"syscall"
)

// NFSv3 status codes (RFC 1813 section 2.6) the client names.
const (
	statusOK          = 0
	statusPerm        = 1
	statusNoEnt       = 2
	statusIO          = 5
	statusNXIO        = 6
	statusAccess      = 13
	statusExist       = 17
	statusXDev        = 18
	statusNoDev       = 19
	statusNotDir      = 20
	statusIsDir       = 21
	statusInval       = 22
	statusFBig        = 27
	statusNoSpc       = 28
	statusROFS        = 30
	statusMLink       = 31
	statusNameTooLong = 63
	statusNotEmpty    = 66
	statusDQuot       = 69
	statusStale       = 70
	statusBadHandle   = 10001
	statusNotSupp     = 10004
)

// statusErrno maps NFS statuses to the errno the os package would report.
var statusErrno = map[uint32]syscall.Errno{
	statusPerm:        syscall.EPERM,
	statusNoEnt:       syscall.ENOENT,
	statusIO:          syscall.EIO,
	statusNXIO:        syscall.ENXIO,
	statusAccess:      syscall.EACCES,
	statusExist:       syscall.EEXIST,
	statusXDev:        syscall.EXDEV,
	statusNoDev:       syscall.ENODEV,
	statusNotDir:      syscall.ENOTDIR,
	statusIsDir:       syscall.EISDIR,
	statusInval:       syscall.EINVAL,
	statusFBig:        syscall.EFBIG,
	statusNoSpc:       syscall.ENOSPC,
	statusROFS:        syscall.EROFS,
	statusMLink:       syscall.EMLINK,
	statusNameTooLong: syscall.ENAMETOOLONG,
	statusNotEmpty:    syscall.ENOTEMPTY,
	statusDQuot:       syscall.EDQUOT,
	statusStale:       syscall.ESTALE,
	statusBadHandle:   syscall.ESTALE,
	statusNotSupp:     syscall.ENOTSUP,
}

// StatusError is a failed NFS call's status. It reads like the os
// package's error for the same condition ("no such file or directory")
// and unwraps to that syscall.Errno, so errors.Is matches fs.ErrNotExist,
// fs.ErrExist, fs.ErrPermission and the errno itself.
type StatusError struct {
	// Status is the NFS3ERR_* code.
	Status uint32
}

// Error is the errno's text, or "NFS status N" for statuses without one.
func (e *StatusError) Error() string {
	if errno, ok := statusErrno[e.Status]; ok {
		return errno.Error()
	}
	return fmt.Sprintf("NFS status %d", e.Status)
}

// Unwrap returns the matching syscall.Errno (nil when there is none).
func (e *StatusError) Unwrap() error {
	if errno, ok := statusErrno[e.Status]; ok {
		return errno
	}
	return nil
}

// Is matches the io/fs sentinels on every platform (a stale handle is
// fs.ErrNotExist: the file it named is gone).
func (e *StatusError) Is(target error) bool {
	switch target {
	case fs.ErrNotExist:
		return e.Status == statusNoEnt || e.Status == statusStale
	case fs.ErrExist:
		return e.Status == statusExist || e.Status == statusNotEmpty
	case fs.ErrPermission:
		return e.Status == statusPerm || e.Status == statusAccess || e.Status == statusROFS
	case fs.ErrInvalid:
		return e.Status == statusInval || e.Status == statusNameTooLong || e.Status == statusBadHandle
	}
	return false
}

// isStale reports a status that says the handle no longer names the file
// (the server restarted or the file was replaced).
func isStale(err error) bool {
	se, ok := err.(*StatusError)
	return ok && (se.Status == statusStale || se.Status == statusBadHandle)
}
