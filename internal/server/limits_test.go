//go:build !windows

package server

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/elevo/workspace-sdk-go/internal/wire"
)

// limitsConfig sets resource defaults and maxima and a uid range.
func limitsConfig(c *Config) {
	c.Resources = ResourceLimits{DefaultMemoryMB: 256, MaxMemoryMB: 512, DefaultPids: 256, MaxPids: 1024, DefaultCPUs: 1, MaxCPUs: 2}
	c.UIDRange = UIDRange{Start: 300000, Count: 1000}
}

// TestResourcesCreate: defaults and asked values are echoed in the
// Sandbox object's resources, over a maximum is 429/2005, malformed or
// unenforceable (disk_mb) is 400/1002.
func TestResourcesCreate(t *testing.T) {
	ts, sid := newRealServer(t, limitsConfig)
	if c := ts.runtimeControls(); !c.Memory || !c.Pids || !c.CPU {
		t.Skipf("this host has no usable cgroup controllers (%+v)", c)
	}
	got := ts.want(ts.do("GET", "/api/v1/sandboxes/"+sid, nil), 200, 0)["resources"]
	if want := map[string]any{"cpus": 1.0, "memory_mb": 256.0, "pids": 256.0}; !equalJSON(got, want) {
		t.Fatalf("default resources %v, want %v", got, want)
	}
	ws := ts.createWorkspace()
	sb := ts.createSandbox(ws, map[string]any{"resources": map[string]any{"cpus": 0.5, "memory_mb": 128, "pids": 64}})
	if want := map[string]any{"cpus": 0.5, "memory_mb": 128.0, "pids": 64.0}; !equalJSON(sb["resources"], want) {
		t.Fatalf("resources %v, want %v", sb["resources"], want)
	}
	create := func(res any) resp {
		return ts.do("POST", "/api/v1/sandboxes", map[string]any{"workspace_id": ws, "resources": res})
	}
	for _, res := range []map[string]any{{"memory_mb": 513}, {"pids": 1025}, {"cpus": 2.5}} {
		ts.want(create(res), 429, wire.CodeSandboxLimitExceeded)
	}
	for _, res := range []any{
		map[string]any{"disk_mb": 100}, map[string]any{"memory_mb": -1}, map[string]any{"memory_mb": 1},
		map[string]any{"pids": 0}, map[string]any{"cpus": 0}, map[string]any{"cpus": "x"}, map[string]any{"memory_mb": 1.5}, "big",
	} {
		ts.want(create(res), 400, wire.CodeInvalidParameter)
	}
}

func equalJSON(a any, b map[string]any) bool {
	m, ok := a.(map[string]any)
	if !ok || len(m) != len(b) {
		return false
	}
	for k, v := range b {
		if m[k] != v {
			return false
		}
	}
	return true
}

// TestResourcesNotEnforced: a runtime that enforces nothing leaves
// resources out, and a create that asks for them is refused (400/1002)
// rather than pretended.
func TestResourcesNotEnforced(t *testing.T) {
	ts := newTestServer(t, "", limitsConfig)
	ws := ts.createWorkspace()
	if sb := ts.createSandbox(ws, nil); sb["resources"] != nil {
		t.Fatalf("resources echoed without enforcement: %v", sb["resources"])
	}
	m := ts.want(ts.do("POST", "/api/v1/sandboxes", map[string]any{"workspace_id": ws, "resources": map[string]any{"pids": 100}}), 400, wire.CodeInvalidParameter)
	if !strings.Contains(m["message"].(string), "not enforced") {
		t.Fatalf("message %v", m["message"])
	}
}

// TestWorkspaceUIDs (issue 9 rows 4 and 5): each workspace has its own
// host uid; its directory is 0700 and owned by it, as are the files the
// API and the sandbox write; /workspace is nosuid,nodev inside, and a
// setuid file planted there cannot even be reached by host user nobody.
func TestWorkspaceUIDs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("per-workspace uids need a root server")
	}
	ts, sid := newRealServer(t, limitsConfig)
	ws2 := ts.createWorkspace()
	sid2 := ts.createSandbox(ws2, nil)["id"].(string)
	var ws1 string
	ts.mu.RLock()
	ws1 = ts.sandboxes[sid].rec.WorkspaceID
	dir1, dir2 := ts.workspaces[ws1].dir, ts.workspaces[ws2].dir
	ts.mu.RUnlock()
	uid1, _ := ts.workspaceOwner(ws1)
	uid2, _ := ts.workspaceOwner(ws2)
	if uid1 == uid2 || uid1 < 300000 || uid2 >= 301000 {
		t.Fatalf("workspace uids %d and %d", uid1, uid2)
	}
	for dir, uid := range map[string]int{dir1: uid1, dir2: uid2} {
		st := stat(t, dir)
		if st.Mode&0o777 != 0o700 || int(st.Uid) != uid {
			t.Fatalf("%s: mode %o uid %d, want 0700 and %d", dir, st.Mode&0o777, st.Uid, uid)
		}
	}
	ts.want(ts.do("PUT", filesURL(ws1, "", "/api.txt"), map[string]any{"content": "x"}), 200, 0)
	if st := stat(t, filepath.Join(dir1, "api.txt")); int(st.Uid) != uid1 {
		t.Fatalf("API-written file owned by %d, want %d", st.Uid, uid1)
	}
	run := func(sid, script string) map[string]any {
		return ts.want(ts.do("POST", "/api/v1/sandboxes/"+sid+"/process/run", map[string]any{"command": "sh", "args": []string{"-c", script}}), 200, 0)
	}
	r := run(sid, "cp /bin/true /workspace/suid && chmod 4755 /workspace/suid && grep ' /workspace ' /proc/self/mountinfo")
	if r["exit_code"] != 0.0 {
		t.Fatalf("plant: %v", r)
	}
	if mnt := r["stdout"].(string); !strings.Contains(mnt, "nosuid") || !strings.Contains(mnt, "nodev") {
		t.Fatalf("/workspace mount options: %s", mnt)
	}
	suid := filepath.Join(dir1, "suid")
	if st := stat(t, suid); st.Mode&syscall.S_ISUID == 0 || int(st.Uid) != uid1 {
		t.Fatalf("planted file mode %o uid %d", st.Mode, st.Uid)
	}
	cmd := exec.Command(suid)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if err := cmd.Run(); !errors.Is(err, os.ErrPermission) {
		t.Fatalf("host user nobody ran the planted setuid file: %v", err)
	}
	// Row 4: a pids=64 sandbox of workspace 1 cannot start its 100th
	// process; its processes are uid1's on the host, and the sandbox of
	// workspace 2 (another uid: another RLIMIT_NPROC) still forks.
	if !ts.runtimeControls().Pids {
		t.Skip("no usable pids cgroup on this host")
	}
	small := ts.createSandbox(ws1, map[string]any{"resources": map[string]any{"pids": 64}})["id"].(string)
	// The agent shares the limit: it may fail to start a thread once the
	// commands used the limit up and die, which fails only this sandbox
	// (503/5001). Either way no 100th process starts.
	resp := ts.do("POST", "/api/v1/sandboxes/"+small+"/process/run", map[string]any{"command": "sh", "args": []string{"-c",
		"n=0; while [ $n -lt 100 ]; do sleep 30 & n=$((n+1)); echo $n; done"}})
	if resp.status == 503 {
		ts.want(resp, 503, wire.CodeAgentNotConnected)
	} else {
		r = ts.want(resp, 200, 0)
		if n := len(strings.Fields(r["stdout"].(string))); n >= 100 || n < 30 {
			t.Fatalf("pids=64 sandbox started %d of 100 processes: %v", n, r["stderr"])
		}
		if n := hostProcsOf(uid1, "sleep"); n < 30 {
			t.Fatalf("%d sleep processes of uid %d on the host", n, uid1)
		}
	}
	r = run(sid2, "for i in $(seq 20); do true & done; wait; echo ok")
	if r["exit_code"] != 0.0 || strings.TrimSpace(r["stdout"].(string)) != "ok" {
		t.Fatalf("other workspace's sandbox cannot fork: %v", r)
	}
	t.Logf("workspace uids %d, %d", uid1, uid2)
}

func stat(t *testing.T, p string) *syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

// hostProcsOf counts host processes of uid whose command is comm.
func hostProcsOf(uid int, comm string) int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+e.Name(), &st) != nil || int(st.Uid) != uid {
			continue
		}
		if b, _ := os.ReadFile("/proc/" + e.Name() + "/comm"); strings.TrimSpace(string(b)) == comm {
			n++
		}
	}
	return n
}

func TestParseUIDRange(t *testing.T) {
	for in, want := range map[string]UIDRange{"": {}, "single": {}, "100000:65536": {100000, 65536}} {
		if got, err := ParseUIDRange(in); err != nil || got != want {
			t.Errorf("%q: %+v %v", in, got, err)
		}
	}
	for _, in := range []string{"100000", "0:10", "100000:0", "a:b", "100000:-1", "2147483000:100000"} {
		if _, err := ParseUIDRange(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	r := UIDRange{Start: 100000, Count: 10}
	if u := r.For("abc"); u != r.For("abc") || u < 100000 || u >= 100010 {
		t.Errorf("For: %d", u)
	}
}

// TestResourcesSurviveRestart: the effective resources are stored with
// the sandbox record and still echoed after a restart.
func TestResourcesSurviveRestart(t *testing.T) {
	dir, err := os.MkdirTemp("", "srvtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o711)
	real := func(c *Config) { limitsConfig(c); c.Runtime = nil }
	ts := newTestServer(t, dir, real)
	if c := ts.runtimeControls(); !c.Memory || !c.Pids || !c.CPU {
		t.Skipf("this host has no usable cgroup controllers (%+v)", c)
	}
	ws := ts.createWorkspace()
	id := ts.createSandbox(ws, map[string]any{"resources": map[string]any{"pids": 100}})["id"].(string)
	ts.Close()
	ts = newTestServer(t, dir, real)
	got := ts.want(ts.do("GET", "/api/v1/sandboxes/"+id, nil), 200, 0)
	if want := map[string]any{"cpus": 1.0, "memory_mb": 256.0, "pids": 100.0}; got["state"] != "stopped" || !equalJSON(got["resources"], want) {
		t.Fatalf("after restart: %v", got)
	}
}

// TestMemoryOOMStaysInside (issue 9 row 2 through the API): 200 MB into
// /dev/shm of a memory_mb=64 sandbox does not fit; the OOM kill stays in
// that sandbox, and the server and another sandbox keep going.
func TestMemoryOOMStaysInside(t *testing.T) {
	ts, other := newRealServer(t, limitsConfig)
	if !ts.runtimeControls().Memory {
		t.Skip("no usable memory cgroup on this host")
	}
	ws := ts.createWorkspace()
	small := ts.createSandbox(ws, map[string]any{"resources": map[string]any{"memory_mb": 64}})["id"].(string)
	r := ts.do("POST", "/api/v1/sandboxes/"+small+"/process/run", map[string]any{"command": "sh",
		"args": []string{"-c", "head -c 200000000 /dev/zero > /dev/shm/fill && echo wrote-all"}})
	if r.status == 200 && r.json(t)["exit_code"] == 0.0 {
		t.Fatalf("200 MB written under memory_mb=64: %s", r.body)
	}
	t.Logf("hog: %d %s", r.status, r.body)
	ts.want(ts.do("GET", "/api/v1/health", nil), 200, 0)
	m := ts.want(ts.do("POST", "/api/v1/sandboxes/"+other+"/process/run", map[string]any{"command": "echo", "args": []string{"alive"}}), 200, 0)
	if m["stdout"] != "alive\n" {
		t.Fatalf("other sandbox: %v", m)
	}
}
