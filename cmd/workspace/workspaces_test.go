package main

import (
	"strings"
	"testing"
)

func TestWorkspaceCommands(t *testing.T) {
	srv := newServer(t)

	var created workspaceJSON
	okJSON(t, srv, &created, "create", "--name", "alpha", "--meta", "team=core")
	if created.ID == "" || created.Name != "alpha" || created.Metadata["team"] != "core" || created.NFSURL == "" {
		t.Fatalf("create -o json: %+v", created)
	}
	plainID := strings.TrimSpace(ok(t, srv, "create", "--name", "beta"))
	if plainID == "" || strings.ContainsAny(plainID, " \t\n") {
		t.Fatalf("create prints %q, want the bare ID", plainID)
	}

	table := ok(t, srv, "ls")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(table, created.ID) || !strings.Contains(table, "beta") {
		t.Fatalf("ls table:\n%s", table)
	}
	var listed []workspaceJSON
	okJSON(t, srv, &listed, "ls")
	if len(listed) != 2 {
		t.Fatalf("ls -o json: %+v", listed)
	}

	if out := ok(t, srv, "rm", created.ID, plainID); !strings.Contains(out, created.ID) || !strings.Contains(out, plainID) {
		t.Fatalf("rm prints %q", out)
	}
	okJSON(t, srv, &listed, "ls")
	if len(listed) != 0 {
		t.Fatalf("ls after rm: %+v", listed)
	}
	// The SDK's message and code reach stderr; the exit status is 1.
	fails(t, srv, 1, "(code 7001)", "rm", created.ID)
}

func TestErrorsAndUsage(t *testing.T) {
	srv := newServer(t)

	fails(t, srv, 2, "unknown flag", "ls", "--bogus")
	fails(t, srv, 2, "unknown command", "frobnicate")
	fails(t, srv, 2, "unknown command", "sandbox", "frobnicate")
	if out := ok(t, srv, "sandbox"); !strings.Contains(out, "Available Commands") {
		t.Fatalf("sandbox alone prints %q, want its help", out)
	}
	fails(t, srv, 2, "accepts 1 arg", "sandbox", "wait")
	fails(t, srv, 2, "bad -o", "ls", "-o", "yaml")
	fails(t, srv, 2, "not a workspace path", "files", "cat", "/etc/passwd")
	fails(t, srv, 2, "bad --meta", "create", "--meta", "novalue")
	fails(t, srv, 2, "bad timeout", "ls", "--timeout", "soon")
	// A wrong key: the server's 401 with the SDK's message.
	fails(t, srv, 1, "code 1005", "ls", "--api-key", "wrong")
	// No server there: a transport error, exit 1.
	fails(t, nil, 1, "connection refused", "health", "--api-url", "http://127.0.0.1:1")
}

func TestHealth(t *testing.T) {
	srv := newServer(t)
	var h struct {
		Status   string   `json:"status"`
		Features []string `json:"features"`
	}
	okJSON(t, srv, &h, "health")
	if h.Status != "healthy" || !strings.Contains(strings.Join(h.Features, " "), "pty") {
		t.Fatalf("health -o json: %+v", h)
	}
	if out := ok(t, srv, "health"); !strings.Contains(out, "status:   healthy") {
		t.Fatalf("health:\n%s", out)
	}
}

func TestCompletionAndServeHelp(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		out := ok(t, nil, "completion", sh)
		if !strings.Contains(out, "workspace") || len(out) < 500 {
			t.Fatalf("completion %s: %q", sh, out)
		}
	}
	// serve takes workspace-server's flags, parsed by internal/servecmd.
	r := cli(t, nil, nil, "serve", "-h")
	if r.code != 0 || !strings.Contains(r.stderr, "-nfs-port") || !strings.Contains(r.stderr, "-data-dir") {
		t.Fatalf("serve -h: exit %d\n%s", r.code, r.stderr)
	}
	fails(t, nil, 1, "flag provided but not defined", "serve", "-no-such-flag")
}
