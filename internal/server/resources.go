//go:build !windows

package server

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/elevo/workspace-sdk-go/internal/sandbox"
	"github.com/elevo/workspace-sdk-go/internal/wire"
)

// ResourceLimits are the server-wide defaults and maxima of sandbox
// resources (create's "resources"). A zero default sets no limit of that
// kind unless the request asks; a zero maximum allows any value.
type ResourceLimits struct {
	DefaultCPUs, MaxCPUs         float64
	DefaultMemoryMB, MaxMemoryMB int
	DefaultPids, MaxPids         int
}

// Smallest accepted values: below them the sandbox's own agent cannot run.
const (
	minMemoryMB = 16
	minPids     = 16
	minCPUs     = 0.01
)

// resourcesJSON is create's "resources" and the Sandbox object's
// effective "resources" (a field is absent when that kind is not limited).
type resourcesJSON struct {
	CPUs     *float64 `json:"cpus,omitempty"`
	MemoryMB *int     `json:"memory_mb,omitempty"`
	Pids     *int     `json:"pids,omitempty"`
	DiskMB   *int     `json:"disk_mb,omitempty"`
}

// controlsReporter is a Runtime that says which limits it enforces.
type controlsReporter interface {
	Controls() sandbox.Controls
}

// runtimeControls is what s's runtime can enforce (nothing for a runtime
// that does not say).
func (s *Server) runtimeControls() sandbox.Controls {
	if r, ok := s.rt.(controlsReporter); ok {
		return r.Controls()
	}
	return sandbox.Controls{}
}

// resourceError is a refused "resources" request: its code and message.
type resourceError struct {
	code wire.Code
	msg  string
}

// resolveResources applies the defaults and maxima to req and returns
// the sandbox's limits and their wire echo (a JSON object, nil when
// none), which is stored with the sandbox record. A value the
// runtime cannot enforce, or disk_mb, is refused (400/1002) rather than
// pretended; over a maximum is 429/2005.
func (s *Server) resolveResources(req *resourcesJSON) (sandbox.Limits, json.RawMessage, *resourceError) {
	ctl := s.runtimeControls()
	rl := s.cfg.Resources
	if req == nil {
		req = &resourcesJSON{}
	}
	bad := func(f string, a ...any) *resourceError {
		return &resourceError{wire.CodeInvalidParameter, "resources: " + fmt.Sprintf(f, a...)}
	}
	over := func(what string, v, max any) *resourceError {
		return &resourceError{wire.CodeSandboxLimitExceeded, fmt.Sprintf("resources: %s %v is over this server's maximum %v", what, v, max)}
	}
	if req.DiskMB != nil {
		return sandbox.Limits{}, nil, bad("disk_mb is not enforced by this server")
	}
	var l sandbox.Limits
	var out resourcesJSON
	if req.MemoryMB != nil {
		switch v := *req.MemoryMB; {
		case v < minMemoryMB:
			return l, nil, bad("memory_mb %d: want at least %d", v, minMemoryMB)
		case !ctl.Memory:
			return l, nil, bad("memory_mb is not enforced on this host (no usable memory cgroup)")
		case rl.MaxMemoryMB > 0 && v > rl.MaxMemoryMB:
			return l, nil, over("memory_mb", v, rl.MaxMemoryMB)
		}
		out.MemoryMB = req.MemoryMB
	} else if rl.DefaultMemoryMB > 0 && ctl.Memory {
		out.MemoryMB = &rl.DefaultMemoryMB
	}
	if req.Pids != nil {
		switch v := *req.Pids; {
		case v < minPids:
			return l, nil, bad("pids %d: want at least %d", v, minPids)
		case !ctl.Pids:
			return l, nil, bad("pids is not enforced on this host (no usable pids cgroup)")
		case rl.MaxPids > 0 && v > rl.MaxPids:
			return l, nil, over("pids", v, rl.MaxPids)
		}
		out.Pids = req.Pids
	} else if rl.DefaultPids > 0 && ctl.Pids {
		out.Pids = &rl.DefaultPids
	}
	if req.CPUs != nil {
		switch v := *req.CPUs; {
		case math.IsNaN(v) || math.IsInf(v, 0) || v < minCPUs:
			return l, nil, bad("cpus %v: want at least %v", v, minCPUs)
		case !ctl.CPU:
			return l, nil, bad("cpus is not enforced on this host (no usable cpu cgroup)")
		case rl.MaxCPUs > 0 && v > rl.MaxCPUs:
			return l, nil, over("cpus", v, rl.MaxCPUs)
		}
		out.CPUs = req.CPUs
	} else if rl.DefaultCPUs > 0 && ctl.CPU {
		out.CPUs = &rl.DefaultCPUs
	}
	if out.MemoryMB != nil {
		l.MemoryBytes = int64(*out.MemoryMB) << 20
	}
	if out.Pids != nil {
		l.Pids = int64(*out.Pids)
	}
	if out.CPUs != nil {
		l.CPUs = *out.CPUs
	}
	if l.IsZero() {
		return l, nil, nil
	}
	echo, err := json.Marshal(&out)
	if err != nil {
		return l, nil, &resourceError{wire.CodeInternal, err.Error()}
	}
	return l, echo, nil
}

// logUnenforcedDefaults says once, at start, which configured defaults
// the runtime cannot enforce.
func (s *Server) logUnenforcedDefaults() {
	ctl, rl := s.runtimeControls(), s.cfg.Resources
	var off []string
	if rl.DefaultMemoryMB > 0 && !ctl.Memory {
		off = append(off, "memory")
	}
	if rl.DefaultPids > 0 && !ctl.Pids {
		off = append(off, "pids")
	}
	if rl.DefaultCPUs > 0 && !ctl.CPU {
		off = append(off, "cpu")
	}
	if len(off) > 0 {
		s.log.Warn("sandbox resource defaults not enforced on this host; creates asking for them are refused", "kinds", off)
	}
}
