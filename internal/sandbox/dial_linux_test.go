//go:build linux

package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDialPort starts an HTTP server inside a sandbox (its own network
// namespace) and reaches it through DialPort; a port nobody listens on is
// ErrPortNotReachable.
func TestDialPort(t *testing.T) {
	sb := startSandbox(t, "", nil)
	ctx := context.Background()

	_, err := sb.DialPort(ctx, 9)
	if !errors.Is(err, ErrPortNotReachable) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("DialPort(9) = %v, want ErrPortNotReachable and ECONNREFUSED", err)
	}

	sh(t, sb, "echo hello-port > /workspace/index.html")
	proc, err := sb.Start(ctx, ExecRequest{
		Command: "/usr/bin/python3",
		Args:    []string{"-m", "http.server", "--bind", "127.0.0.1", "8123"},
		Cwd:     "/workspace",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proc.Kill(); proc.Wait() })

	var body string
	eventually(t, "HTTP answer through DialPort", func() bool {
		c, err := sb.DialPort(ctx, 8123)
		if err != nil {
			if !errors.Is(err, ErrPortNotReachable) {
				t.Fatalf("DialPort: %v", err)
			}
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("read response: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return true
	})
	if strings.TrimSpace(body) != "hello-port" {
		t.Fatalf("body %q", body)
	}

	// Port 0 is not a port.
	if _, err := sb.DialPort(ctx, 0); err == nil {
		t.Fatal("DialPort(0) succeeded")
	}
}
