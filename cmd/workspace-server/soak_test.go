//go:build linux

package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSoakCreateRunDelete runs create/run/delete cycles against a server
// in this process and checks that goroutines, file descriptors, memory and
// host processes stay flat. 100 cycles by default; WORKSPACE_SOAK_CYCLES=1000
// for the full soak.
func TestSoakCreateRunDelete(t *testing.T) {
	cycles := 100
	if n, err := strconv.Atoi(os.Getenv("WORKSPACE_SOAK_CYCLES")); err == nil && n > 0 {
		cycles = n
	}
	in, _ := start(t)
	ws := request(t, in.URL, "POST", "/api/v1/workspaces", map[string]any{}).want(t, 200, 0)["id"].(string)
	cycle := func() {
		sb := request(t, in.URL, "POST", "/api/v1/sandboxes", map[string]any{"workspace_id": ws}).want(t, 200, 0)["id"].(string)
		m := request(t, in.URL, "POST", "/api/v1/sandboxes/"+sb+"/process/run", map[string]any{"command": "echo", "args": []string{"soak"}}).want(t, 200, 0)
		require.Equal(t, "soak\n", m["stdout"])
		request(t, in.URL, "DELETE", "/api/v1/sandboxes/"+sb, nil).want(t, 200, 0)
	}
	for range 10 { // warm up pools and caches
		cycle()
	}
	// The process count sees live sandboxes.
	sb := request(t, in.URL, "POST", "/api/v1/sandboxes", map[string]any{"workspace_id": ws}).want(t, 200, 0)["id"].(string)
	require.Positive(t, bwrapProcesses(t), "no sandbox process found")
	request(t, in.URL, "DELETE", "/api/v1/sandboxes/"+sb, nil).want(t, 200, 0)
	goroutines, fds, rss, procs := runtime.NumGoroutine(), openFDs(t), selfRSS(t), bwrapProcesses(t)
	for range cycles {
		cycle()
	}
	eventually(t, "goroutines settle", func() bool { return runtime.NumGoroutine() <= goroutines+5 })
	eventually(t, "sandbox processes end", func() bool { return bwrapProcesses(t) <= procs })
	assert.LessOrEqual(t, openFDs(t), fds+5, "file descriptors grew over %d cycles", cycles)
	assert.Less(t, selfRSS(t)-rss, int64(32*mib), "memory grew over %d cycles", cycles)
	m := request(t, in.URL, "GET", "/api/v1/sandboxes", nil).want(t, 200, 0)
	assert.Equal(t, float64(0), m["total"], "deleted sandboxes are still listed")
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}

func selfRSS(t *testing.T) int64 { return procStatusKiB(t, os.Getpid(), "VmRSS:") << 10 }

// bwrapProcesses counts the sandbox processes (bwrap) this process started.
func bwrapProcesses(t *testing.T) int {
	lists, err := filepath.Glob("/proc/self/task/*/children")
	require.NoError(t, err)
	n := 0
	for _, l := range lists {
		b, _ := os.ReadFile(l)
		for _, pid := range strings.Fields(string(b)) {
			cmd, err := os.ReadFile("/proc/" + pid + "/cmdline")
			if err == nil && strings.HasSuffix(strings.SplitN(string(cmd), "\x00", 2)[0], "bwrap") {
				n++
			}
		}
	}
	return n
}
