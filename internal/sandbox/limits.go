package sandbox

import "errors"

// ErrLimitsUnsupported is returned by Start when Spec.Limits asks for a
// limit that the host gives this process no cgroup controller to enforce
// (not root, no delegated cgroup, controller absent).
var ErrLimitsUnsupported = errors.New("sandbox: resource limit not enforceable on this host")

// Limits are the cgroup limits of one sandbox; a zero field sets no limit
// of that kind. Every process of the sandbox, the agent included, is in
// the sandbox's cgroup before any command runs.
type Limits struct {
	// MemoryBytes bounds the memory of the sandbox: process memory and
	// the tmpfs pages (/tmp, /dev/shm) its processes write. No swap is
	// allowed on top. Past it the kernel's OOM killer kills a process of
	// this sandbox only.
	MemoryBytes int64
	// Pids bounds the number of processes and threads.
	Pids int64
	// CPUs bounds CPU time to this many cores' worth per period (CFS
	// bandwidth: cpu.max on cgroup v2, cpu.cfs_quota_us on v1).
	CPUs float64
}

// IsZero reports whether l sets no limit.
func (l Limits) IsZero() bool { return l == Limits{} }

// Controls says which kinds of Limits a Manager can enforce.
type Controls struct {
	Memory, Pids, CPU bool
}

// Allows reports whether every limit l sets is enforceable.
func (c Controls) Allows(l Limits) bool {
	return (l.MemoryBytes == 0 || c.Memory) && (l.Pids == 0 || c.Pids) && (l.CPUs == 0 || c.CPU)
}

// cfsPeriod is the CFS bandwidth period in microseconds; a CPU limit is a
// quota of CPUs*cfsPeriod per period.
const cfsPeriod = 100000

// cfsQuota is the quota in microseconds per cfsPeriod for cpus cores, at
// least the kernel's minimum of 1 ms.
func cfsQuota(cpus float64) int64 {
	q := int64(cpus * cfsPeriod)
	if q < 1000 {
		q = 1000
	}
	return q
}
