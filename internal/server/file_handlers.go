//go:build !windows

package server

import (
	"encoding/base64"
	"errors"
	"fmt"
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

	"github.com/elevo/workspace-sdk-go/internal/wire"

	"golang.org/x/sys/unix"
)

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
	writeError(w, wire.CodeInvalidParameter, "unknown encoding: "+enc)
	return false, false
}

// decodeBody returns the bytes of a body field sent as text or, with b64,
// as standard base64 (decoded in place); a bad base64 is 400/1002 naming
// field, written to w (ok=false).
func decodeBody(w http.ResponseWriter, field, text string, b64 bool) (data []byte, ok bool) {
	data = []byte(text)
	if !b64 {
		return data, true
	}
	n, err := base64.StdEncoding.Decode(data, data)
	if err != nil {
		writeErrorDetails(w, wire.CodeInvalidParameter, field+" is not valid base64", err.Error())
		return nil, false
	}
	return data[:n], true
}

type readFileResponse struct {
	Content  string `json:"content"`
	Encoding string `json:"encoding,omitempty"`
}

func (s *Server) handleReadFile(w http.ResponseWriter, r *http.Request) {
	wf, p, rel, ok := s.fileRequest(w, r, true)
	if !ok {
		return
	}
	b64, ok := s.wantBase64(w, r.URL.Query().Get("encoding"))
	if !ok {
		return
	}
	f, fi, ok := openForRead(w, wf, p, rel)
	if !ok {
		return
	}
	limit := s.cfg.MaxJSONReadBytes
	if fi.Size() > limit {
		f.Close()
		s.jsonReadTooLarge(w, p, fi.Size())
		return
	}
	data := make([]byte, 0, fi.Size()+1)
	data, err := readAll(io.LimitReader(f, limit+1), data)
	f.Close()
	if int64(len(data)) > limit { // the file grew while it was read
		s.jsonReadTooLarge(w, p, int64(len(data)))
		return
	}
	if err != nil {
		writeFileError(w, err, p)
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
		writeError(w, wire.CodeInternal, "stream did not contain valid UTF-8")
		return
	}
	// Invalid UTF-8 becomes U+FFFD in encoding/json.
	writeJSON(w, http.StatusOK, readFileResponse{Content: string(data)})
}

// jsonReadTooLarge answers a JSON file read over the JSON read limit.
func (s *Server) jsonReadTooLarge(w http.ResponseWriter, p string, size int64) {
	writeError(w, wire.CodeRequestTooLarge, fmt.Sprintf(
		"File %s is larger than the JSON read limit (%d > %d bytes): read it with files/raw (GET /api/v1/workspaces/{id}/files/raw)",
		p, size, s.cfg.MaxJSONReadBytes))
}

func readAll(f io.Reader, buf []byte) ([]byte, error) {
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

// answerPath ends a handler that changed path p: the file error of err,
// or 200 with {"success":true,"path":p}.
func answerPath(w http.ResponseWriter, p string, err error) {
	if err != nil {
		writeFileError(w, err, p)
		return
	}
	writeJSON(w, http.StatusOK, pathResponse{Success: true, Path: p})
}

func (s *Server) handleWriteFile(w http.ResponseWriter, r *http.Request) {
	wf, done, ok := s.workspaceFilesForWrite(w, r)
	if !ok {
		return
	}
	defer done()
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
	data, ok := decodeBody(w, "content", *req.Content, b64)
	if !ok {
		return
	}
	rel, err := rootRel(p)
	if err != nil {
		writeFileError(w, err, p)
		return
	}
	answerPath(w, p, wf.writeAtomic(rel, data))
}

func (s *Server) handleDeleteFile(w http.ResponseWriter, r *http.Request) {
	_, wf, ok := s.workspaceFiles(w, r)
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
		writeFileError(w, err, p)
		return
	}
	fi, err := wf.Lstat(rel)
	if err != nil {
		writeFileError(w, err, p)
		return
	}
	if fi.IsDir() && recursive {
		err = wf.RemoveAll(rel)
	} else {
		err = wf.Remove(rel)
	}
	answerPath(w, p, err)
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
	case !m.IsRegular():
		return "other" // FIFO, socket, device
	}
	return "file"
}

type listFilesResponse struct {
	Files []fileInfoJSON `json:"files"`
}

func (s *Server) handleListFiles(w http.ResponseWriter, r *http.Request) {
	wf, p, rel, ok := s.fileRequest(w, r, false)
	if !ok {
		return
	}
	fi, err := wf.Stat(rel)
	if err == nil && !fi.IsDir() {
		err = syscall.ENOTDIR
	}
	var d *os.File
	if err == nil {
		d, err = wf.OpenFile(rel, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
	}
	if err != nil {
		writeFileError(w, err, p)
		return
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		writeFileError(w, err, p)
		return
	}
	slices.Sort(names)
	base := displayPath(rel)
	files := make([]fileInfoJSON, 0, len(names))
	rc, err := d.SyscallConn()
	if err != nil {
		writeFileError(w, err, p)
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
		writeFileError(w, cerr, p)
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
	case unix.S_IFREG:
	default:
		typ = "other" // FIFO, socket, device
	}
	return fileInfoJSON{Name: name, Path: p, Type: typ, Size: st.Size, ModifiedAt: &t}
}

func (s *Server) handleFileInfo(w http.ResponseWriter, r *http.Request) {
	wf, p, rel, ok := s.fileRequest(w, r, false)
	if !ok {
		return
	}
	fi, err := wf.Lstat(rel)
	if err != nil {
		writeFileError(w, err, p)
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
	wf, done, ok := s.workspaceFilesForWrite(w, r)
	if !ok {
		return
	}
	defer done()
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
		err = wf.mkdirAll(rel)
	}
	if errors.Is(err, syscall.ENOTDIR) {
		if fi, serr := wf.Lstat(rel); serr == nil && !fi.IsDir() {
			err = fs.ErrExist
		}
	}
	answerPath(w, p, err)
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
		writeFileError(w, err, *req.Source)
		return req, "", "", false
	}
	if dst, err = rootRel(*req.Destination); err == nil {
		_, _, err = splitRel(dst)
	}
	if err != nil {
		writeFileError(w, err, *req.Destination)
		return req, "", "", false
	}
	return req, src, dst, true
}

func (s *Server) handleMove(w http.ResponseWriter, r *http.Request) {
	_, wf, ok := s.workspaceFiles(w, r)
	if !ok {
		return
	}
	req, src, dst, ok := s.twoPaths(w, r)
	if !ok {
		return
	}
	if _, err := wf.Lstat(src); err != nil {
		writeFileError(w, err, *req.Source)
		return
	}
	dir, _, _ := splitRel(dst)
	if err := wf.mkdirAll(dir); err != nil {
		writeFileError(w, err, *req.Destination)
		return
	}
	if err := wf.Rename(src, dst); err != nil {
		writeFileError(w, err, *req.Destination)
		return
	}
	writeJSON(w, http.StatusOK, moveResponse{Success: true, Source: *req.Source, Destination: *req.Destination})
}

func (s *Server) handleCopy(w http.ResponseWriter, r *http.Request) {
	wf, done, ok := s.workspaceFilesForWrite(w, r)
	if !ok {
		return
	}
	defer done()
	req, src, dst, ok := s.twoPaths(w, r)
	if !ok {
		return
	}
	fi, err := wf.Stat(src)
	if err != nil {
		writeFileError(w, err, *req.Source)
		return
	}
	if fi.IsDir() {
		cs, cd := path.Clean(src), path.Clean(dst)
		if cd == cs || strings.HasPrefix(cd, cs+"/") {
			writeError(w, wire.CodeInvalidPath, "Cannot copy a directory into itself: "+*req.Destination)
			return
		}
		dir, _, _ := splitRel(dst)
		if err = wf.mkdirAll(dir); err == nil {
			err = wf.copyDir(src, dst, fi.Mode().Perm())
		}
	} else {
		err = wf.copyFile(src, dst, fi.Mode().Perm())
	}
	if err != nil {
		writeFileError(w, err, *req.Destination)
		return
	}
	writeJSON(w, http.StatusOK, moveResponse{Success: true, Source: *req.Source, Destination: *req.Destination})
}
