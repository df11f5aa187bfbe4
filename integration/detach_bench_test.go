//go:build linux

package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// BenchmarkCmdTrue runs `true` with Cmd.Run over process.detach (start,
// then follow the events to the exit); compare with BenchmarkRun.
func BenchmarkCmdTrue(b *testing.B) {
	benchCmdTrue(b)
}

// BenchmarkCmdTrueFallback runs `true` with Cmd.Run on a base-mode server
// (the run fallback).
func BenchmarkCmdTrueFallback(b *testing.B) {
	benchCmdTrue(b, workspacetest.WithBaseMode())
}

// benchCmdTrue runs `true` with Cmd.Run in a sandbox of a server started
// with opts.
func benchCmdTrue(b *testing.B, opts ...workspacetest.Option) {
	c, _, sb := benchRealSandbox(b, opts...)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := c.Process.Command(ctx, sb.ID, "true").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWatchLatency measures the time from a file's creation inside a
// sandbox to the Watch event in the SDK, as percentiles: from the return of
// the WriteStdin call that makes a sandbox shell create the file, so it
// includes the shell's read and create. (The file's modification time is
// no clock for this: the kernel stamps it with a coarse clock,
// milliseconds off.)
func BenchmarkWatchLatency(b *testing.B) {
	c, ws, sb := benchRealSandbox(b)
	ctx := context.Background()
	if err := c.Workspace.Mkdir(ctx, ws.ID, "lat"); err != nil {
		b.Fatal(err)
	}
	// A shell creates lat/f<n> for each line it reads.
	p, err := c.Process.Start(ctx, sb.ID, "sh", &workspace.StartOptions{
		Args: []string{"-c", "i=0; while read x; do i=$((i+1)); : > lat/f$i; done"}, OpenStdin: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Kill(ctx, workspace.SIGKILL) //nolint:errcheck // the sandbox goes with the server
	w := startWatch(b, ctx, c, ws.ID, "lat", false)
	w.ready(b, c, ws.ID, "lat/")
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		if err := p.WriteStdin(ctx, []byte("x\n")); err != nil {
			b.Fatal(err)
		}
		sent := time.Now()
		name := fmt.Sprintf("lat/f%d", i)
		w.waitEvent(b, name, isEvent(workspace.FileEventCreate, name))
		lat = append(lat, time.Since(sent))
	}
	b.StopTimer()
	reportPercentiles(b, lat, "watch")
}
