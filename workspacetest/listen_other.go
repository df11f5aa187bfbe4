//go:build !linux

package workspacetest

import (
	"errors"
	"fmt"
	"runtime"

	workspace "github.com/elevo/workspace-sdk-go"
)

// errBwrapMissing is never the reason here: sandboxes need Linux.
var errBwrapMissing = errors.New("bubblewrap missing")

// listen fails: the reference server's sandboxes run on Linux only.
func listen(config) (*instance, error) {
	return nil, fmt.Errorf("the reference server's sandboxes need Linux, not %s: %w", runtime.GOOS, workspace.ErrUnsupported)
}
