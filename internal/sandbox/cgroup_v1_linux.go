//go:build linux

package sandbox

import "strconv"

// writeV1Limit writes limit l of controller ctl ("memory", "pids",
// "cpu") into the v1 cgroup dir.
func writeV1Limit(dir, ctl string, l Limits) error {
	switch ctl {
	case "memory":
		v := strconv.FormatInt(l.MemoryBytes, 10)
		if err := writeCgroupFile(dir, "memory.limit_in_bytes", v); err != nil {
			return err
		}
		// Memory plus swap equal to memory: no swap on top.
		if exists(dir, "memory.memsw.limit_in_bytes") {
			if err := writeCgroupFile(dir, "memory.memsw.limit_in_bytes", v); err != nil {
				return err
			}
		}
		if exists(dir, "memory.swappiness") {
			_ = writeCgroupFile(dir, "memory.swappiness", "0") // refused when the parent uses hierarchy; best effort
		}
	case "pids":
		return writeCgroupFile(dir, "pids.max", strconv.FormatInt(l.Pids, 10))
	case "cpu":
		if err := writeCgroupFile(dir, "cpu.cfs_period_us", strconv.Itoa(cfsPeriod)); err != nil {
			return err
		}
		return writeCgroupFile(dir, "cpu.cfs_quota_us", strconv.FormatInt(cfsQuota(l.CPUs), 10))
	}
	return nil
}
