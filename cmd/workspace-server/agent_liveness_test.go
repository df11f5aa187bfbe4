//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// agentPIDs returns the host pids of the sandbox agents that descend from
// the process ancestor.
func agentPIDs(t *testing.T, ancestor int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		// The agent itself, not the bwrap process that started it (whose
		// command line names the agent too).
		if err != nil || !strings.HasPrefix(string(cmdline), "/.agent/agent\x00workspace-sandbox-agent") {
			continue
		}
		for p := pid; p > 1; p = parentPID(p) {
			if p == ancestor {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// parentPID returns the parent of pid, or 0 when it is gone.
func parentPID(pid int) int {
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// Issue 10 row 4: a stopped or dead agent must not hang calls. The sandbox
// becomes error with a message, and calls on it are 504/5002 (stopped
// agent) or 503/5001 (dead agent) at once.
func TestRow4AgentStoppedOrDead(t *testing.T) {
	c := startChild(t, newDataDir(t), "-agent-timeout", "2s")
	ws := c.createWorkspace()

	for _, tc := range []struct {
		name   string
		signal syscall.Signal
		status int
		code   int
	}{
		{"stopped", syscall.SIGSTOP, 504, 5002},
		{"killed", syscall.SIGKILL, 503, 5001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := c.createSandbox(ws)
			run := "/api/v1/sandboxes/" + sb + "/process/run"
			request(t, c.url, "POST", run, map[string]any{"command": "true"}).want(t, 200, 0)
			pids := agentPIDs(t, c.cmd.Process.Pid)
			require.NotEmpty(t, pids, "no agent found under the server")
			// This sandbox's agent is the newest one under the server.
			agent := newestAgent(t, pids)
			require.NoError(t, syscall.Kill(agent, tc.signal))
			t.Cleanup(func() { _ = syscall.Kill(agent, syscall.SIGKILL) })

			start := time.Now()
			a := request(t, c.url, "POST", run, map[string]any{"command": "true"})
			assert.Less(t, time.Since(start), 30*time.Second, "the run hung")
			assert.Contains(t, []int{503, 504}, a.status, "run on a failed agent: %s", a.body)

			var sandbox map[string]any
			eventually(t, "the sandbox is error", func() bool {
				sandbox = request(t, c.url, "GET", "/api/v1/sandboxes/"+sb, nil).want(t, 200, 0)
				return sandbox["state"] == "error"
			})
			assert.NotEmpty(t, sandbox["error_message"])
			// Later calls are answered at once with the agent's code.
			request(t, c.url, "POST", run, map[string]any{"command": "true"}).want(t, tc.status, tc.code)
			// The server and other sandboxes keep going.
			other := c.createSandbox(ws)
			request(t, c.url, "POST", "/api/v1/sandboxes/"+other+"/process/run", map[string]any{"command": "true"}).want(t, 200, 0)
		})
	}
}

// newestAgent returns the agent with the highest start time among pids.
func newestAgent(t *testing.T, pids []int) int {
	t.Helper()
	best, bestStart := 0, int64(-1)
	for _, pid := range pids {
		stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil {
			continue
		}
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		start, _ := strconv.ParseInt(fields[19], 10, 64) // field 22: starttime
		if start > bestStart {
			best, bestStart = pid, start
		}
	}
	require.NotZero(t, best)
	return best
}
