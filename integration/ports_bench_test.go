package integration

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// benchPortPy serves, on the port given, an echo (first byte 'e': every
// later byte comes back) or a sink (first byte 's': then 8-byte
// big-endian n, n bytes read, one byte "k" back, repeatedly).
const benchPortPy = `
import socket, socketserver, struct, sys
class H(socketserver.BaseRequestHandler):
    def handle(self):
        s = self.request
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        mode = s.recv(1)
        if mode == b"e":
            while True:
                b = s.recv(65536)
                if not b:
                    return
                s.sendall(b)
        buf = bytearray(1 << 20)
        while True:
            hdr = b""
            while len(hdr) < 8:
                c = s.recv(8 - len(hdr))
                if not c:
                    return
                hdr += c
            n = struct.unpack(">Q", hdr)[0]
            while n > 0:
                k = s.recv_into(buf, min(n, len(buf)))
                if k == 0:
                    return
                n -= k
            s.sendall(b"k")
class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
S(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
`

// loopbackFloor is the same echo/sink protocol as benchPortPy in Go on the
// host's loopback: the floor the forwarded paths are compared with.
func loopbackFloor(b *testing.B) (addr string, stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				mode := make([]byte, 1)
				if _, err := io.ReadFull(c, mode); err != nil {
					return
				}
				if mode[0] == 'e' {
					io.Copy(c, c)
					return
				}
				hdr := make([]byte, 8)
				for {
					if _, err := io.ReadFull(c, hdr); err != nil {
						return
					}
					if _, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint64(hdr))); err != nil {
						return
					}
					if _, err := c.Write([]byte("k")); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), func() { ln.Close(); wg.Wait() }
}

// benchPorts runs fn against the floor and each forwarded path.
func benchPorts(b *testing.B, fn func(b *testing.B, dial func() net.Conn)) {
	c, ws, sb := benchRealSandbox(b)
	ctx := context.Background()
	const port = 9100
	if err := c.Workspace.WriteFile(ctx, ws.ID, "bench_port.py", []byte(benchPortPy)); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Process.Shell(ctx, sb.ID, fmt.Sprintf("/usr/bin/python3 /workspace/bench_port.py %d >/dev/null 2>&1 &", port), nil); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := c.Sandbox.DialPort(ctx, sb.ID, port)
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	floor, stop := loopbackFloor(b)
	defer stop()
	pf, err := c.Sandbox.ForwardPort(ctx, sb.ID, port, "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer pf.Close()
	tcpDial := func(addr string) func() net.Conn {
		return func() net.Conn {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			return conn
		}
	}
	b.Run("floor=loopback", func(b *testing.B) { fn(b, tcpDial(floor)) })
	b.Run("DialPort", func(b *testing.B) {
		fn(b, func() net.Conn {
			conn, err := c.Sandbox.DialPort(ctx, sb.ID, port)
			if err != nil {
				b.Fatal(err)
			}
			return conn
		})
	})
	b.Run("ForwardPort", func(b *testing.B) { fn(b, tcpDial(pf.Addr().String())) })
}

// BenchmarkPortRoundTrip: 64 bytes there and back on an open connection.
func BenchmarkPortRoundTrip(b *testing.B) {
	benchPorts(b, func(b *testing.B, dial func() net.Conn) {
		conn := dial()
		defer conn.Close()
		msg := make([]byte, 64)
		if _, err := conn.Write([]byte("e")); err != nil {
			b.Fatal(err)
		}
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for range b.N {
			start := time.Now()
			if _, err := conn.Write(msg); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(conn, msg); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		b.StopTimer()
		reportPercentiles(b, lat, "rt")
	})
}

// BenchmarkPortBulk: 16 MiB into the port, acknowledged.
func BenchmarkPortBulk(b *testing.B) {
	const size = 16 << 20
	benchPorts(b, func(b *testing.B, dial func() net.Conn) {
		conn := dial()
		defer conn.Close()
		if _, err := conn.Write([]byte("s")); err != nil {
			b.Fatal(err)
		}
		chunk := make([]byte, 256<<10)
		hdr := binary.BigEndian.AppendUint64(nil, size)
		ack := make([]byte, 1)
		b.SetBytes(size)
		b.ResetTimer()
		for range b.N {
			if _, err := conn.Write(hdr); err != nil {
				b.Fatal(err)
			}
			for sent := 0; sent < size; sent += len(chunk) {
				if _, err := conn.Write(chunk); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := io.ReadFull(conn, ack); err != nil {
				b.Fatal(err)
			}
		}
	})
}
