package integration

import (
	"context"
	"io"
	"slices"
	"strconv"
	"testing"
	"time"

	workspace "github.com/elevo/workspace-sdk-go"
)

// benchSandbox starts a server with one running sandbox for a benchmark.
func benchSandbox(b *testing.B) (*workspace.Client, string) {
	c, _, sb := benchRealSandbox(b)
	return c, sb.ID
}

// reportPercentiles reports the p50 and p99 of d in microseconds.
func reportPercentiles(b *testing.B, d []time.Duration, name string) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	p := func(q float64) float64 {
		return float64(d[min(len(d)-1, int(q*float64(len(d))))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(p(0.50), "µs-p50-"+name)
	b.ReportMetric(p(0.99), "µs-p99-"+name)
}

// BenchmarkStreamFirstEvent measures the time from calling RunStream for
// `echo hi` to its first event (the start event), and the whole run as
// ns/op.
func BenchmarkStreamFirstEvent(b *testing.B) {
	c, sid := benchSandbox(b)
	ctx := context.Background()
	opts := &workspace.RunCommandOptions{Args: []string{"hi"}}
	var first []time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		seen := false
		for _, err := range c.Process.RunStream(ctx, sid, "echo", opts) {
			if err != nil {
				b.Fatal(err)
			}
			if !seen {
				first = append(first, time.Since(t0))
				seen = true
			}
		}
	}
	reportPercentiles(b, first, "first")
}

// BenchmarkStreamThroughput streams 256 MiB of zeros (`head -c 256M
// /dev/zero`) through run/stream; the MB/s column is the figure.
func BenchmarkStreamThroughput(b *testing.B) {
	c, sid := benchSandbox(b)
	ctx := context.Background()
	const size = 256 << 20
	opts := &workspace.RunCommandOptions{Args: []string{"-c", strconv.Itoa(size), "/dev/zero"}, Stdout: io.Discard}
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		var n int
		for ev, err := range c.Process.RunStream(ctx, sid, "head", opts) {
			if err != nil {
				b.Fatal(err)
			}
			n += len(ev.Data)
		}
		if n != size {
			b.Fatalf("got %d bytes, want %d", n, size)
		}
	}
}
