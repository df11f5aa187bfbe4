//go:build linux

package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// cgroupServerLeaf is the leaf cgroup v2 the server moves itself into
// when its own cgroup must delegate controllers to its children (the "no
// internal processes" rule).
const cgroupServerLeaf = "workspace-server"

// setupV2 prepares own/workspace-sandboxes on the unified hierarchy and
// returns it with the controllers it can give sandbox cgroups.
func setupV2(own string) (string, Controls, error) {
	b, err := os.ReadFile(filepath.Join(own, "cgroup.controllers"))
	if err != nil {
		return "", Controls{}, err
	}
	avail := strings.Fields(string(b))
	var want []string
	for _, c := range []string{"memory", "pids", "cpu"} {
		for _, a := range avail {
			if a == c {
				want = append(want, c)
			}
		}
	}
	if len(want) == 0 {
		return "", Controls{}, nil
	}
	err = enableV2(own, want)
	if errors.Is(err, syscall.EBUSY) {
		// Our cgroup has processes (this server): move it to a leaf,
		// then the controllers can be handed down.
		leaf := filepath.Join(own, cgroupServerLeaf)
		if err = os.Mkdir(leaf, 0o755); err == nil || errors.Is(err, os.ErrExist) {
			if err = writeCgroupFile(leaf, "cgroup.procs", strconv.Itoa(os.Getpid())); err == nil {
				err = enableV2(own, want)
			}
		}
	}
	if err != nil {
		return "", Controls{}, err
	}
	dir := filepath.Join(own, cgroupParent)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", Controls{}, err
	}
	var ctl Controls
	for _, c := range want {
		if writeCgroupFile(dir, "cgroup.subtree_control", "+"+c) != nil {
			continue
		}
		switch c {
		case "memory":
			ctl.Memory = true
		case "pids":
			ctl.Pids = true
		case "cpu":
			ctl.CPU = true
		}
	}
	return dir, ctl, nil
}

// enableV2 enables controllers in dir's cgroup.subtree_control, skipping
// the write when they are already enabled.
func enableV2(dir string, ctls []string) error {
	b, _ := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	on := strings.Fields(string(b))
	var add []string
	for _, c := range ctls {
		found := false
		for _, o := range on {
			found = found || o == c
		}
		if !found {
			add = append(add, "+"+c)
		}
	}
	if len(add) == 0 {
		return nil
	}
	return writeCgroupFile(dir, "cgroup.subtree_control", strings.Join(add, " "))
}

// writeV2Limits writes l into the v2 cgroup dir.
func writeV2Limits(dir string, l Limits) error {
	if l.MemoryBytes > 0 {
		if err := writeCgroupFile(dir, "memory.max", strconv.FormatInt(l.MemoryBytes, 10)); err != nil {
			return err
		}
		if exists(dir, "memory.swap.max") {
			if err := writeCgroupFile(dir, "memory.swap.max", "0"); err != nil {
				return err
			}
		}
	}
	if l.Pids > 0 {
		if err := writeCgroupFile(dir, "pids.max", strconv.FormatInt(l.Pids, 10)); err != nil {
			return err
		}
	}
	if l.CPUs > 0 {
		v := strconv.FormatInt(cfsQuota(l.CPUs), 10) + " " + strconv.Itoa(cfsPeriod)
		if err := writeCgroupFile(dir, "cpu.max", v); err != nil {
			return err
		}
	}
	return nil
}
