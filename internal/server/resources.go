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
	if req.DiskMB != nil {
		return sandbox.Limits{}, nil, &resourceError{wire.CodeInvalidParameter, "resources: disk_mb is not enforced by this server"}
	}
	var l sandbox.Limits
	var out resourcesJSON
	var rerr *resourceError
	if out.MemoryMB, rerr = (resourceKind[int]{"memory_mb", "memory", minMemoryMB, ctl.Memory, rl.MaxMemoryMB, rl.DefaultMemoryMB}).resolve(req.MemoryMB); rerr != nil {
		return l, nil, rerr
	}
	if out.Pids, rerr = (resourceKind[int]{"pids", "pids", minPids, ctl.Pids, rl.MaxPids, rl.DefaultPids}).resolve(req.Pids); rerr != nil {
		return l, nil, rerr
	}
	if out.CPUs, rerr = (resourceKind[float64]{"cpus", "cpu", minCPUs, ctl.CPU, rl.MaxCPUs, rl.DefaultCPUs}).resolve(req.CPUs); rerr != nil {
		return l, nil, rerr
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

// resourceKind is one kind of sandbox limit as resolveResources checks it.
type resourceKind[T int | float64] struct {
	name     string // its field in "resources"
	cgroup   string // the cgroup controller that enforces it
	min      T      // smallest accepted value
	enforced bool   // the runtime enforces it
	max, def T      // the server's maximum and default (0: none)
}

// resolve returns the effective value of this kind for a request that
// asked for asked (nil: the server's default where enforced, else no
// limit), or why the request is refused.
func (k resourceKind[T]) resolve(asked *T) (*T, *resourceError) {
	if asked == nil {
		if k.def > 0 && k.enforced {
			def := k.def
			return &def, nil
		}
		return nil, nil
	}
	v := *asked
	switch f := float64(v); {
	case math.IsNaN(f) || math.IsInf(f, 0) || v < k.min:
		return nil, &resourceError{wire.CodeInvalidParameter, fmt.Sprintf("resources: %s %v: want at least %v", k.name, v, k.min)}
	case !k.enforced:
		return nil, &resourceError{wire.CodeInvalidParameter, fmt.Sprintf("resources: %s is not enforced on this host (no usable %s cgroup)", k.name, k.cgroup)}
	case k.max > 0 && v > k.max:
		return nil, &resourceError{wire.CodeSandboxLimitExceeded, fmt.Sprintf("resources: %s %v is over this server's maximum %v", k.name, v, k.max)}
	}
	return asked, nil
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
