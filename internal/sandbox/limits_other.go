//go:build !linux

package sandbox

// Controls reports that no limit can be enforced on this system.
func (m *Manager) Controls() Controls { return Controls{} }
