package workspace

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// progressLog records Progress calls.
type progressLog struct {
	mu    sync.Mutex
	calls [][2]int64
}

func (p *progressLog) fn(done, total int64) {
	p.mu.Lock()
	p.calls = append(p.calls, [2]int64{done, total})
	p.mu.Unlock()
}

func (p *progressLog) last() [2]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.calls) == 0 {
		return [2]int64{-2, -2}
	}
	return p.calls[len(p.calls)-1]
}

// monotonic reports whether done never decreases and total never changes.
func (p *progressLog) monotonic() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 1; i < len(p.calls); i++ {
		if p.calls[i][0] < p.calls[i-1][0] || p.calls[i][1] != p.calls[0][1] {
			return false
		}
	}
	return true
}

// uploadFraming is how the fake saw an upload's body framed.
type uploadFraming struct {
	length           int64
	transferEncoding []string
}

// scriptUpload answers the next request of f as a successful upload to
// path and records the framing of its body.
func scriptUpload(f *fake, path string) *uploadFraming {
	got := &uploadFraming{}
	f.script(reply{handler: func(w http.ResponseWriter, r *http.Request) {
		got.length, got.transferEncoding = r.ContentLength, r.TransferEncoding
		_, _ = io.WriteString(w, `{"success":true,"path":"`+path+`"}`)
	}})
	return got
}

func TestUploadRawKnownSize(t *testing.T) {
	f := newFake(t, []string{"files.raw"})
	got := scriptUpload(f, "a/b.bin")
	data := bytes.Repeat([]byte{0, 1, 2, 0xff}, 50_000)
	var p progressLog
	err := f.c.Workspace.Upload(ctxT(t), "w 1", "a/b.bin", bytes.NewReader(data), &TransferOptions{Progress: p.fn})
	require.NoError(t, err)
	req := f.only()
	assert.Equal(t, http.MethodPut, req.Method)
	assert.Equal(t, "/workspaces/w%201/files/raw", req.Path)
	assert.Equal(t, "path=a%2Fb.bin", req.Query)
	assert.Equal(t, "application/octet-stream", req.Header.Get("Content-Type"))
	assert.Equal(t, data, req.Body)
	assert.Equal(t, int64(len(data)), got.length)
	assert.Empty(t, got.transferEncoding)
	assert.Equal(t, [2]int64{int64(len(data)), int64(len(data))}, p.last())
	assert.True(t, p.monotonic())
}

func TestUploadRawUnknownSizeIsChunked(t *testing.T) {
	f := newFake(t, []string{"files.raw"})
	got := scriptUpload(f, "x")
	var p progressLog
	r := io.MultiReader(strings.NewReader("hello "), strings.NewReader("world")) // no Len
	require.NoError(t, f.c.Workspace.Upload(ctxT(t), "w", "x", r, &TransferOptions{Progress: p.fn}))
	assert.Equal(t, "hello world", string(f.only().Body))
	assert.Equal(t, int64(-1), got.length)
	assert.Equal(t, []string{"chunked"}, got.transferEncoding)
	assert.Equal(t, [2]int64{11, -1}, p.last())
}

func TestUploadExplicitSizeAndFileNotClosed(t *testing.T) {
	f := newFake(t, []string{"files.raw"})
	got := scriptUpload(f, "x")
	p := filepath.Join(t.TempDir(), "src")
	require.NoError(t, os.WriteFile(p, []byte("0123456789"), 0o644))
	file, err := os.Open(p)
	require.NoError(t, err)
	defer file.Close()
	_, err = file.Seek(4, io.SeekStart)
	require.NoError(t, err)
	// The size of a regular file comes from Stat minus the offset.
	require.NoError(t, f.c.Workspace.Upload(ctxT(t), "w", "x", file, nil))
	assert.Equal(t, "456789", string(f.only().Body))
	assert.Equal(t, int64(6), got.length)
	// The caller's file is still open.
	_, err = file.Seek(0, io.SeekStart)
	assert.NoError(t, err, "Upload closed the caller's file")
}

func TestUploadFallbackWithoutFilesRaw(t *testing.T) {
	f := newFake(t, []string{"binary"})
	f.ok(`{"success":true,"path":"x"}`)
	var p progressLog
	data := []byte{0xff, 0, 1}
	require.NoError(t, f.c.Workspace.Upload(ctxT(t), "w", "x", bytes.NewReader(data), &TransferOptions{Progress: p.fn}))
	req := f.only()
	assert.Equal(t, "/workspaces/w/files", req.Path)
	assert.JSONEq(t, `{"content":"`+base64.StdEncoding.EncodeToString(data)+`","encoding":"base64"}`, string(req.Body))
	assert.Equal(t, [2]int64{3, 3}, p.last())
}

func TestUploadErrors(t *testing.T) {
	f := newFake(t, []string{"files.raw"})
	f.script(reply{status: 413, body: `{"code":1001,"message":"upload larger than the server's limit of 10 bytes"}`})
	err := f.c.Workspace.Upload(ctxT(t), "w", "x", strings.NewReader("0123456789ab"), nil)
	var apiErr *Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 413, apiErr.StatusCode)
	assert.ErrorIs(t, err, ErrInvalidRequest)

	f.script(reply{status: 403, body: `{"code":7003,"message":"Path not allowed: ../x"}`})
	err = f.c.Workspace.Upload(ctxT(t), "w", "../x", strings.NewReader("a"), nil)
	assert.ErrorIs(t, err, ErrPathNotAllowed)
}

func TestDownloadRaw(t *testing.T) {
	f := newFake(t, []string{"files.raw"})
	data := bytes.Repeat([]byte("0123456789"), 1000)
	f.script(reply{handler: func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	}})
	var p progressLog
	rc, err := f.c.Workspace.Download(ctxT(t), "w", "d/f", &TransferOptions{Progress: p.fn})
	require.NoError(t, err)
	got, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	assert.Equal(t, data, got)
	req := f.only()
	assert.Equal(t, http.MethodGet, req.Method)
	assert.Equal(t, "/workspaces/w/files/raw", req.Path)
	assert.Equal(t, "path=d%2Ff", req.Query)
	assert.Empty(t, req.Header.Get("Range"))
	assert.Equal(t, [2]int64{int64(len(data)), int64(len(data))}, p.last())
	assert.True(t, p.monotonic())
}

func TestDownloadRange(t *testing.T) {
	data := []byte("0123456789abcdefghij")
	for _, tc := range []struct {
		name        string
		off, length int64
		wantRange   string
		want        string
		honour      bool // the server honours Range
	}{
		{"offset+length", 5, 4, "bytes=5-8", "5678", true},
		{"offset only", 15, 0, "bytes=15-", "fghij", true},
		{"length only", 0, 3, "bytes=0-2", "012", true},
		{"length past the end", 18, 10, "bytes=18-27", "ij", true},
		{"server ignores Range", 5, 4, "bytes=5-8", "5678", false},
		{"server ignores Range, offset only", 15, 0, "bytes=15-", "fghij", false},
		{"offset at the end", 20, 0, "bytes=20-", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, []string{"files.raw"})
			f.script(reply{handler: func(w http.ResponseWriter, r *http.Request) {
				if !tc.honour {
					r.Header.Del("Range")
				}
				http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
			}})
			var p progressLog
			rc, err := f.c.Workspace.Download(ctxT(t), "w", "f", &TransferOptions{Offset: tc.off, Length: tc.length, Progress: p.fn})
			require.NoError(t, err)
			got, err := io.ReadAll(rc)
			require.NoError(t, err)
			require.NoError(t, rc.Close())
			assert.Equal(t, tc.want, string(got))
			assert.Equal(t, tc.wantRange, f.only().Header.Get("Range"))
			assert.Equal(t, [2]int64{int64(len(tc.want)), int64(len(tc.want))}, p.last())
		})
	}
}

func TestDownloadErrors(t *testing.T) {
	f := newFake(t, []string{"files.raw"})
	f.script(reply{status: 404, body: `{"code":3001,"message":"File not found: f"}`})
	_, err := f.c.Workspace.Download(ctxT(t), "w", "f", nil)
	assert.ErrorIs(t, err, ErrFileNotFound)

	f.script(reply{status: 400, body: `{"code":3005,"message":"Is a directory: d"}`})
	_, err = f.c.Workspace.Download(ctxT(t), "w", "d", nil)
	assert.ErrorIs(t, err, ErrNotADirectory)

	_, err = f.c.Workspace.Download(ctxT(t), "w", "d", &TransferOptions{Offset: -1})
	assert.Error(t, err)

	// A body cut short is an error, never a silent short read.
	f.script(reply{handler: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = io.WriteString(w, "only ten b")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}})
	rc, err := f.c.Workspace.Download(ctxT(t), "w", "f", nil)
	require.NoError(t, err)
	_, err = io.ReadAll(rc)
	rc.Close()
	assert.True(t, errors.Is(err, io.ErrUnexpectedEOF), "err = %v", err)
}

func TestDownloadFallbackWithoutFilesRaw(t *testing.T) {
	f := newFake(t, nil)
	f.ok(`{"content":"0123456789"}`)
	var p progressLog
	rc, err := f.c.Workspace.Download(ctxT(t), "w", "f", &TransferOptions{Offset: 2, Length: 3, Progress: p.fn})
	require.NoError(t, err)
	got, err := io.ReadAll(rc)
	require.NoError(t, err)
	assert.Equal(t, "234", string(got))
	assert.Equal(t, "/workspaces/w/files", f.only().Path)
	assert.Equal(t, [2]int64{3, 3}, p.last())
}

func TestReadWriteFileUseRawRoutes(t *testing.T) {
	f := newFake(t, []string{"binary", "files.raw"})
	data := []byte{0, 0xff, 'x'}
	f.script(reply{status: 200, body: `{"success":true,"path":"p"}`},
		reply{handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(data)
		}})
	require.NoError(t, f.c.Workspace.WriteFile(ctxT(t), "w", "p", data))
	got, err := f.c.Workspace.ReadFile(ctxT(t), "w", "p")
	require.NoError(t, err)
	assert.Equal(t, data, got)
	reqs := f.requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "PUT /workspaces/w/files/raw path=p", reqs[0].Method+" "+reqs[0].Path+" "+reqs[0].Query)
	assert.Equal(t, data, reqs[0].Body)
	assert.Equal(t, "GET /workspaces/w/files/raw path=p", reqs[1].Method+" "+reqs[1].Path+" "+reqs[1].Query)

	// Empty data is an empty body, not chunked.
	f.script(reply{handler: func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 || len(r.TransferEncoding) != 0 {
			w.WriteHeader(400)
			return
		}
		_, _ = io.WriteString(w, `{"success":true,"path":"e"}`)
	}})
	require.NoError(t, f.c.Workspace.WriteFile(ctxT(t), "w", "e", nil))

	f.script(reply{status: 404, body: `{"code":3001,"message":"File not found: p"}`})
	_, err = f.c.Workspace.ReadFile(ctxT(t), "w", "p")
	assert.ErrorIs(t, err, ErrFileNotFound)
}
