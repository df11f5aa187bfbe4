//go:build linux

package sandbox

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkStartLimited is BenchmarkStart with memory, pids and CPU
// limits: the cgroup is made, bwrap's pid 1 joins it, and it is removed
// at stop. It also reports the idle agent's resident memory.
func BenchmarkStartLimited(b *testing.B) {
	m := manager(b)
	l := Limits{MemoryBytes: 512 << 20, Pids: 512, CPUs: 1}
	if !m.Controls().Allows(l) {
		b.Skipf("no cgroup controllers for %+v", l)
	}
	benchStart(b, l)
}

// BenchmarkStartIdleRSS reports the idle agent's resident memory without
// limits (compare with BenchmarkStartLimited's).
func BenchmarkStartIdleRSS(b *testing.B) { benchStart(b, Limits{}) }

func benchStart(b *testing.B, l Limits) {
	m := manager(b)
	ws := workspaceDir(b)
	lat := make([]time.Duration, 0, b.N)
	var rss int64
	i := 0
	for b.Loop() {
		i++
		t0 := time.Now()
		s, err := m.Start(context.Background(), Spec{ID: fmt.Sprintf("benchl-%d", i), WorkspaceDir: ws, Limits: l})
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		b.StopTimer()
		rss = max(rss, agentRSS(int(s.childPID.Load())))
		s.Stop(0)
		b.StartTimer()
	}
	reportPercentiles(b, lat)
	b.ReportMetric(float64(rss)/1024, "agent-rss-MiB")
}

// agentRSS is the VmRSS in KiB of the child of bwrap's pid 1 (the agent).
func agentRSS(pid1 int) int64 {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		st, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		var ppid, rss int64
		for _, line := range strings.Split(string(st), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == "PPid:" {
				ppid, _ = strconv.ParseInt(f[1], 10, 64)
			}
			if len(f) >= 2 && f[0] == "VmRSS:" {
				rss, _ = strconv.ParseInt(f[1], 10, 64)
			}
		}
		if ppid == int64(pid1) {
			return rss
		}
	}
	return 0
}
