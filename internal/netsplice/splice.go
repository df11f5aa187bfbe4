// Package netsplice joins two connections, as both ends of a forwarded
// port do: the SDK's ForwardPort (local TCP to WebSocket) and the
// reference server's port handler (WebSocket to the sandbox's TCP).
package netsplice

import (
	"io"
	"net"
)

// bufferSize is the buffer of each direction of a splice.
const bufferSize = 64 << 10

// Splice copies a and b into each other until either side ends, then
// closes both and returns once both copies stopped.
func Splice(a, b net.Conn) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.CopyBuffer(b, a, make([]byte, bufferSize)) //nolint:errcheck // an end is an end
		a.Close()
		b.Close()
	}()
	io.CopyBuffer(a, b, make([]byte, bufferSize)) //nolint:errcheck // an end is an end
	a.Close()
	b.Close()
	<-done
}
