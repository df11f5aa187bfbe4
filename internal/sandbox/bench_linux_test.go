//go:build linux

package sandbox

import (
	"context"
	"fmt"
	"io"
	"sort"
	"testing"
	"time"
)

// BenchmarkRunTrue measures one Run of `true` through the agent.
func BenchmarkRunTrue(b *testing.B) {
	s := startSandbox(b, "", nil)
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		res, err := s.Run(ctx, ExecRequest{Command: "true"})
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("%v %+v", err, res)
		}
		lat = append(lat, time.Since(t0))
	}
	reportPercentiles(b, lat)
}

// BenchmarkRunTrueParallel runs `true` from 8 goroutines at once.
func BenchmarkRunTrueParallel(b *testing.B) {
	s := startSandbox(b, "", nil)
	b.SetParallelism(4) // 2 cores x 4 = 8 goroutines
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res, err := s.Run(context.Background(), ExecRequest{Command: "true"}); err != nil || res.ExitCode != 0 {
				b.Errorf("%v %+v", err, res)
				return
			}
		}
	})
}

// BenchmarkStart measures starting a sandbox until its agent answers,
// and stopping it.
func BenchmarkStart(b *testing.B) {
	m := manager(b)
	ws := workspaceDir(b)
	lat := make([]time.Duration, 0, b.N)
	i := 0
	for b.Loop() {
		i++
		t0 := time.Now()
		s, err := m.Start(context.Background(), Spec{ID: fmt.Sprintf("bench-%d", i), WorkspaceDir: ws})
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		b.StopTimer()
		s.Stop(0)
		b.StartTimer()
	}
	reportPercentiles(b, lat)
}

// BenchmarkStreamThroughput streams 256 MiB of output through a pipe.
func BenchmarkStreamThroughput(b *testing.B) {
	s := startSandbox(b, "", nil)
	const size = 256 << 20
	b.SetBytes(size)
	buf := make([]byte, 256<<10)
	for b.Loop() {
		p, err := s.Start(context.Background(), ExecRequest{Command: "head", Args: []string{"-c", fmt.Sprint(size), "/dev/zero"}})
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.CopyBuffer(io.Discard, struct{ io.Reader }{p.Stdout}, buf)
		io.Copy(io.Discard, p.Stderr)
		p.Stdout.Close()
		p.Stderr.Close()
		if code, err := p.Wait(); code != 0 || err != nil || n != size {
			b.Fatalf("code %d err %v n %d", code, err, n)
		}
	}
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
