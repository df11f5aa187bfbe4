package main

import (
	"os/exec"
	"strings"
	"testing"
)

// benchRun runs the command once and fails b unless it exits 0.
func benchRun(b *testing.B, env []string, args ...string) {
	cmd := exec.Command(cliBinary, args...)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("workspace %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// BenchmarkCLIHealth is the cost of one short command: process start,
// configuration, one HTTP round trip.
func BenchmarkCLIHealth(b *testing.B) {
	srv := newServer(b)
	env := cliEnv(srv)
	for b.Loop() {
		benchRun(b, env, "health")
	}
}

// BenchmarkCLIExecTrue is "workspace exec SANDBOX -- true" end to end:
// process start, the streamed run and the exit status.
func BenchmarkCLIExecTrue(b *testing.B) {
	srv := newServer(b)
	env := cliEnv(srv)
	ws := strings.TrimSpace(okB(b, env, "create"))
	sb := strings.TrimSpace(okB(b, env, "sandbox", "create", ws))
	for b.Loop() {
		benchRun(b, env, "exec", sb, "--", "true")
	}
}

// okB runs the command for a benchmark's setup and returns its stdout.
func okB(b *testing.B, env []string, args ...string) string {
	cmd := exec.Command(cliBinary, args...)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("workspace %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}
