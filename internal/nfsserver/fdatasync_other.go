//go:build !linux

package nfsserver

import "os"

// fdatasync flushes f to disk (fsync where fdatasync is not available).
func fdatasync(f *os.File) error { return f.Sync() }

// startWriteback does nothing here (Linux starts writeback early).
func startWriteback(*os.File, int64, int) {}
