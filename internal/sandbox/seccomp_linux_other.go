//go:build linux && !amd64 && !arm64

package sandbox

import (
	"errors"
	"runtime"
)

// seccompFilterBytes fails: the filter is written for amd64 and arm64
// only, and sandboxes do not start without it.
func seccompFilterBytes() ([]byte, error) {
	return nil, errors.New("sandbox: no seccomp filter for GOARCH " + runtime.GOARCH)
}
