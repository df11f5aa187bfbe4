//go:build linux

package sandbox

// placeSandbox is the step of Manager.Start between the agent's first
// answer and the sandbox being handed out: the agent's host pid is known
// (s.childPID; the agent is pid 1 of the sandbox) and no command has run
// yet. Per-sandbox resource limits (cgroups: pids, memory, CPU) attach
// the agent here, so that everything it starts inherits them. An error
// stops the sandbox and fails the start.
func (m *Manager) placeSandbox(s *Sandbox, spec *Spec) error {
	return nil
}
