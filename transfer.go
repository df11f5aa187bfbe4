package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
)

// TransferOptions configures Upload and Download. A nil *TransferOptions
// means all defaults.
type TransferOptions struct {
	// Progress, when set, is called as bytes move with the number of bytes
	// done so far and the total, or -1 when the total is unknown. Calls do
	// not overlap, but for Upload they come from the HTTP transport's
	// goroutine, not the caller's. Setting Progress keeps Upload from
	// handing an *os.File straight to the kernel (sendfile), which costs a
	// little speed.
	Progress func(done, total int64)

	// Size is the number of bytes Upload will read from r, sent as the
	// Content-Length so the server can refuse an upload over its limit
	// before anything is sent. 0 means: find it out from r when r has a
	// Len() int method (bytes.Reader, strings.Reader, bytes.Buffer) or is
	// a regular *os.File, else send the body chunked with an unknown
	// length. When Size is set, r must yield exactly Size bytes.
	Size int64

	// Offset is the first byte Download returns (default 0).
	Offset int64
	// Length is the number of bytes Download returns from Offset; 0 means
	// up to the end of the file. Fewer bytes come back when the file ends
	// first.
	Length int64
}

func (o *TransferOptions) progress() func(done, total int64) {
	if o == nil {
		return nil
	}
	return o.Progress
}

// Upload writes everything read from r to path in the workspace, replacing
// any existing file and creating parent directories. With a server that
// advertises the "files.raw" feature the bytes are streamed: memory stays
// flat whatever the size, and the server writes a temp file it renames into
// place only once the whole body arrived, so a failed or cancelled upload
// leaves the old file (or nothing) behind. Against other servers (upstream)
// Upload falls back to WriteFile: r is read into memory first, and
// non-UTF-8 data needs the "binary" feature (else ErrUnsupported).
//
// The client timeout (WithTimeout) bounds only connecting; the transfer is
// bounded by ctx. An upload over the server's size limit fails with an
// error matching ErrRequestTooLarge (StatusCode 413). opts may be nil.
func (s *WorkspaceService) Upload(ctx context.Context, id, path string, r io.Reader, opts *TransferOptions) error {
	const op = "upload"
	var size int64
	switch {
	case r == nil:
		r = http.NoBody
	case opts != nil && opts.Size > 0:
		size = opts.Size
	default:
		size = readerSize(r)
	}
	ok, err := s.c.hasFeature(ctx, FeatureFilesRaw)
	if err != nil {
		return err
	}
	if !ok {
		data, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("workspace: %s: read source: %w", op, err)
		}
		if err := s.WriteFile(ctx, id, path, data); err != nil {
			return err
		}
		if fn := opts.progress(); fn != nil {
			fn(int64(len(data)), int64(len(data)))
		}
		return nil
	}
	body := r
	if fn := opts.progress(); fn != nil {
		fn(0, size)
		body = &progressReader{r: r, total: size, fn: fn}
	}
	// NopCloser: the transport closes a ReadCloser body, and r is the
	// caller's to close. The transport unwraps a NopCloser, so an *os.File
	// still goes to the socket with sendfile.
	resp, err := s.c.open(ctx, &apiRequest{op: op, method: http.MethodPut, path: workspacePath(id, "/files/raw"),
		query: url.Values{"path": {path}}, body: io.NopCloser(body), size: size, scope: untilConnected})
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return nil
}

// Download returns a reader of the file at path in the workspace (or of the
// range opts.Offset, opts.Length). Close it when done. With a server that
// advertises the "files.raw" feature the bytes are streamed as the caller
// reads them, and memory stays flat whatever the size; against other
// servers (upstream) Download falls back to ReadFile, which holds the whole
// file in memory.
//
// The client timeout (WithTimeout) bounds connecting and the wait for the
// answer's headers; the body is bounded by ctx: cancelling ctx ends its
// reads with an error. A body that ends early returns
// io.ErrUnexpectedEOF. A missing file matches ErrFileNotFound, a directory
// ErrNotADirectory. An Offset at or past the end of the file yields an
// empty reader when Length is 0. opts may be nil.
func (s *WorkspaceService) Download(ctx context.Context, id, path string, opts *TransferOptions) (io.ReadCloser, error) {
	const op = "download"
	var off, length int64
	if opts != nil {
		off, length = opts.Offset, opts.Length
	}
	if off < 0 || length < 0 {
		return nil, fmt.Errorf("workspace: %s: negative Offset or Length", op)
	}
	ok, err := s.c.hasFeature(ctx, FeatureFilesRaw)
	if err != nil {
		return nil, err
	}
	if !ok {
		data, err := s.ReadFile(ctx, id, path)
		if err != nil {
			return nil, err
		}
		data = data[min(off, int64(len(data))):]
		if length > 0 {
			data = data[:min(length, int64(len(data)))]
		}
		var rc io.ReadCloser = io.NopCloser(bytes.NewReader(data))
		if fn := opts.progress(); fn != nil {
			rc = newProgressBody(rc, int64(len(data)), fn)
			fn(0, int64(len(data)))
		}
		return rc, nil
	}
	r := &apiRequest{op: op, method: http.MethodGet, path: workspacePath(id, "/files/raw"), query: url.Values{"path": {path}},
		accept: "application/octet-stream", scope: untilHeaders}
	if off > 0 || length > 0 {
		rng := "bytes=" + strconv.FormatInt(off, 10) + "-"
		if length > 0 {
			rng += strconv.FormatInt(off+length-1, 10)
		}
		r.header = http.Header{"Range": {rng}}
	}
	resp, err := s.c.open(ctx, r)
	if err != nil {
		var apiErr *Error
		if length == 0 && errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusRequestedRangeNotSatisfiable {
			return emptyBody(opts), nil
		}
		return nil, err
	}
	var rc io.ReadCloser = resp.Body
	total := resp.ContentLength
	if resp.StatusCode != http.StatusPartialContent && (off > 0 || length > 0) {
		// The server ignored the Range header: skip and cut here.
		if _, err := io.CopyN(io.Discard, resp.Body, off); err != nil {
			resp.Body.Close()
			if errors.Is(err, io.EOF) {
				return emptyBody(opts), nil
			}
			return nil, fmt.Errorf("workspace: %s: %w", op, err)
		}
		if total >= 0 {
			total -= off
		}
		if length > 0 {
			rc = struct {
				io.Reader
				io.Closer
			}{io.LimitReader(resp.Body, length), resp.Body}
			if total < 0 || total > length {
				total = length
			}
		}
	}
	if fn := opts.progress(); fn != nil {
		fn(0, total)
		rc = newProgressBody(rc, total, fn)
	}
	return rc, nil
}

func emptyBody(opts *TransferOptions) io.ReadCloser {
	if fn := opts.progress(); fn != nil {
		fn(0, 0)
	}
	return http.NoBody
}

// readerSize returns the number of bytes r will yield when r says so
// cheaply, else -1.
func readerSize(r io.Reader) int64 {
	switch v := r.(type) {
	case interface{ Len() int }:
		return int64(v.Len())
	case *os.File:
		fi, err := v.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return -1
		}
		cur, err := v.Seek(0, io.SeekCurrent)
		if err != nil || cur > fi.Size() {
			return -1
		}
		return fi.Size() - cur
	}
	return -1
}

// progressReader reports the bytes read through it.
type progressReader struct {
	r     io.Reader
	done  int64
	total int64
	fn    func(done, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.done += int64(n)
		p.fn(p.done, p.total)
	}
	return n, err
}

// progressBody is a progressReader that closes.
type progressBody struct {
	progressReader
	io.Closer
}

// newProgressBody reports the bytes read through rc, of total, to fn.
func newProgressBody(rc io.ReadCloser, total int64, fn func(done, total int64)) *progressBody {
	return &progressBody{progressReader{r: rc, total: total, fn: fn}, rc}
}

// readFileRaw is ReadFile over GET files/raw: one copy of the bytes, no
// JSON or base64. The client timeout bounds the whole call.
func (s *WorkspaceService) readFileRaw(ctx context.Context, id, path string) ([]byte, error) {
	const op = "read file"
	resp, err := s.c.open(ctx, &apiRequest{op: op, method: http.MethodGet, path: workspacePath(id, "/files/raw"),
		query: url.Values{"path": {path}}, accept: "application/octet-stream"})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if n := resp.ContentLength; n > 0 {
		buf.Grow(int(min(n, 64<<20)) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return nil, fmt.Errorf("workspace: %s: %w", op, callCtxErr(resp.Request.Context(), err))
	}
	return buf.Bytes(), nil
}

// writeFileRaw is WriteFile over PUT files/raw. The client timeout bounds
// the whole call.
func (s *WorkspaceService) writeFileRaw(ctx context.Context, id, path string, data []byte) error {
	return s.c.callJSON(ctx, &apiRequest{op: "write file", method: http.MethodPut, path: workspacePath(id, "/files/raw"),
		query: url.Values{"path": {path}}, body: bytes.NewReader(data), size: int64(len(data))}, nil)
}
