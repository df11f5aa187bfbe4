package server

import (
	"encoding/base64"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
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

// isEscape reports whether err says a path left its os.Root.
func isEscape(err error) bool {
	return err != nil && strings.Contains(err.Error(), "path escapes from parent")
}

// fsError writes the protocol error for a file-system error on path p.
func fsError(w http.ResponseWriter, err error, p string) {
	var errno syscall.Errno
	switch {
	case isEscape(err):
		writeError(w, http.StatusForbidden, codePathNotAllowed, "Path not allowed: "+p)
	case errors.Is(err, errRootPath):
		writeError(w, http.StatusBadRequest, codeInvalidPath, "Invalid path: "+p)
	case errors.Is(err, errSpecial):
		writeError(w, http.StatusForbidden, codePermissionDenied, "Not a regular file: "+p)
	case errors.As(err, &errno) && errno == syscall.ENOTEMPTY:
		writeError(w, http.StatusBadRequest, codeDirectoryNotEmpty, "Directory not empty: "+p)
	case errors.Is(err, fs.ErrNotExist):
		writeError(w, http.StatusNotFound, codeFileNotFound, "File not found: "+p)
	case errors.Is(err, fs.ErrExist):
		writeError(w, http.StatusConflict, codeFileAlreadyExists, "File already exists: "+p)
	case errors.As(err, &errno) && errno == syscall.EISDIR:
		writeError(w, http.StatusBadRequest, codeNotADirectory, "Is a directory: "+p)
	case errors.As(err, &errno) && errno == syscall.ENOTDIR:
		writeError(w, http.StatusBadRequest, codeNotADirectory, "Not a directory: "+p)
	case errors.Is(err, fs.ErrPermission):
		writeError(w, http.StatusForbidden, codePermissionDenied, "Permission denied: "+p)
	case errors.As(err, &errno) && (errno == syscall.ELOOP || errno == syscall.ENAMETOOLONG || errno == syscall.EINVAL):
		writeErrorDetails(w, http.StatusBadRequest, codeInvalidPath, "Invalid path: "+p, err.Error())
	default:
		writeErrorDetails(w, http.StatusInternalServerError, codeInternal, "File operation failed: "+p, err.Error())
	}
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
func (s *Server) fileRequest(w http.ResponseWriter, r *http.Request, required bool) (root *os.Root, p, rel string, ok bool) {
	_, root, ok = s.workspaceRoot(w, r)
	if !ok {
		return nil, "", "", false
	}
	if p, ok = s.queryPath(w, r, required); !ok {
		return nil, "", "", false
	}
	rel, err := rootRel(p)
	if err != nil {
		fsError(w, err, p)
		return nil, "", "", false
	}
	return root, p, rel, true
}

// wantBase64 reads the "encoding" value: true for base64 (ignored in base
// mode, like upstream); unknown encodings are 400/1002.
func (s *Server) wantBase64(w http.ResponseWriter, enc string) (b64, ok bool) {
	if s.cfg.BaseMode {
		return false, true
	}
	switch strings.ToLower(enc) {
	case "", "utf-8", "utf8", "text":
		return false, true
	case "base64":
		return true, true
	}
	writeError(w, http.StatusBadRequest, codeInvalidParameter, "unknown encoding: "+enc)
	return false, false
}

// openRegular opens rel for reading, refusing directories (3005) and
// special files at once (O_NONBLOCK: a FIFO never blocks the open).
func openRegular(root *os.Root, rel string) (*os.File, os.FileInfo, error) {
	fi, err := root.Stat(rel)
	if err != nil {
		return nil, nil, err
	}
	if err := checkRegular(fi); err != nil {
		return nil, nil, err
	}
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	if fi, err = f.Stat(); err == nil {
		err = checkRegular(fi)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

func checkRegular(fi os.FileInfo) error {
	switch {
	case fi.IsDir():
		return syscall.EISDIR
	case !fi.Mode().IsRegular():
		return errSpecial
	}
	return nil
}

type readFileResponse struct {
	Content  string `json:"content"`
	Encoding string `json:"encoding,omitempty"`
}

func (s *Server) handleReadFile(w http.ResponseWriter, r *http.Request) {
	root, p, rel, ok := s.fileRequest(w, r, true)
	if !ok {
		return
	}
	b64, ok := s.wantBase64(w, r.URL.Query().Get("encoding"))
	if !ok {
		return
	}
	f, fi, err := openRegular(root, rel)
	if err != nil {
		fsError(w, err, p)
		return
	}
	data := make([]byte, 0, fi.Size()+1)
	data, err = readAll(f, data)
	f.Close()
	if err != nil {
		fsError(w, err, p)
		return
	}
	if b64 {
		// base64 needs no JSON escaping: write the body directly.
		const pre, post = `{"content":"`, `","encoding":"base64"}` + "\n"
		n := base64.StdEncoding.EncodedLen(len(data))
		body := make([]byte, len(pre)+n+len(post))
		copy(body, pre)
		base64.StdEncoding.Encode(body[len(pre):], data)
		copy(body[len(pre)+n:], post)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		w.Write(body) //nolint:errcheck // the client went away
		return
	}
	if s.cfg.BaseMode && !utf8.Valid(data) {
		writeError(w, http.StatusInternalServerError, codeInternal, "stream did not contain valid UTF-8")
		return
	}
	// Invalid UTF-8 becomes U+FFFD in encoding/json.
	writeJSON(w, http.StatusOK, readFileResponse{Content: string(data)})
}

func readAll(f *os.File, buf []byte) ([]byte, error) {
	for {
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

type writeFileRequest struct {
	Content  *string `json:"content"`
	Encoding string  `json:"encoding"`
}

type pathResponse struct {
	Success bool   `json:"success"`
	Path    string `json:"path"`
}

func (s *Server) handleWriteFile(w http.ResponseWriter, r *http.Request) {
	_, root, ok := s.workspaceRoot(w, r)
	if !ok {
		return
	}
	p, ok := s.queryPath(w, r, true)
	if !ok {
		return
	}
	var req writeFileRequest
	if !s.decodeJSON(w, r, &req) {
		return
	}
	if req.Content == nil {
		s.missingField(w, "content")
		return
	}
	b64, ok := s.wantBase64(w, req.Encoding)
	if !ok {
		return
	}
	data := []byte(*req.Content)
	if b64 {
		n, err := base64.StdEncoding.Decode(data, data)
		if err != nil {
			writeErrorDetails(w, http.StatusBadRequest, codeInvalidParameter, "content is not valid base64", err.Error())
			return
		}
		data = data[:n]
	}
	rel, err := rootRel(p)
	if err != nil {
		fsError(w, err, p)
		return
	}
	if err := s.writeFileAtomic(root, rel, data); err != nil {
		fsError(w, err, p)
		return
	}
	writeJSON(w, http.StatusOK, pathResponse{Success: true, Path: p})
}

// writeFileAtomic writes data to rel through a temporary file in the same
// directory renamed into place; parents are created.
func (s *Server) writeFileAtomic(root *os.Root, rel string, data []byte) error {
	f, tmp, err := s.createTemp(root, rel)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		root.Remove(tmp)
		return err
	}
	return s.commitTemp(root, tmp, rel)
}

// createTemp creates the parents of rel and a temporary file next to it
// (owned by the sandbox uid). The caller writes it, closes it and calls
// commitTemp, or removes tmp on failure. raw.go streams through it.
func (s *Server) createTemp(root *os.Root, rel string) (f *os.File, tmp string, err error) {
	dir, name, err := splitRel(rel)
	if err != nil {
		return nil, "", err
	}
	if err := s.mkdirAll(root, dir); err != nil {
		return nil, "", err
	}
	if fi, err := root.Lstat(rel); err == nil && fi.IsDir() {
		return nil, "", syscall.EISDIR
	}
	for range 10 {
		tmp = dir + "/." + name + ".tmp-" + newID()[:8]
		if len(name) > 200 {
			tmp = dir + "/.tmp-" + newID()
		}
		f, err = root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		break
	}
	if err != nil {
		return nil, "", err
	}
	if s.chown {
		if err := f.Chown(s.cfg.UID, s.cfg.GID); err != nil {
			f.Close()
			root.Remove(tmp)
			return nil, "", err
		}
	}
	return f, tmp, nil
}

// commitTemp renames tmp over rel, removing tmp when that fails.
func (s *Server) commitTemp(root *os.Root, tmp, rel string) error {
	if err := root.Rename(tmp, rel); err != nil {
		root.Remove(tmp)
		var errno syscall.Errno
		if errors.As(err, &errno) && (errno == syscall.EEXIST || errno == syscall.ENOTEMPTY) {
			return syscall.EISDIR
		}
		return err
	}
	return nil
}

// mkdirAll is mkdir -p inside root; directories it creates are owned by
// the sandbox uid. A non-directory in the way is ENOTDIR.
func (s *Server) mkdirAll(root *os.Root, dir string) error {
	if dir == "." || dir == "" {
		return nil
	}
	if fi, err := root.Stat(dir); err == nil {
		if !fi.IsDir() {
			return syscall.ENOTDIR
		}
		return nil
	}
	parts := strings.Split(dir, "/")
	cur := ""
	for _, part := range parts {
		if part == "" {
			continue
		}
		if cur == "" {
			cur = part
		} else {
			cur += "/" + part
		}
		if part == "." || part == ".." {
			continue
		}
		err := root.Mkdir(cur, 0o755)
		switch {
		case err == nil:
			if s.chown {
				if err := root.Lchown(cur, s.cfg.UID, s.cfg.GID); err != nil {
					return err
				}
			}
		case errors.Is(err, fs.ErrExist):
			fi, serr := root.Stat(cur)
			if serr != nil {
				return serr
			}
			if !fi.IsDir() {
				return syscall.ENOTDIR
			}
		default:
			return err
		}
	}
	return nil
}

func (s *Server) handleDeleteFile(w http.ResponseWriter, r *http.Request) {
	_, root, ok := s.workspaceRoot(w, r)
	if !ok {
		return
	}
	p, ok := s.queryPath(w, r, true)
	if !ok {
		return
	}
	recursive := r.URL.Query().Get("recursive") == "true"
	rel, err := rootRel(p)
	if err == nil {
		_, _, err = splitRel(rel)
	}
	if err != nil {
		fsError(w, err, p)
		return
	}
	fi, err := root.Lstat(rel)
	if err != nil {
		fsError(w, err, p)
		return
	}
	if fi.IsDir() && recursive {
		err = root.RemoveAll(rel)
	} else {
		err = root.Remove(rel)
	}
	if err != nil {
		fsError(w, err, p)
		return
	}
	writeJSON(w, http.StatusOK, pathResponse{Success: true, Path: p})
}

type fileInfoJSON struct {
	Name       string     `json:"name"`
	Path       string     `json:"path"`
	Type       string     `json:"type"`
	Size       int64      `json:"size"`
	ModifiedAt *time.Time `json:"modified_at"`
}

func fileType(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsDir():
		return "directory"
	}
	return "file"
}

// displayPath is the workspace-relative path shown in FileInfo.
func displayPath(rel string) string {
	if rel == "." {
		return ""
	}
	return strings.TrimRight(rel, "/")
}

type listFilesResponse struct {
	Files []fileInfoJSON `json:"files"`
}

func (s *Server) handleListFiles(w http.ResponseWriter, r *http.Request) {
	root, p, rel, ok := s.fileRequest(w, r, false)
	if !ok {
		return
	}
	fi, err := root.Stat(rel)
	if err == nil && !fi.IsDir() {
		err = syscall.ENOTDIR
	}
	var d *os.File
	if err == nil {
		d, err = root.OpenFile(rel, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
	}
	if err != nil {
		fsError(w, err, p)
		return
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		fsError(w, err, p)
		return
	}
	slices.Sort(names)
	base := displayPath(rel)
	files := make([]fileInfoJSON, 0, len(names))
	rc, err := d.SyscallConn()
	if err != nil {
		fsError(w, err, p)
		return
	}
	cerr := rc.Control(func(fd uintptr) {
		for _, name := range names {
			var st unix.Stat_t
			if err := unix.Fstatat(int(fd), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				continue // removed meanwhile
			}
			files = append(files, statInfo(name, path.Join(base, name), &st))
		}
	})
	if cerr != nil {
		fsError(w, cerr, p)
		return
	}
	writeJSON(w, http.StatusOK, listFilesResponse{Files: files})
}

func statInfo(name, p string, st *unix.Stat_t) fileInfoJSON {
	t := time.Unix(st.Mtim.Sec, st.Mtim.Nsec).UTC()
	typ := "file"
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		typ = "directory"
	case unix.S_IFLNK:
		typ = "symlink"
	}
	return fileInfoJSON{Name: name, Path: p, Type: typ, Size: st.Size, ModifiedAt: &t}
}

func (s *Server) handleFileInfo(w http.ResponseWriter, r *http.Request) {
	root, p, rel, ok := s.fileRequest(w, r, false)
	if !ok {
		return
	}
	fi, err := root.Lstat(rel)
	if err != nil {
		fsError(w, err, p)
		return
	}
	t := fi.ModTime().UTC()
	dp := displayPath(rel)
	name := path.Base(dp)
	if dp == "" {
		name = ""
	}
	writeJSON(w, http.StatusOK, fileInfoJSON{Name: name, Path: dp, Type: fileType(fi.Mode()), Size: fi.Size(), ModifiedAt: &t})
}

type mkdirRequest struct {
	Path *string `json:"path"`
}

func (s *Server) handleMkdir(w http.ResponseWriter, r *http.Request) {
	_, root, ok := s.workspaceRoot(w, r)
	if !ok {
		return
	}
	var req mkdirRequest
	if !s.decodeJSON(w, r, &req) {
		return
	}
	if req.Path == nil {
		s.missingField(w, "path")
		return
	}
	p := *req.Path
	rel, err := rootRel(p)
	if err == nil {
		err = s.mkdirAll(root, rel)
	}
	if errors.Is(err, syscall.ENOTDIR) {
		if fi, serr := root.Lstat(rel); serr == nil && !fi.IsDir() {
			err = fs.ErrExist
		}
	}
	if err != nil {
		fsError(w, err, p)
		return
	}
	writeJSON(w, http.StatusOK, pathResponse{Success: true, Path: p})
}

type moveRequest struct {
	Source      *string `json:"source"`
	Destination *string `json:"destination"`
}

type moveResponse struct {
	Success     bool   `json:"success"`
	Source      string `json:"source"`
	Destination string `json:"destination"`
}

// twoPaths decodes {source, destination} and resolves both.
func (s *Server) twoPaths(w http.ResponseWriter, r *http.Request) (req moveRequest, src, dst string, ok bool) {
	if !s.decodeJSON(w, r, &req) {
		return req, "", "", false
	}
	if req.Source == nil {
		s.missingField(w, "source")
		return req, "", "", false
	}
	if req.Destination == nil {
		s.missingField(w, "destination")
		return req, "", "", false
	}
	var err error
	if src, err = rootRel(*req.Source); err == nil {
		_, _, err = splitRel(src)
	}
	if err != nil {
		fsError(w, err, *req.Source)
		return req, "", "", false
	}
	if dst, err = rootRel(*req.Destination); err == nil {
		_, _, err = splitRel(dst)
	}
	if err != nil {
		fsError(w, err, *req.Destination)
		return req, "", "", false
	}
	return req, src, dst, true
}

func (s *Server) handleMove(w http.ResponseWriter, r *http.Request) {
	_, root, ok := s.workspaceRoot(w, r)
	if !ok {
		return
	}
	req, src, dst, ok := s.twoPaths(w, r)
	if !ok {
		return
	}
	if _, err := root.Lstat(src); err != nil {
		fsError(w, err, *req.Source)
		return
	}
	dir, _, _ := splitRel(dst)
	if err := s.mkdirAll(root, dir); err != nil {
		fsError(w, err, *req.Destination)
		return
	}
	if err := root.Rename(src, dst); err != nil {
		fsError(w, err, *req.Destination)
		return
	}
	writeJSON(w, http.StatusOK, moveResponse{Success: true, Source: *req.Source, Destination: *req.Destination})
}

func (s *Server) handleCopy(w http.ResponseWriter, r *http.Request) {
	_, root, ok := s.workspaceRoot(w, r)
	if !ok {
		return
	}
	req, src, dst, ok := s.twoPaths(w, r)
	if !ok {
		return
	}
	fi, err := root.Stat(src)
	if err != nil {
		fsError(w, err, *req.Source)
		return
	}
	if fi.IsDir() {
		cs, cd := path.Clean(src), path.Clean(dst)
		if cd == cs || strings.HasPrefix(cd, cs+"/") {
			writeError(w, http.StatusBadRequest, codeInvalidPath, "Cannot copy a directory into itself: "+*req.Destination)
			return
		}
		dir, _, _ := splitRel(dst)
		if err = s.mkdirAll(root, dir); err == nil {
			err = s.copyDir(root, src, dst, fi.Mode().Perm())
		}
	} else {
		err = s.copyFile(root, src, dst, fi.Mode().Perm())
	}
	if err != nil {
		fsError(w, err, *req.Destination)
		return
	}
	writeJSON(w, http.StatusOK, moveResponse{Success: true, Source: *req.Source, Destination: *req.Destination})
}

// copyFile copies the regular file src to dst atomically.
func (s *Server) copyFile(root *os.Root, src, dst string, perm fs.FileMode) error {
	in, _, err := openRegular(root, src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, tmp, err := s.createTemp(root, dst)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Chmod(perm)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		root.Remove(tmp)
		return err
	}
	return s.commitTemp(root, tmp, dst)
}

// copyDir copies the directory src to dst recursively; symlinks are
// copied as symlinks and special files are skipped.
func (s *Server) copyDir(root *os.Root, src, dst string, perm fs.FileMode) error {
	if err := root.Mkdir(dst, perm|0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if s.chown {
		if err := root.Lchown(dst, s.cfg.UID, s.cfg.GID); err != nil {
			return err
		}
	}
	d, err := root.OpenFile(src, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, name := range names {
		sp, dp := src+"/"+name, dst+"/"+name
		fi, err := root.Lstat(sp)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return err
		}
		switch m := fi.Mode(); {
		case m.IsDir():
			err = s.copyDir(root, sp, dp, m.Perm())
		case m&fs.ModeSymlink != 0:
			var target string
			if target, err = root.Readlink(sp); err == nil {
				root.Remove(dp)
				if err = root.Symlink(target, dp); err == nil && s.chown {
					err = root.Lchown(dp, s.cfg.UID, s.cfg.GID)
				}
			}
		case m.IsRegular():
			err = s.copyFile(root, sp, dp, m.Perm())
		}
		if err != nil {
			return err
		}
	}
	return nil
}
