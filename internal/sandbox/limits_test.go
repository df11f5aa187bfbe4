//go:build linux

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCgroupV2FakeTree runs the cgroup v2 path against a fake unified
// hierarchy: detection, the parent with its controllers, a sandbox cgroup
// with its limits, joining and removal.
func TestCgroupV2FakeTree(t *testing.T) {
	root := t.TempDir()
	own := filepath.Join(root, "system.slice", "ws.service")
	if err := os.MkdirAll(own, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"cgroup.controllers": "cpuset cpu io memory pids", "cgroup.subtree_control": ""} {
		if err := os.WriteFile(filepath.Join(own, name), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mi := filepath.Join(t.TempDir(), "mountinfo")
	self := filepath.Join(t.TempDir(), "cgroup")
	os.WriteFile(mi, []byte("24 1 0:21 / /proc rw - proc proc rw\n35 24 0:30 / "+root+" rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"), 0o644)
	os.WriteFile(self, []byte("0::/system.slice/ws.service\n"), 0o644)

	h, err := detectCgroups(mi, self)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(own, cgroupParent); h.v2 != want || h.ctl != (Controls{true, true, true}) {
		t.Fatalf("host %+v, want v2 %s with all controls", h, want)
	}
	if b, _ := os.ReadFile(filepath.Join(own, "cgroup.subtree_control")); !strings.Contains(string(b), "+memory") {
		t.Fatalf("own subtree_control %q", b)
	}
	_, err = h.create("sbx/1", Limits{MemoryBytes: 64 << 20, Pids: 64, CPUs: 0.5})
	if err == nil {
		t.Fatal("an id with a slash made a nested cgroup")
	}
	cg, err := h.create("sbx-1", Limits{MemoryBytes: 64 << 20, Pids: 64, CPUs: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(h.v2, "sbx-1")
	for name, want := range map[string]string{"memory.max": "67108864", "pids.max": "64", "cpu.max": "50000 100000"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", name, b, err, want)
		}
	}
	if err := cg.join(4242); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs")); string(b) != "4242" {
		t.Errorf("cgroup.procs %q", b)
	}
	// A fake tree's files are real files: empty it as the kernel would.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		os.Remove(filepath.Join(dir, e.Name()))
	}
	if err := cg.remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("cgroup dir left: %v", err)
	}
}

// TestCgroupV1Hybrid detects v1 controllers on a hybrid layout like this
// machine's, joined hierarchies (cpu,cpuacct) included, and a host with
// no controller at all.
func TestCgroupV1Hybrid(t *testing.T) {
	root := t.TempDir()
	mi := filepath.Join(t.TempDir(), "mountinfo")
	self := filepath.Join(t.TempDir(), "cgroup")
	os.WriteFile(mi, []byte(fmt.Sprintf(
		"31 30 0:28 / %[1]s/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"+
			"34 30 0:31 / %[1]s/memory rw - cgroup cgroup rw,memory\n"+
			"38 30 0:35 / %[1]s/pids rw - cgroup cgroup rw,pids\n"+
			"40 30 0:37 / %[1]s/unified rw - cgroup2 cgroup2 rw\n", root)), 0o644)
	os.WriteFile(self, []byte("9:pids:/a\n4:memory:/b/c\n1:cpu,cpuacct:/\n0::/\n"), 0o644)
	h, err := detectCgroups(mi, self)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"memory": filepath.Join(root, "memory/b/c", cgroupParent),
		"pids":   filepath.Join(root, "pids/a", cgroupParent),
		"cpu":    filepath.Join(root, "cpu,cpuacct", cgroupParent),
	}
	for c, d := range want {
		if h.v1[c] != d {
			t.Errorf("%s: %q, want %q", c, h.v1[c], d)
		}
	}
	if h.v2 != "" || h.ctl != (Controls{true, true, true}) {
		t.Errorf("host %+v", h)
	}
	os.WriteFile(mi, []byte("24 1 0:21 / /proc rw - proc proc rw\n"), 0o644)
	if h, _ := detectCgroups(mi, self); h.ctl != (Controls{}) {
		t.Errorf("no cgroup mounts: %+v", h.ctl)
	}
	if _, err := (&cgroupHost{}).create("x", Limits{Pids: 1}); err != ErrLimitsUnsupported {
		t.Errorf("create without controllers: %v", err)
	}
}

// limitedSandbox starts a sandbox with limits l, as host uid uid (0 =
// the default) in a workspace it owns.
func limitedSandbox(t *testing.T, l Limits, uid int) *Sandbox {
	t.Helper()
	m := manager(t)
	if !m.Controls().Allows(l) {
		t.Skipf("this host gives no cgroup controller for %+v (controls %+v)", l, m.Controls())
	}
	ws := workspaceDir(t)
	if uid > 0 {
		if err := os.Chown(ws, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	s, err := m.Start(context.Background(), Spec{ID: fmt.Sprintf("lim-%d", sbxSeq.Add(1)), WorkspaceDir: ws, Limits: l, UID: uid})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Stop(0) })
	return s
}

// cgroupFile reads the first of names found in s's cgroup directories
// (v1 and v2 names of the same figure).
func cgroupFile(t *testing.T, s *Sandbox, names ...string) string {
	t.Helper()
	for _, name := range names {
		for _, d := range s.cg.dirs {
			if b, err := os.ReadFile(filepath.Join(d, name)); err == nil {
				return strings.TrimSpace(string(b))
			}
		}
	}
	t.Fatalf("no cgroup file %v in %v", names, s.cg.dirs)
	return ""
}

// TestLimitsAgentInCgroup checks that every process of a limited
// sandbox, the agent first, is in its cgroup, and that the cgroup goes
// away with the sandbox.
func TestLimitsAgentInCgroup(t *testing.T) {
	s := limitedSandbox(t, Limits{MemoryBytes: 256 << 20, Pids: 128, CPUs: 1}, 0)
	for _, d := range s.cg.dirs {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			t.Fatal(err)
		}
		agent := false
		for _, p := range strings.Fields(string(b)) {
			st, _ := os.ReadFile("/proc/" + p + "/status")
			for _, l := range strings.Split(string(st), "\n") {
				if f := strings.Fields(l); len(f) > 2 && f[0] == "NSpid:" && f[len(f)-1] == strconv.Itoa(s.agentPID) {
					agent = true
				}
			}
		}
		if !agent {
			t.Errorf("agent (pid %d inside) not in %s: %s", s.agentPID, d, b)
		}
	}
	dirs := s.cg.dirs
	s.Stop(0)
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("cgroup %s left after stop: %v", d, err)
		}
	}
}

// TestLimitsMemoryTmpfs (issue 9 row 2): writes into /dev/shm and /tmp
// are charged to the sandbox; 200 MiB do not fit in 64 MiB, the writer
// (or the sandbox) is OOM-killed, and another sandbox keeps running.
func TestLimitsMemoryTmpfs(t *testing.T) {
	other := startSandbox(t, "", nil)
	for _, dir := range []string{"/dev/shm", "/tmp"} {
		t.Run(strings.ReplaceAll(dir, "/", "_"), func(t *testing.T) {
			s := limitedSandbox(t, Limits{MemoryBytes: 64 << 20}, 0)
			res, err := s.Run(context.Background(), ExecRequest{Command: "sh", Args: []string{"-c",
				"head -c 200000000 /dev/zero > " + dir + "/fill && echo wrote-all"}})
			if err == nil && res.ExitCode == 0 {
				t.Fatalf("200 MB written into %s under a 64 MiB limit: %s", dir, res.Stdout)
			}
			// The kernel's OOM killer picks the sandbox's biggest process,
			// which may be its agent (a tmpfs writer is small): then the
			// whole sandbox ends, with ErrAgentDead, and its cgroup is gone.
			// Either way nothing outside the sandbox was touched.
			if errors.Is(err, ErrAgentDead) {
				<-s.Done()
				if !errors.Is(s.Err(), ErrAgentDead) {
					t.Fatalf("sandbox ended with %v, want ErrAgentDead (its agent OOM-killed)", s.Err())
				}
				t.Logf("run: err %v; the OOM killer took the agent, the sandbox ended", err)
			} else {
				peak := cgroupFile(t, s, "memory.max_usage_in_bytes", "memory.peak")
				if n, _ := strconv.ParseInt(peak, 10, 64); n > 64<<20 {
					t.Errorf("memory peak %d over the limit", n)
				}
				t.Logf("run: err %v, result %+v; peak %s", err, res, peak)
			}
			if r := run(t, other, ExecRequest{Command: "true"}); r.ExitCode != 0 {
				t.Fatalf("other sandbox: %+v", r)
			}
		})
	}
}

// TestLimitsPids (issue 9 row 4): a sandbox with pids=64 cannot start
// its 100th process, and a sandbox of another workspace (another host
// uid) still forks.
func TestLimitsPids(t *testing.T) {
	s := limitedSandbox(t, Limits{Pids: 64}, 0)
	other := limitedSandbox(t, Limits{Pids: 256}, DefaultUID+1)
	res, err := s.Run(context.Background(), ExecRequest{Command: "sh", Args: []string{"-c",
		"n=0; while [ $n -lt 100 ]; do sleep 30 & n=$((n+1)); echo $n; done"}})
	var lines []string
	if err != nil {
		// The agent shares the sandbox's pids limit: when the commands
		// use it up, the agent may fail to start a thread and die, which
		// ends this sandbox (ErrAgentDead) and nothing else.
		if !errors.Is(err, ErrAgentDead) {
			t.Fatalf("run at the pids limit: %v, want a result or ErrAgentDead", err)
		}
		<-s.Done()
		t.Logf("the agent died at the pids limit: %v", err)
	} else {
		lines = strings.Fields(string(res.Stdout))
		if len(lines) >= 100 {
			t.Fatalf("100 processes started under pids=64")
		}
		if cur, _ := strconv.Atoi(cgroupFile(t, s, "pids.current")); cur > 64 {
			t.Fatalf("pids.current %d", cur)
		}
		if ev := cgroupFile(t, s, "pids.events"); ev == "max 0" {
			t.Fatalf("no fork was refused: %s", ev)
		}
	}
	r := run(t, other, ExecRequest{Command: "sh", Args: []string{"-c",
		"for i in $(seq 20); do true & done; wait; echo ok"}})
	if r.ExitCode != 0 || strings.TrimSpace(string(r.Stdout)) != "ok" {
		t.Fatalf("other sandbox cannot fork: %+v %s", r, r.Stderr)
	}
	if res != nil {
		t.Logf("limited sandbox started %d of 100; stderr %q", len(lines), firstLine(res.Stderr))
	}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}

// TestLimitsCPU (issue 9 row 7): two busy loops in a sandbox with
// cpus=0.5 are throttled, and another sandbox's `true` keeps its p50
// within 2x of its idle baseline (plus 50 ms for this shared machine).
func TestLimitsCPU(t *testing.T) {
	hog := limitedSandbox(t, Limits{CPUs: 0.5}, 0)
	other := startSandbox(t, "", nil)
	p50 := func() time.Duration {
		var lat []time.Duration
		for range 15 {
			t0 := time.Now()
			run(t, other, ExecRequest{Command: "true"})
			lat = append(lat, time.Since(t0))
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		return lat[len(lat)/2]
	}
	base := p50()
	// setsid: hogs in their own sessions escape autogroup fairness.
	// Bounded: the loops end after 10 s at the latest, and the test
	// stops the sandbox as soon as it has measured.
	loop := `setsid timeout 10 sh -c 'while :; do :; done'`
	p, err := hog.Start(context.Background(), ExecRequest{Command: "sh", Args: []string{"-c", loop + " & " + loop + " & wait"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		hog.Stop(0)
		p.Stdout.Close()
		p.Stderr.Close()
		p.Wait()
	}()
	eventually(t, "the hog is throttled", func() bool {
		for _, l := range strings.Split(cgroupFile(t, hog, "cpu.stat"), "\n") {
			if f := strings.Fields(l); len(f) == 2 && f[0] == "nr_throttled" && f[1] != "0" {
				return true
			}
		}
		return false
	})
	busy := p50()
	t.Logf("true p50: idle %v, next to a cpus=0.5 hog %v", base, busy)
	if busy > 2*base+50*time.Millisecond {
		t.Errorf("true p50 %v next to the hog, idle %v", busy, base)
	}
}
