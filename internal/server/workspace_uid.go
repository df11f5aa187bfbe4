//go:build !windows

package server

import (
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// UIDRange is a range of host uids, one per workspace: Count uids from
// Start. The zero value is the single-uid mode (every sandbox runs as
// Config.UID).
type UIDRange struct {
	Start, Count int
}

// ParseUIDRange parses "START:COUNT"; "" and "single" are the single-uid
// mode (the zero UIDRange).
func ParseUIDRange(s string) (UIDRange, error) {
	if s == "" || s == "single" {
		return UIDRange{}, nil
	}
	a, b, ok := strings.Cut(s, ":")
	start, err1 := strconv.Atoi(a)
	count, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || start < 1000 || count < 1 || start+count > 1<<31-2 {
		return UIDRange{}, fmt.Errorf("bad uid range %q: want START:COUNT with START >= 1000 and COUNT >= 1, or \"single\"", s)
	}
	return UIDRange{Start: start, Count: count}, nil
}

// For is the uid of workspace id: Start plus a hash of the id modulo
// Count, so it is derived again after a restart without being stored.
// Workspace creation picks ids whose uid no other workspace has.
func (r UIDRange) For(id string) int {
	h := fnv.New64a()
	h.Write([]byte(id))
	return r.Start + int(h.Sum64()%uint64(r.Count))
}

// workspaceOwner is the host uid and gid of workspace id's sandboxes and
// files: its own uid from Config.UIDRange, else Config.UID/GID.
func (s *Server) workspaceOwner(id string) (uid, gid int) {
	if s.cfg.UIDRange.Count > 0 {
		u := s.cfg.UIDRange.For(id)
		return u, u
	}
	return s.cfg.UID, s.cfg.GID
}

// fileOwnerOf is the owner of files the server creates in workspace id.
func (s *Server) fileOwnerOf(id string) fileOwner {
	uid, gid := s.workspaceOwner(id)
	return fileOwner{uid: uid, gid: gid, chown: s.chown}
}

// maxIDTries bounds the search for a workspace id with a free uid.
const maxIDTries = 64

// newWorkspaceID returns a fresh workspace id whose uid (in per-workspace
// uid mode) no existing workspace has, or "" when none was found.
func (s *Server) newWorkspaceID() string {
	if s.cfg.UIDRange.Count == 0 || !s.chown {
		return newID()
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	used := make(map[int]bool, len(s.workspaces))
	for id := range s.workspaces {
		used[s.cfg.UIDRange.For(id)] = true
	}
	for range maxIDTries {
		if id := newID(); !used[s.cfg.UIDRange.For(id)] {
			return id
		}
	}
	return ""
}

// makeWorkspaceDir creates the directory of a workspace (dir is
// <data>/workspaces/<id>) when needed. A root server makes it 0700 and
// owned by the workspace's uid: host users other than that uid cannot
// reach into it (a setuid file planted by a sandbox is useless to them).
// A directory owned by another uid (a workspace made before the uid
// range) has its tree handed to the workspace's uid.
func (s *Server) makeWorkspaceDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
		return err
	}
	if !s.chown {
		return nil
	}
	uid, gid := s.workspaceOwner(filepath.Base(dir))
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != uid || int(st.Gid) != gid) {
		err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, uid, gid)
		})
		if err != nil {
			return err
		}
	}
	return os.Chmod(dir, 0o700)
}
