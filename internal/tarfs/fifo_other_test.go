//go:build !unix

package tarfs

import "errors"

func mkfifo(p string) error { return errors.ErrUnsupported }
