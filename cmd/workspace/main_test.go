package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/elevo/workspace-sdk-go/workspacetest"
	"go.uber.org/goleak"
)

// cliBinary is the workspace command built once by TestMain; every test
// runs it as a real process.
var cliBinary string

func TestMain(m *testing.M) {
	// Importing workspacetest makes this test binary its own sandbox
	// agent when the server starts it that way (internal/sandbox's hook
	// runs before TestMain), so nothing else is needed here for that.
	dir, err := os.MkdirTemp("", "workspace-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cliBinary = filepath.Join(dir, "workspace")
	args := []string{"build", "-o", cliBinary}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build the workspace command:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}

// testKey is the API key of every test server: the command must send it.
const testKey = "cli-test-key"

// newServer starts a reference server that requires testKey.
func newServer(t testing.TB) *workspacetest.Server {
	t.Helper()
	return workspacetest.NewServer(t, workspacetest.WithAPIKey(testKey))
}

// result is how one run of the command ended.
type result struct {
	stdout, stderr string
	code           int
}

// cli runs the command against srv with args; stdin may be nil (then it is
// /dev/null).
func cli(t *testing.T, srv *workspacetest.Server, stdin io.Reader, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cliBinary, args...)
	cmd.Env = cliEnv(srv)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("workspace %s: %v", strings.Join(args, " "), err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// cliEnv is the environment of the command: the server's URL and key.
func cliEnv(srv *workspacetest.Server) []string {
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WORKSPACE_") {
			env = append(env, kv)
		}
	}
	if srv != nil {
		env = append(env, "WORKSPACE_API_URL="+srv.URL, "WORKSPACE_API_KEY="+testKey)
	}
	return env
}

// ok runs the command and fails the test unless it exits 0.
func ok(t *testing.T, srv *workspacetest.Server, args ...string) string {
	t.Helper()
	r := cli(t, srv, nil, args...)
	if r.code != 0 {
		t.Fatalf("workspace %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// okJSON runs the command with -o json and decodes its output into v.
func okJSON(t *testing.T, srv *workspacetest.Server, v any, args ...string) {
	t.Helper()
	out := ok(t, srv, append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("workspace %s -o json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// fails runs the command and checks it exits with code and that stderr
// contains want.
func fails(t *testing.T, srv *workspacetest.Server, code int, want string, args ...string) {
	t.Helper()
	r := cli(t, srv, nil, args...)
	if r.code != code || !strings.Contains(r.stderr, want) {
		t.Fatalf("workspace %s: exit %d, stderr %q; want exit %d and %q", strings.Join(args, " "), r.code, r.stderr, code, want)
	}
}

// newSandbox creates a workspace and a running sandbox with the command
// and returns their IDs.
func newSandbox(t *testing.T, srv *workspacetest.Server) (wsID, sbID string) {
	t.Helper()
	wsID = strings.TrimSpace(ok(t, srv, "create"))
	sbID = strings.TrimSpace(ok(t, srv, "sandbox", "create", wsID))
	return wsID, sbID
}

// waitFor polls cond every few milliseconds until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
