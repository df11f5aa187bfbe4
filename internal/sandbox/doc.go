// Package sandbox runs isolated sandboxes with bubblewrap, one long-lived
// agent process per sandbox, and executes commands and PTYs inside them.
//
// # Architecture
//
// Manager.Start runs one bwrap process per sandbox. Inside it runs the
// agent (package agent): the executable named by Config.AgentPath, either
// cmd/workspace-agent (static and small: the fast choice) or, by default,
// the running executable re-executed in agent mode; such an executable
// calls MaybeRunAgent first thing in main (or TestMain). NewManager checks
// that the executable answers as this version's agent, copies it once
// into Config.RunDir, and bwrap binds the copy read-only at /.agent/agent.
//
// Linux only: on other systems the package builds, NewManager fails with
// an error matching errors.ErrUnsupported and MaybeRunAgent does nothing.
//
// # Files
//
// manager_linux.go starts sandboxes; sandbox_linux.go is one running
// sandbox and its end; control_linux.go and proto_linux.go the control
// channel to its agent (the protocol itself is in package agent);
// process_linux.go, outpipe_linux.go and pipe_linux.go commands and their
// output; pty_linux.go terminals; bwrap_linux.go the bwrap command line;
// agent_linux.go MaybeRunAgent; uid.go the host identity rule (HostOwner).
//
// The server and the agent talk over a SOCK_SEQPACKET socket pair (bwrap
// passes the agent end through as descriptor 3). For each command the
// server creates the stdin/stdout/stderr pipes itself and hands the child
// ends to the agent with SCM_RIGHTS; the agent forks and executes the
// command in its own process group and reports its pid and, later, its
// exit status. Output is read straight from the pipes, so a reader that
// does not read blocks the command (back-pressure) and nothing is copied
// in between. For a PTY the agent opens /dev/ptmx inside the sandbox (a
// private devpts instance), starts the shell as a session leader with the
// slave as controlling terminal and passes the master back.
//
// # Isolation
//
// Every sandbox gets new user, pid, ipc, uts, cgroup, mount and (unless
// Config.ShareNetwork) network namespaces, all capabilities dropped, a
// cleared environment, a session of its own (no TIOCSTI into the server's
// terminal), a size-limited private /tmp, /proc, a read-only /dev built by
// bwrap (the usual device nodes, a private devpts) with a size-limited
// /dev/shm, a seccomp filter (seccomp_linux.go), no nested user
// namespaces, and a read-only root: either the host's /usr (with the merged-/usr symlinks)
// plus a short list of harmless /etc files (never shadow, gshadow,
// sudoers or private keys), or Spec.RootFS bound read-only. The root
// directory itself is a read-only tmpfs. Spec.WorkspaceDir is bound
// read-write at /workspace, which is the working directory.
//
// Processes inside run as uid 0 of the sandbox's user namespace. When the
// server runs as root, bwrap itself is started as Config.UID/Config.GID
// (default 100000), so sandbox root is that unprivileged host uid. Then:
//
//   - Spec.WorkspaceDir must be owned by (or writable for) that uid, and
//     files the server writes there should be chowned to it;
//   - Config.RunDir, Spec.WorkspaceDir, Spec.RootFS and every directory
//     above them must be searchable (x) by that uid (0711 or 0755), as
//     bwrap resolves the paths with the uid's permissions.
//
// When the server is not root, the sandbox root maps to the server's uid.
// HostOwner is the one rule for that identity.
//
// The agent is pid 1 of the sandbox's pid namespace and not dumpable, in
// a fresh session keyring: commands cannot signal, ptrace or read it, nor
// take its descriptors. The server treats its replies as untrusted (see
// control_linux.go): a violation, a death or a missed deadline ends the
// sandbox, and Err says why (ErrAgentDead, ErrAgentTimeout).
//
// Inside, the environment is PATH (/usr/local/sbin:/usr/local/bin:
// /usr/sbin:/usr/bin:/sbin:/bin) and HOME (/workspace) unless given, then
// Spec.Env, then the request's Env on top.
//
// The README's security section says point by point what a sandbox can
// and cannot do.
package sandbox
