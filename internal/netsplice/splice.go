// Package netsplice joins two connections, as both ends of a forwarded
// port do: the SDK's ForwardPort (local TCP to WebSocket) and the
// reference server's port handler (WebSocket to the sandbox's TCP).
package netsplice

import (
	"io"
	"net"
	"sync"
)

// bufferSize is the buffer of each direction of a splice.
const bufferSize = 64 << 10

// Splice copies a and b into each other until either side ends, then
// closes both and returns once both copies stopped. Each connection is
// closed once, by whichever copy ends first, and a second closer waits for
// the first: a WebSocket's Close runs its closing handshake, and a Close
// racing it from the other copy could cut the connection before the close
// frame was sent (the peer then reads a bare EOF).
func Splice(a, b net.Conn) {
	var closeA, closeB sync.Once
	closeBoth := func() {
		closeA.Do(func() { a.Close() })
		closeB.Do(func() { b.Close() })
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.CopyBuffer(b, a, make([]byte, bufferSize)) //nolint:errcheck // an end is an end
		closeBoth()
	}()
	io.CopyBuffer(a, b, make([]byte, bufferSize)) //nolint:errcheck // an end is an end
	closeBoth()
	<-done
}
