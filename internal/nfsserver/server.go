// Package nfsserver serves every workspace over NFSv3 + MOUNTv3 on one TCP
// port (no portmapper), confined to the workspace directory.
//
// CONTRACT STUB: the NFS helper replaces the bodies; the signatures stay.
package nfsserver

import (
	"errors"
	"log/slog"
	"net"
)

// Resolver maps a workspace id (the export path without its leading "/")
// to the workspace's host directory; ok is false for unknown workspaces.
// It is called on every MOUNT, so deleted workspaces disappear at once.
type Resolver func(workspaceID string) (dir string, ok bool)

// Config configures a Server.
type Config struct {
	Resolve  Resolver
	UID, GID int          // when the server runs as root, files and dirs it creates are chowned to this uid/gid (the sandbox uid); -1 = leave as is
	Logger   *slog.Logger // default slog.Default()
}

// Server is an NFSv3 server for workspaces.
type Server struct{}

// New returns a Server.
func New(cfg Config) *Server { return &Server{} }

// Serve accepts connections on l until Close.
func (s *Server) Serve(l net.Listener) error { return errors.New("not implemented") }

// Close stops the server and closes live connections.
func (s *Server) Close() error { return nil }
