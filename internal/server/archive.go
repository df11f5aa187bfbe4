//go:build !windows

package server

import (
	"bufio"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/elevo/workspace-sdk-go/internal/tarfs"
	"github.com/elevo/workspace-sdk-go/internal/wire"
)

// The files.archive feature (PROTOCOL.md Part 3): a directory as a tar
// stream, both ways, through the workspace's os.Root. Extraction is
// all-or-nothing: the archive lands in a hidden staging directory of the
// workspace and is renamed into place only once every entry was checked
// and written.

// archiveStagePrefix names the hidden staging directories of PUT
// files/archive (at the workspace root, on the workspace's file system).
const archiveStagePrefix = ".workspace-archive-"

// archiveBuffer is the write buffer in front of the response of GET
// files/archive.
const archiveBuffer = 64 << 10

// handleArchiveGet streams a tar (?format=tar.gz: gzipped) of path.
func (s *Server) handleArchiveGet(w http.ResponseWriter, r *http.Request) {
	wf, p, rel, ok := s.fileRequest(w, r, false)
	if !ok {
		return
	}
	gz := false
	switch f := r.URL.Query().Get("format"); f {
	case "", "tar":
	case "tar.gz", "tgz":
		gz = true
	default:
		s.badRequest(w, wire.CodeInvalidParameter, "Unknown archive format: "+f)
		return
	}
	fi, err := wf.Stat(rel)
	if err != nil {
		writeFileError(w, err, p)
		return
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		writeFileError(w, errSpecial, p)
		return
	}
	if gz {
		w.Header().Set("Content-Type", "application/gzip")
	} else {
		w.Header().Set("Content-Type", "application/x-tar")
	}
	w.WriteHeader(http.StatusOK)
	var out io.Writer = w
	var zw *gzip.Writer
	if gz {
		zw, _ = gzip.NewWriterLevel(w, gzip.BestSpeed)
		out = zw
	}
	bw := bufio.NewWriterSize(out, archiveBuffer)
	// The staging directories of concurrent PUTs are not part of the
	// workspace's tree.
	skip := func(p string) bool {
		return path.Clean(rel) == "." && strings.HasPrefix(p, archiveStagePrefix) && !strings.Contains(p, "/")
	}
	err = tarfs.WriteTree(bw, wf.Root, rel, &tarfs.WriteOptions{Skip: skip})
	if err == nil {
		err = bw.Flush()
	}
	if err == nil && zw != nil {
		err = zw.Close()
	}
	if err != nil {
		// A tar cut at an entry boundary would look complete: break
		// the response instead, so the client sees an error.
		s.log.Warn("files/archive: stream failed", "path", p, "err", err)
		panic(http.ErrAbortHandler)
	}
}

type archiveResponse struct {
	Success bool   `json:"success"`
	Path    string `json:"path"`
	Files   int    `json:"files"`
	Dirs    int    `json:"dirs"`
	Links   int    `json:"links"`
	Bytes   int64  `json:"bytes"`
}

// handleArchivePut extracts a tar or tar.gz under path, all or nothing.
func (s *Server) handleArchivePut(w http.ResponseWriter, r *http.Request) {
	limit := s.cfg.MaxUploadBytes
	wf, p, rel, ok := s.uploadRequest(w, r, false)
	if !ok {
		return
	}
	exists := false
	if fi, err := wf.Stat(rel); err == nil {
		if !fi.IsDir() {
			writeFileError(w, syscall.ENOTDIR, p)
			return
		}
		exists = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		writeFileError(w, err, p)
		return
	}
	stage := archiveStagePrefix + newID()[:13]
	if err := wf.Mkdir(stage, 0o755); err != nil {
		writeFileError(w, err, p)
		return
	}
	defer wf.RemoveAll(stage) //nolint:errcheck // gone once renamed into place
	opts := &tarfs.ExtractOptions{}
	if wf.owner.chown {
		uid, gid := wf.owner.uid, wf.owner.gid
		opts.Chown = func(root *os.Root, name string) error { return root.Lchown(name, uid, gid) }
		if err := wf.Lchown(stage, uid, gid); err != nil {
			writeFileError(w, err, p)
			return
		}
	}
	var body io.Reader = r.Body
	if limit > 0 {
		body = http.MaxBytesReader(w, r.Body, limit)
	}
	st, err := tarfs.Extract(wf.Root, stage, body, opts)
	if err == nil {
		if exists {
			err = wf.mergeArchive(stage, rel)
		} else {
			dir, _, serr := splitRel(rel)
			if err = serr; err == nil {
				if err = wf.mkdirAll(dir); err == nil {
					err = wf.Rename(stage, rel)
				}
			}
		}
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			s.uploadTooLarge(w)
		case errors.Is(err, tarfs.ErrUnsafe):
			writeErrorDetails(w, wire.CodePathNotAllowed, "Path not allowed in archive for: "+p, err.Error())
		case errors.Is(err, tarfs.ErrBadArchive):
			writeErrorDetails(w, wire.CodeInvalidParameter, "Bad archive for: "+p, err.Error())
		default:
			writeFileError(w, err, p)
		}
		return
	}
	writeJSON(w, http.StatusOK, archiveResponse{Success: true, Path: p, Files: st.Files, Dirs: st.Dirs, Links: st.Links, Bytes: st.Bytes})
}

// mergeArchive moves the staged tree src into the existing directory
// dst: new names are renamed in, existing files and symlinks are replaced
// (renamed over, never written through), existing directories are merged.
// Conflicts (a staged file where dst has a directory) are found before
// anything moves.
func (wf workspaceFiles) mergeArchive(src, dst string) error {
	if err := wf.mergeCheck(src, dst); err != nil {
		return err
	}
	return wf.mergeMove(src, dst)
}

func (wf workspaceFiles) mergeCheck(src, dst string) error {
	entries, err := fs.ReadDir(wf.FS(), src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		d := path.Join(dst, e.Name())
		fi, err := wf.Lstat(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		switch {
		case e.IsDir() && fi.IsDir():
			if err := wf.mergeCheck(path.Join(src, e.Name()), d); err != nil {
				return err
			}
		case !e.IsDir() && fi.IsDir():
			return &fs.PathError{Op: "extract", Path: d, Err: syscall.EISDIR}
		}
	}
	return nil
}

func (wf workspaceFiles) mergeMove(src, dst string) error {
	entries, err := fs.ReadDir(wf.FS(), src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		s, d := path.Join(src, e.Name()), path.Join(dst, e.Name())
		fi, err := wf.Lstat(d)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return err
		case e.IsDir() && fi.IsDir():
			if err := wf.mergeMove(s, d); err != nil {
				return err
			}
			continue
		case e.IsDir():
			if err := wf.Remove(d); err != nil { // a file or link in the way
				return err
			}
		}
		if err := wf.Rename(s, d); err != nil {
			return err
		}
	}
	return nil
}
