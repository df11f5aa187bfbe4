package sandbox

import "errors"

// ErrPortNotReachable is returned by DialPort when nothing accepts
// connections on the port inside the sandbox. The error also matches the
// errno the connect failed with (usually syscall.ECONNREFUSED).
var ErrPortNotReachable = errors.New("sandbox: port not reachable")
