// Package server is the reference Workspace server: the HTTP API of
// PROTOCOL.md (part 1 with the part 2 fixes and the part 2 and 3
// extensions), backed by a SQLite store, per-workspace os.Root file access
// and a sandbox runtime behind a small interface (runtime.go) that the
// bubblewrap runtime implements.
//
// New builds a Server (an http.Handler); Listen also opens the HTTP and
// NFS listeners and is what cmd/workspace-server and workspacetest use.
// See docs/ARCHITECTURE.md for the layers and the path of a request.
//
// The server runs sandboxes on Linux; it builds on other Unix systems for
// development, and not at all on Windows (this package is empty there).
package server
