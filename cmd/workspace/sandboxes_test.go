package main

import (
	"strings"
	"testing"
)

func TestSandboxCommands(t *testing.T) {
	srv := newServer(t)
	wsID := strings.TrimSpace(ok(t, srv, "create"))
	other := strings.TrimSpace(ok(t, srv, "create"))

	var sb sandboxJSON
	okJSON(t, srv, &sb, "sandbox", "create", wsID, "--name", "box", "-e", "GREETING=hi")
	if sb.ID == "" || sb.WorkspaceID != wsID || sb.State != "running" || sb.Name != "box" || sb.Env["GREETING"] != "hi" {
		t.Fatalf("sandbox create -o json: %+v", sb)
	}
	otherSb := strings.TrimSpace(ok(t, srv, "sandbox", "create", other, "--no-wait"))

	var list []sandboxJSON
	okJSON(t, srv, &list, "sandbox", "ls", "--workspace", wsID)
	if len(list) != 1 || list[0].ID != sb.ID {
		t.Fatalf("sandbox ls --workspace: %+v", list)
	}
	if out := ok(t, srv, "sandbox", "wait", otherSb); !strings.Contains(out, "running") {
		t.Fatalf("sandbox wait: %q", out)
	}
	table := ok(t, srv, "sandbox", "ls", "--state", "running")
	if !strings.Contains(table, sb.ID) || !strings.Contains(table, otherSb) || !strings.HasPrefix(table, "ID") {
		t.Fatalf("sandbox ls table:\n%s", table)
	}

	// A workspace with a live sandbox cannot go; the SDK's error says why.
	fails(t, srv, 1, "code 7002", "rm", wsID)
	ok(t, srv, "sandbox", "rm", sb.ID, otherSb)
	okJSON(t, srv, &list, "sandbox", "ls", "--state", "running")
	if len(list) != 0 {
		t.Fatalf("running sandboxes after rm: %+v", list)
	}
	fails(t, srv, 1, "code 2001", "sandbox", "wait", "no-such-sandbox")
	ok(t, srv, "rm", wsID, other)
}
