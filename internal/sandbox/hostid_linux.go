//go:build linux

package sandbox

import "syscall"

// sysProcAttrFor is the host identity bwrap runs spec with: Spec.UID and
// Spec.GID (a workspace's own uid) when set, else the Manager's.
func (m *Manager) sysProcAttrFor(spec *Spec) *syscall.SysProcAttr {
	a := m.sysProcAttr()
	if a.Credential != nil && spec.UID > 0 {
		a.Credential.Uid = uint32(spec.UID)
		a.Credential.Gid = uint32(spec.UID)
		if spec.GID > 0 {
			a.Credential.Gid = uint32(spec.GID)
		}
	}
	return a
}
