//go:build !windows

package server

import (
	"fmt"
	"strings"
	"time"
)

// Default limits. Each is a Config field (0 = the default) and a flag of
// internal/servecmd.
const (
	// DefaultMaxBodyBytes bounds a JSON request body. It stays below the
	// agent's frame limit (64 MiB), so no accepted request can be dropped
	// by the agent.
	DefaultMaxBodyBytes = 32 << 20
	// DefaultMaxJSONReadBytes bounds a file read through the JSON file
	// route; larger files are read with files/raw.
	DefaultMaxJSONReadBytes = 16 << 20
	// DefaultMaxNameBytes bounds workspace and sandbox names.
	DefaultMaxNameBytes = 256
	// DefaultMaxMetadataBytes bounds the JSON metadata of a workspace or
	// sandbox.
	DefaultMaxMetadataBytes = 64 << 10
	// DefaultMaxEnvBytes bounds the environment of a sandbox, run or PTY
	// (keys and values together).
	DefaultMaxEnvBytes = 256 << 10
	// DefaultMaxArgsBytes bounds a command and its arguments together.
	DefaultMaxArgsBytes = 1 << 20
	// DefaultMaxRunOutputBytes bounds what a run keeps of each output
	// stream; the rest is dropped and the response says so.
	DefaultMaxRunOutputBytes = 16 << 20
	// DefaultMaxTimeout is the longest sandbox or run timeout accepted.
	DefaultMaxTimeout = 365 * 24 * time.Hour
	// DefaultMinFreeBytes is the free space kept on the data dir's
	// filesystem: file writes and creates are refused (507) below it, so
	// the store stays writable.
	DefaultMinFreeBytes = 64 << 20
	// DefaultBodyTimeout bounds the reading of a JSON request body.
	DefaultBodyTimeout = 30 * time.Second
	// DefaultTransferIdleTimeout is how long an upload may go without
	// 64 KiB of progress.
	DefaultTransferIdleTimeout = 60 * time.Second
	// DefaultHeaderTimeout bounds the reading of request headers.
	DefaultHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout closes keep-alive connections idle that long.
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultMaxConnections caps the open HTTP connections (further
	// clients wait in the listen backlog); it is also kept below half the
	// process's file limit.
	DefaultMaxConnections = 4096
)

// limitError is a request over one of the size or range limits.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

func overLimit(format string, args ...any) error {
	return &limitError{fmt.Sprintf(format, args...)}
}

// checkName checks a workspace or sandbox name against the name limit.
func (s *Server) checkName(name *string) error {
	if name != nil && len(*name) > s.cfg.MaxNameBytes {
		return overLimit("name: %d bytes, over the limit of %d", len(*name), s.cfg.MaxNameBytes)
	}
	return nil
}

// checkMetadata checks normalised metadata against the metadata limit.
func (s *Server) checkMetadata(meta []byte) error {
	if len(meta) > s.cfg.MaxMetadataBytes {
		return overLimit("metadata: %d bytes, over the limit of %d", len(meta), s.cfg.MaxMetadataBytes)
	}
	return nil
}

// checkEnv checks environment variables: names are non-empty and hold no
// '=' or NUL, values hold no NUL, and the whole is within the env limit.
func (s *Server) checkEnv(env map[string]string) error {
	n := 0
	for k, v := range env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return overLimit("env: invalid variable name %q", k)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return overLimit("env: value of %s holds a NUL byte", k)
		}
		n += len(k) + len(v) + 2
	}
	if n > s.cfg.MaxEnvBytes {
		return overLimit("env: %d bytes, over the limit of %d", n, s.cfg.MaxEnvBytes)
	}
	return nil
}

// checkCommand checks a command and its arguments: no NUL bytes, and
// within the args limit together.
func (s *Server) checkCommand(command string, args []string) error {
	n := len(command) + 1
	if strings.IndexByte(command, 0) >= 0 {
		return overLimit("command holds a NUL byte")
	}
	for _, a := range args {
		if strings.IndexByte(a, 0) >= 0 {
			return overLimit("args: an argument holds a NUL byte")
		}
		n += len(a) + 1
	}
	if n > s.cfg.MaxArgsBytes {
		return overLimit("command and args: %d bytes, over the limit of %d", n, s.cfg.MaxArgsBytes)
	}
	return nil
}

// checkTimeout checks a timeout given in units (time.Second for a
// sandbox, time.Millisecond for a run): not negative, and at most
// MaxTimeout, so that it never overflows a time.Duration.
func (s *Server) checkTimeout(v *int64, unit time.Duration) error {
	if v == nil {
		return nil
	}
	if *v < 0 {
		return overLimit("timeout: must not be negative")
	}
	if max := int64(s.cfg.MaxTimeout / unit); *v > max {
		return overLimit("timeout: %d is over the limit of %d", *v, max)
	}
	return nil
}

// setDefault sets *v to def when it is zero.
func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// orDefault returns v, or def when v is zero.
func orDefault[T int | int64 | time.Duration](v, def T) T {
	setDefault(&v, def)
	return v
}
