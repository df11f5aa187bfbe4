package sandbox

import "os"

// DefaultUID is the host uid (and gid) sandbox processes run as when the
// server runs as root and no other uid is configured.
const DefaultUID = 100000

// HostOwner is the one rule for the host identity of sandbox processes.
// Given the configured uid and gid (0 means DefaultUID), it returns the
// host uid and gid that sandbox processes run as and whether the server
// must chown what it puts into a workspace to them. A server running as
// root starts sandboxes as that uid (so chown is true); any other server
// runs them as itself (its own effective ids, chown false).
//
// A workspace directory must be owned by (or writable for) the returned
// uid, and it and its parents must be searchable by it.
func HostOwner(uid, gid int) (hostUID, hostGID int, chown bool) {
	if uid == 0 {
		uid = DefaultUID
	}
	if gid == 0 {
		gid = DefaultUID
	}
	if !serverIsRoot() {
		return os.Geteuid(), os.Getegid(), false
	}
	return uid, gid, true
}

// serverIsRoot reports whether this process runs as root, the condition
// under which sandboxes run as a separate unprivileged host uid.
func serverIsRoot() bool { return os.Geteuid() == 0 }
