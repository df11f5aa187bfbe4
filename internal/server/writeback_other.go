//go:build !linux

package server

import (
	"errors"
	"os"
)

// startWriteback is a no-op where sync_file_range does not exist (the
// reference server runs sandboxes on Linux only).
func startWriteback(*os.File, int64, int64) {}

// freeBytesAt is not measured outside Linux: the free-space reserve is
// not enforced there.
func freeBytesAt(string) (int64, error) { return 0, errors.ErrUnsupported }
