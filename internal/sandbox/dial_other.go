//go:build !linux

package sandbox

import (
	"context"
	"net"
)

// DialPort connects to a TCP port inside the sandbox (Linux only).
func (s *Sandbox) DialPort(ctx context.Context, port int) (net.Conn, error) {
	return nil, errUnsupported
}
