//go:build !linux

package nfsmount

import "context"

// KernelNFS reports false: kernel mounts are only supported on Linux.
func KernelNFS() bool { return false }

// Mount returns ErrUnsupported.
func Mount(context.Context, []string) error { return ErrUnsupported }

// Unmount returns ErrUnsupported.
func Unmount(context.Context, string) error { return ErrUnsupported }

// IsMounted returns ErrUnsupported.
func IsMounted(string) (bool, error) { return false, ErrUnsupported }
