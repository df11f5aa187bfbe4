package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// background runs the command until the test ends (or stop) and gives its
// live output.
type background struct {
	cmd       *exec.Cmd
	out, errb lockedBuffer
}

func startBackground(t *testing.T, srv *workspacetest.Server, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	b := &background{cmd: exec.CommandContext(ctx, cliBinary, args...)}
	b.cmd.Env = cliEnv(srv)
	b.cmd.Stdout, b.cmd.Stderr = &b.out, &b.errb
	if err := b.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = b.cmd.Process.Kill()
		_ = b.cmd.Wait()
		cancel()
	})
	return b
}

// stop interrupts the command (Ctrl-C) and returns its exit status.
func (b *background) stop(t *testing.T) int {
	t.Helper()
	if err := b.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	_ = b.cmd.Wait()
	return b.cmd.ProcessState.ExitCode()
}

func TestExecDetachPsLogs(t *testing.T) {
	srv := newServer(t)
	_, sb := newSandbox(t, srv)

	pid := strings.TrimSpace(ok(t, srv, "exec", "-d", sb, "--", "sh", "-c", "echo one; echo two >&2; exit 4"))
	if _, err := strconv.Atoi(pid); err != nil {
		t.Fatalf("exec -d prints %q, want a PID", pid)
	}
	// logs -f follows to the end and exits with the process's status.
	r := cli(t, srv, nil, "logs", sb, pid, "-f")
	if r.code != 4 || r.stdout != "one\n" || r.stderr != "two\n" {
		t.Fatalf("logs -f: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	var ps []processJSON
	okJSON(t, srv, &ps, "ps", sb)
	if len(ps) != 1 || strconv.Itoa(ps[0].PID) != pid || ps[0].Running || ps[0].ExitCode != 4 || ps[0].Command != "sh" {
		t.Fatalf("ps -o json: %+v", ps)
	}

	long := strings.TrimSpace(ok(t, srv, "exec", "-d", sb, "--", "sh", "-c", "echo ready; exec sleep 600"))
	waitFor(t, time.Minute, "the background process's output", func() bool {
		r := cli(t, srv, nil, "logs", sb, long)
		return r.code == 0 && r.stdout == "ready\n"
	})
	table := ok(t, srv, "ps", sb)
	if !strings.Contains(table, long) || !strings.Contains(table, "running") || !strings.Contains(table, "exited 4") {
		t.Fatalf("ps:\n%s", table)
	}
	fails(t, srv, 2, "bad PID", "logs", sb, "x")
}

// TestPortForward: an HTTP server in the sandbox answers through the
// forwarded local port.
func TestPortForward(t *testing.T) {
	srv := newServer(t)
	ws, sb := newSandbox(t, srv)
	if r := cli(t, srv, strings.NewReader("served from the sandbox"), "cp", "-", ws+":site/index.html"); r.code != 0 {
		t.Fatalf("cp: %s", r.stderr)
	}
	ok(t, srv, "exec", "-d", "-w", "/workspace/site", sb, "--", "python3", "-m", "http.server", "8000", "--bind", "127.0.0.1")

	pf := startBackground(t, srv, "port-forward", sb, "0:8000")
	re := regexp.MustCompile(`Forwarding from (\S+) -> 8000`)
	var addr string
	waitFor(t, time.Minute, "port-forward to listen", func() bool {
		if m := re.FindStringSubmatch(pf.out.String()); m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	var body string
	waitFor(t, time.Minute, "the sandbox's HTTP server to answer", func() bool {
		resp, err := http.Get("http://" + addr + "/index.html")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		body = string(data)
		return resp.StatusCode == http.StatusOK
	})
	if body != "served from the sandbox" {
		t.Fatalf("through the forward: %q", body)
	}
	if code := pf.stop(t); code != 0 {
		t.Fatalf("port-forward after Ctrl-C: exit %d, stderr %q", code, pf.errb.String())
	}
	fails(t, srv, 2, "bad port pair", "port-forward", sb, "x:y")
}

func TestWatch(t *testing.T) {
	srv := newServer(t)
	ws := strings.TrimSpace(ok(t, srv, "create"))
	ok(t, srv, "files", "mkdir", ws+":w/sub")

	w := startBackground(t, srv, "watch", ws+":w", "-r", "-o", "json")
	// Writes until one shows: the watch may not be in place at once.
	n := 0
	waitFor(t, time.Minute, "a file event", func() bool {
		n++
		if r := cli(t, srv, strings.NewReader("x"), "cp", "-", ws+":w/sub/f"+strconv.Itoa(n)); r.code != 0 {
			t.Fatalf("cp: %s", r.stderr)
		}
		return strings.Contains(w.out.String(), "sub/f")
	})
	line := strings.SplitN(strings.TrimSpace(w.out.String()), "\n", 2)[0]
	var ev struct {
		Type  string `json:"type"`
		Path  string `json:"path"`
		IsDir bool   `json:"is_dir"`
	}
	if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.Type == "" || !strings.Contains(ev.Path, "sub/f") || ev.IsDir {
		t.Fatalf("watch -o json line %q: %+v, %v", line, ev, err)
	}
	if code := w.stop(t); code != 0 {
		t.Fatalf("watch after Ctrl-C: exit %d, stderr %q", code, w.errb.String())
	}
}

func TestParsePortPair(t *testing.T) {
	for _, tc := range []struct {
		in            string
		local, remote int
		ok            bool
	}{
		{"8080:8000", 8080, 8000, true},
		{"8000", 0, 8000, true},
		{"0:22", 0, 22, true},
		{"x:1", 0, 0, false},
		{"1:0", 0, 0, false},
		{"70000:1", 0, 0, false},
		{"", 0, 0, false},
	} {
		l, r, err := parsePortPair(tc.in)
		if (err == nil) != tc.ok || l != tc.local || r != tc.remote {
			t.Errorf("parsePortPair(%q) = %d, %d, %v", tc.in, l, r, err)
		}
	}
}
