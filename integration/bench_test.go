package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// Benchmarks of the SDK against the real reference server (in-process, real
// sandboxes). The physical floors they compare with are printed by
// `go run ./internal/bench`.

// benchRealSandbox starts a server (with opts) and creates a workspace and
// a sandbox bound to it for a benchmark.
func benchRealSandbox(b *testing.B, opts ...workspacetest.Option) (*workspace.Client, *workspace.Workspace, *workspace.Sandbox) {
	b.Helper()
	srv := workspacetest.NewServer(b, opts...)
	c := srv.Client()
	ctx := context.Background()
	ws, err := c.Workspace.Create(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	sb, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
	if err != nil {
		b.Fatal(err)
	}
	return c, ws, sb
}

// BenchmarkRun runs `true` in a sandbox through the SDK and the server.
func BenchmarkRun(b *testing.B) {
	c, _, sb := benchRealSandbox(b)
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		res, err := c.Process.Run(ctx, sb.ID, "true", nil)
		if err != nil || res.ExitCode != 0 {
			b.Fatal(err, res)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportPercentiles(b, lat, "run")
}

// BenchmarkSandboxCreate creates a sandbox and waits until it answers a
// command; deletion is outside the timed part.
func BenchmarkSandboxCreate(b *testing.B) {
	srv := workspacetest.NewServer(b)
	c := srv.Client()
	ctx := context.Background()
	ws, err := c.Workspace.Create(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		sb, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Process.Run(ctx, sb.ID, "true", nil); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		b.StopTimer()
		if err := c.Sandbox.Delete(ctx, sb.ID, &workspace.DeleteSandboxOptions{Force: true}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	reportPercentiles(b, lat, "create")
}

// BenchmarkFileRoundTrip writes 1 MiB of random bytes and reads them back.
func BenchmarkFileRoundTrip(b *testing.B) {
	c, ws, _ := benchRealSandbox(b)
	ctx := context.Background()
	data := make([]byte, 1<<20)
	_, _ = rand.Read(data)
	b.SetBytes(2 << 20)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := c.Workspace.WriteFile(ctx, ws.ID, "round-trip.bin", data); err != nil {
			b.Fatal(err)
		}
		got, err := c.Workspace.ReadFile(ctx, ws.ID, "round-trip.bin")
		if err != nil {
			b.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			b.Fatal("round trip changed the data")
		}
	}
}
