//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"github.com/elevo/workspace-sdk-go/internal/mountinfo"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The cgroup files are written directly (a small cgroupfs for v1 and
// v2) rather than through containerd/cgroups: the agent is this same
// binary, and that library's package initialisation (protobuf, eBPF,
// D-Bus) doubled the idle memory of every sandbox's agent.

// cgroupParent is the directory, under the server's own cgroup, that
// holds one cgroup per sandbox.
const cgroupParent = "workspace-sandboxes"

// cgroupHost is what the host offers this process to limit sandboxes: for
// each controller, the parent directory where sandbox cgroups are made.
type cgroupHost struct {
	ctl Controls
	// v2 is the parent directory on the unified hierarchy when the
	// controllers come from cgroup v2, else "".
	v2 string
	// v1 maps "memory", "pids", "cpu" to their parent directories on
	// cgroup v1 hierarchies.
	v1 map[string]string
}

// sandboxCgroup is the cgroup (one directory per v1 hierarchy, or one v2
// directory) of one sandbox.
type sandboxCgroup struct {
	dirs []string
}

// newCgroupHost finds the controllers this process can use and logs once
// which limits it cannot enforce.
func newCgroupHost(log *slog.Logger) *cgroupHost {
	h, err := detectCgroups("/proc/self/mountinfo", "/proc/self/cgroup")
	if err != nil {
		h = &cgroupHost{}
	}
	var missing []string
	for name, ok := range map[string]bool{"memory": h.ctl.Memory, "pids": h.ctl.Pids, "cpu": h.ctl.CPU} {
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		log.Warn("sandbox resource limits not enforced: no usable cgroup controller",
			"controllers", strings.Join(missing, ","), "err", err)
	}
	return h
}

// detectCgroups reads the mount table and this process's cgroups and
// prepares a parent cgroup for sandboxes: v1 controllers where a v1
// hierarchy carries them, otherwise the unified hierarchy's.
func detectCgroups(mountinfo, self string) (*cgroupHost, error) {
	mounts, err := cgroupMounts(mountinfo)
	if err != nil {
		return nil, err
	}
	own, err := ownCgroups(self)
	if err != nil {
		return nil, err
	}
	h := &cgroupHost{v1: map[string]string{}}
	var errs []error
	for _, c := range []string{"memory", "pids", "cpu"} {
		m, ok := mounts[c]
		if !ok {
			continue
		}
		dir := filepath.Join(m.dir, strings.TrimPrefix(own[m.key], m.root), cgroupParent)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			errs = append(errs, err)
			continue
		}
		h.v1[c] = dir
	}
	_, h.ctl.Memory = h.v1["memory"]
	_, h.ctl.Pids = h.v1["pids"]
	_, h.ctl.CPU = h.v1["cpu"]
	if m, ok := mounts[""]; ok && !(h.ctl.Memory && h.ctl.Pids && h.ctl.CPU) {
		ownDir := filepath.Join(m.dir, strings.TrimPrefix(own[""], m.root))
		dir, ctl, err := setupV2(ownDir)
		if err != nil {
			errs = append(errs, err)
		}
		if ctl != (Controls{}) {
			// One hierarchy per sandbox is simpler than a mix: take
			// v2 when it offers more than the v1 mounts.
			if n(ctl) > n(h.ctl) {
				h.v1, h.v2, h.ctl = nil, dir, ctl
			}
		}
	}
	return h, errors.Join(errs...)
}

func n(c Controls) int {
	k := 0
	for _, b := range []bool{c.Memory, c.Pids, c.CPU} {
		if b {
			k++
		}
	}
	return k
}

// cgroupMount is one mounted cgroup hierarchy.
type cgroupMount struct {
	dir  string // mount point
	root string // the hierarchy path mounted there
	key  string // its key in /proc/self/cgroup ("cpu,cpuacct"; "" for v2)
}

// cgroupMounts maps "memory", "pids" and "cpu" to their v1 mounts and ""
// to the cgroup2 mount, from a mountinfo file.
func cgroupMounts(path string) (map[string]cgroupMount, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := mountinfo.Parse(f)
	if err != nil {
		return nil, err
	}
	out := map[string]cgroupMount{}
	for _, e := range entries {
		switch e.FSType {
		case "cgroup2":
			if _, ok := out[""]; !ok {
				out[""] = cgroupMount{dir: e.MountPoint, root: e.Root}
			}
		case "cgroup":
			var ctls []string
			for _, o := range strings.Split(e.Options, ",") {
				switch o {
				case "rw", "ro", "relatime", "noexec", "nosuid", "nodev", "clone_children", "xattr":
					continue
				}
				if !strings.Contains(o, "=") {
					ctls = append(ctls, o)
				}
			}
			for _, c := range ctls {
				if c == "memory" || c == "pids" || c == "cpu" {
					if _, ok := out[c]; !ok {
						out[c] = cgroupMount{dir: e.MountPoint, root: e.Root, key: strings.Join(ctls, ",")}
					}
				}
			}
		}
	}
	return out, nil
}

// ownCgroups maps each hierarchy key of a /proc/<pid>/cgroup file
// ("memory", "cpu,cpuacct", "" for v2) to this process's cgroup path. The
// keys of v1 lines are their controller lists as the kernel prints them.
func ownCgroups(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		out[parts[1]] = parts[2]
		for _, c := range strings.Split(parts[1], ",") {
			if _, ok := out[c]; !ok {
				out[c] = parts[2]
			}
		}
	}
	return out, nil
}

// create makes the cgroup of sandbox id with limits l. Only the
// controllers l uses are joined.
func (h *cgroupHost) create(id string, l Limits) (*sandboxCgroup, error) {
	if !h.ctl.Allows(l) {
		return nil, ErrLimitsUnsupported
	}
	cg := &sandboxCgroup{}
	var err error
	if h.v2 != "" {
		dir := filepath.Join(h.v2, id)
		if err = os.Mkdir(dir, 0o755); err == nil {
			cg.dirs = append(cg.dirs, dir)
			err = writeV2Limits(dir, l)
		}
	} else {
		for _, c := range []struct {
			name string
			use  bool
		}{{"memory", l.MemoryBytes > 0}, {"pids", l.Pids > 0}, {"cpu", l.CPUs > 0}} {
			if !c.use {
				continue
			}
			dir := filepath.Join(h.v1[c.name], id)
			if err = os.Mkdir(dir, 0o755); err != nil {
				break
			}
			cg.dirs = append(cg.dirs, dir)
			if err = writeV1Limit(dir, c.name, l); err != nil {
				break
			}
		}
	}
	if err != nil {
		cg.remove()
		return nil, fmt.Errorf("sandbox: cgroup: %w", err)
	}
	return cg, nil
}

// join moves process pid (all its threads) into every directory of cg.
func (cg *sandboxCgroup) join(pid int) error {
	for _, d := range cg.dirs {
		if err := writeCgroupFile(d, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("sandbox: join cgroup: %w", err)
		}
	}
	return nil
}

// cgroupRemoveWait bounds how long remove retries while the kernel still
// counts exiting processes in the cgroup.
const cgroupRemoveWait = 5 * time.Second

// remove deletes cg's directories once their processes are gone.
func (cg *sandboxCgroup) remove() error {
	var errs []error
	for _, d := range cg.dirs {
		deadline := time.Now().Add(cgroupRemoveWait)
		for {
			err := os.Remove(d)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				errs = append(errs, err)
				break
			}
			time.Sleep(5 * time.Millisecond) // polling the kernel, not synchronising goroutines
		}
	}
	return errors.Join(errs...)
}

// writeCgroupFile writes one cgroup interface file.
func writeCgroupFile(dir, name, value string) error {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(dir, name), err)
	}
	return nil
}

// exists reports whether dir has interface file name.
func exists(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}
