package integration

import (
	"context"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	workspace "github.com/elevo/workspace-sdk-go"
)

// BenchmarkPTYEcho measures the keystroke echo latency over the WebSocket:
// one byte written to a PTY running `cat` in raw mode until it is read
// back. It reports p50 and p99.
func BenchmarkPTYEcho(b *testing.B) {
	c, sid := benchSandbox(b)
	ctx := context.Background()
	sess, err := c.PTY.Connect(ctx, sid, &workspace.PTYOptions{Shell: "/bin/sh"})
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close()
	if _, err := sess.WriteString("stty raw -echo; echo READY; exec cat\n"); err != nil {
		b.Fatal(err)
	}
	// Wait for the marker (not the echo of the typed line).
	var seen strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(seen.String(), "READY\r\n") && !strings.Contains(seen.String(), "\nREADY") {
		n, err := sess.Read(buf)
		if err != nil {
			b.Fatal(err)
		}
		seen.Write(buf[:n])
	}
	// Give cat a moment to start, then drop whatever is left.
	time.Sleep(50 * time.Millisecond)
	drain(sess)
	lat := make([]time.Duration, 0, 1024)
	one := []byte{'x'}
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if _, err := sess.Write(one); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(sess, buf[:1]); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportPercentiles(b, lat, "echo")
	_ = sess.Kill(ctx)
}

// drain discards the output the session has buffered for Read: OnData
// receives pending output at once, and OnData(nil) hands output back.
func drain(sess *workspace.PTYSession) {
	time.Sleep(50 * time.Millisecond)
	sess.OnData(func([]byte) {})
	sess.OnData(nil)
}

// BenchmarkPTYBulk measures PTY output over the WebSocket: a shell on a raw
// terminal prints 128 MiB of zeros and exits; the MB/s column is the
// figure, B/chunk the average size of the chunks OnData received.
func BenchmarkPTYBulk(b *testing.B) {
	c, sid := benchSandbox(b)
	ctx := context.Background()
	const size = 128 << 20
	b.SetBytes(size)
	var n, chunks atomic.Int64
	for b.Loop() {
		sess, err := c.PTY.Connect(ctx, sid, &workspace.PTYOptions{Shell: "/bin/sh"})
		if err != nil {
			b.Fatal(err)
		}
		sess.OnData(func(p []byte) { n.Add(int64(len(p))); chunks.Add(1) })
		if _, err := sess.WriteString("stty raw -echo; head -c " + strconv.Itoa(size) + " /dev/zero; exit\n"); err != nil {
			b.Fatal(err)
		}
		if _, err := sess.Wait(ctx); err != nil {
			b.Fatal(err)
		}
		_ = sess.Close()
	}
	if n.Load() < int64(b.N)*size {
		b.Fatalf("got %d bytes, want at least %d", n.Load(), int64(b.N)*size)
	}
	b.ReportMetric(float64(n.Load())/float64(max(chunks.Load(), 1)), "B/chunk")
}
