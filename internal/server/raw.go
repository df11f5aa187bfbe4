//go:build !windows

package server

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/elevo/workspace-sdk-go/internal/wire"
)

// Feature files.raw: GET and PUT /workspaces/{id}/files/raw?path=P move the
// bytes of one file without JSON or base64. GET streams the file with
// http.ServeContent from the *os.File opened in the workspace's os.Root:
// Range, If-Range and conditional requests work, and the kernel copies the
// bytes to the socket (sendfile). PUT streams the body into a temporary file
// in the workspace root, then creates missing parents and renames it into
// place once the whole body arrived; any failure (a dropped client, a body
// over the limit) removes the temporary file, so the old file, or nothing,
// stays. Nothing is fsynced, like the JSON write route. Paths follow the JSON
// file routes' rules (confinement 403/7003, directories 400/3005, special
// files refused).

// rawBufSize is the copy buffer of one upload: large enough to keep the
// syscall count low, small enough that memory stays flat.
const rawBufSize = 256 << 10

var rawBufPool = sync.Pool{New: func() any { b := make([]byte, rawBufSize); return &b }}

func (s *Server) handleRawRead(w http.ResponseWriter, r *http.Request) {
	wf, p, rel, ok := s.fileRequest(w, r, true)
	if !ok {
		return
	}
	f, fi, ok := openForRead(w, wf, p, rel)
	if !ok {
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	// ServeContent copies with io.CopyN from the *os.File to the
	// ResponseWriter, whose ReadFrom hands the file to the TCP connection:
	// sendfile(2), no user-space copy.
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

func (s *Server) handleRawWrite(w http.ResponseWriter, r *http.Request) {
	limit := s.cfg.MaxUploadBytes
	wf, p, rel, ok := s.uploadRequest(w, r, true)
	if !ok {
		return
	}
	// Refuse what cannot work before reading the body: escapes (403),
	// directories, a file in the way of a parent.
	if _, _, err := splitRel(rel); err != nil {
		writeFileError(w, err, p)
		return
	}
	if fi, err := wf.Lstat(rel); err == nil && fi.IsDir() {
		writeFileError(w, syscall.EISDIR, p)
		return
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		writeFileError(w, err, p)
		return
	}
	done, ok := s.beginWrite(w, r, max(r.ContentLength, 0))
	if !ok {
		return
	}
	defer done()
	// The temporary file lives in the data dir, outside the workspace,
	// and missing parents are created only once the body is complete: a
	// dropped upload (or a crash) leaves nothing behind in the workspace,
	// not even directories.
	f, err := wf.createTemp()
	if err != nil {
		writeFileError(w, err, p)
		return
	}
	var body io.Reader = newProgressBody(w, r.Body, s.cfg.TransferIdleTimeout)
	if limit > 0 {
		body = http.MaxBytesReader(w, io.NopCloser(body), limit)
	}
	src := &errReader{r: body}
	bp := rawBufPool.Get().(*[]byte)
	// fileWriter hides File.ReadFrom, whose generic path would allocate a
	// buffer of its own for every upload.
	_, err = io.CopyBuffer(&fileWriter{f: f, spaceLeft: s.spaceLeft}, src, *bp)
	rawBufPool.Put(bp)
	if err != nil {
		discardTemp(f)
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			s.uploadTooLarge(w)
		case src.err != nil:
			// Most likely the client went away mid-body; if it is
			// still there it learns why.
			writeErrorDetails(w, wire.CodeInvalidRequest, "upload interrupted: "+p, err.Error())
		default:
			writeFileError(w, err, p)
		}
		return
	}
	answerPath(w, p, wf.commitTemp(f, rel))
}

// isRawUpload reports whether r is a files/raw upload, whose body has a
// progress deadline instead of a total one.
func isRawUpload(r *http.Request) bool {
	return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/files/raw")
}

// uploadRequest is fileRequest for an upload (raw or archive PUT): first
// it answers 413 to a declared size over MaxUploadBytes, before reading
// anything; net/http then closes the connection rather than drain a large
// body.
func (s *Server) uploadRequest(w http.ResponseWriter, r *http.Request, required bool) (wf workspaceFiles, p, rel string, ok bool) {
	if limit := s.cfg.MaxUploadBytes; limit > 0 && r.ContentLength > limit {
		s.uploadTooLarge(w)
		return workspaceFiles{}, "", "", false
	}
	return s.fileRequest(w, r, required)
}

// uploadTooLarge answers 413 with the server's upload limit.
func (s *Server) uploadTooLarge(w http.ResponseWriter) {
	writeError(w, wire.CodeRequestTooLarge,
		fmt.Sprintf("upload larger than the server's limit of %d bytes", s.cfg.MaxUploadBytes))
}

// errReader remembers the error of the body, telling a dropped client from a
// failing disk.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// writebackChunk is how much an upload writes before it asks the kernel to
// start writing it back, so that the fsync before the answer finds little
// left to do.
const writebackChunk = 8 << 20

// fileWriter is an io.Writer with only Write, so that io.CopyBuffer uses
// the buffer it is given; it starts the writeback of every writebackChunk
// written (sync_file_range, asynchronous).
type fileWriter struct {
	f         *os.File
	off, cut  int64                 // bytes written; start of the range not yet written back
	spaceLeft func(need int64) bool // the free-space reserve, checked every chunk
}

func (fw *fileWriter) Write(p []byte) (int, error) {
	n, err := fw.f.Write(p)
	fw.off += int64(n)
	if fw.off-fw.cut >= writebackChunk {
		startWriteback(fw.f, fw.cut, fw.off-fw.cut)
		fw.cut = fw.off
		if err == nil && fw.spaceLeft != nil && !fw.spaceLeft(0) {
			err = errNoSpace
		}
	}
	return n, err
}
