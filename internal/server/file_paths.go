//go:build !windows

package server

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
)

// errSpecial is returned for FIFOs, sockets and devices.
var errSpecial = errors.New("not a regular file")

// errRootPath is returned for operations that cannot apply to the root.
var errRootPath = errors.New("invalid path")

// errEscape is returned for a path that lexically leaves the workspace.
var errEscape = errors.New("path escapes from parent")

// rootRel turns a protocol path into a path for os.Root: a leading "/"
// means the workspace root, "" is ".". A path whose ".." components leave
// the root is errEscape; otherwise it is not rewritten, so ".." and
// symlinks are resolved (and confined) by os.Root.
func rootRel(p string) (string, error) {
	if strings.IndexByte(p, 0) >= 0 {
		return "", errRootPath
	}
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return ".", nil
	}
	if c := path.Clean(p); c == ".." || strings.HasPrefix(c, "../") {
		return "", errEscape
	}
	return p, nil
}

// splitRel splits rel into its parent directory and final name; the final
// name must be a real name (not "", "." or "..").
func splitRel(rel string) (dir, name string, err error) {
	rel = strings.TrimRight(rel, "/")
	i := strings.LastIndexByte(rel, '/')
	dir, name = ".", rel
	if i >= 0 {
		dir, name = rel[:i], rel[i+1:]
		if dir == "" {
			dir = "."
		}
	}
	if name == "" || name == "." || name == ".." {
		return "", "", errRootPath
	}
	return dir, name, nil
}

// errRootEscape is the error os.Root returns for a path that leaves the
// root. The os package does not export it, so it is taken once from what a
// lookup of ".." returns.
var errRootEscape = rootEscapeError()

func rootEscapeError() error {
	root, err := os.OpenRoot(os.TempDir())
	if err != nil {
		return errEscape
	}
	defer root.Close()
	_, err = root.Lstat("..")
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return errEscape
}

// isEscape reports whether err says a path left its os.Root (or lexically
// left the workspace: errEscape).
func isEscape(err error) bool {
	return errors.Is(err, errEscape) || errors.Is(err, errRootEscape)
}

// queryPath returns the "path" query parameter; required paths that are
// missing get 400 (plain in base mode).
func (s *Server) queryPath(w http.ResponseWriter, r *http.Request, required bool) (string, bool) {
	q := r.URL.Query()
	if !q.Has("path") && required {
		s.badQuery(w, "missing field `path`")
		return "", false
	}
	return q.Get("path"), true
}

// fileRequest resolves the workspace and the "path" query of a file
// request to its os.Root and root-relative path, writing the error itself
// when it fails (unknown workspace, missing path when required, a path
// that leaves the workspace).
func (s *Server) fileRequest(w http.ResponseWriter, r *http.Request, required bool) (wf workspaceFiles, p, rel string, ok bool) {
	_, wf, ok = s.workspaceFiles(w, r)
	if !ok {
		return workspaceFiles{}, "", "", false
	}
	if p, ok = s.queryPath(w, r, required); !ok {
		return workspaceFiles{}, "", "", false
	}
	rel, err := rootRel(p)
	if err != nil {
		writeFileError(w, err, p)
		return workspaceFiles{}, "", "", false
	}
	return wf, p, rel, true
}

// openForRead opens rel (the file of request path p) with openRegular,
// writing the error itself when it fails.
func openForRead(w http.ResponseWriter, wf workspaceFiles, p, rel string) (*os.File, os.FileInfo, bool) {
	f, fi, err := wf.openRegular(rel)
	if err != nil {
		writeFileError(w, err, p)
		return nil, nil, false
	}
	return f, fi, true
}

// displayPath is the workspace-relative path shown in FileInfo.
func displayPath(rel string) string {
	if rel == "." {
		return ""
	}
	return strings.TrimRight(rel, "/")
}
