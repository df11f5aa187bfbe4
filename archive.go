package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/elevo/workspace-sdk-go/internal/tarfs"
)

// UploadArchive extracts the tar or tar.gz (gzip is detected) read from r
// into the directory remoteDir of the workspace, creating it when
// missing. It is all or nothing: the server stages the whole archive and
// moves it into place only once every entry was written, merging into an
// existing directory (existing files are replaced). An entry that would
// leave remoteDir (absolute name, "..", a path through a symlink, a
// hardlink out), a device or a FIFO is refused with an error matching
// ErrPathNotAllowed and nothing of the archive lands.
//
// UploadArchive is bounded only by ctx, not by WithTimeout. Needs the
// "files.archive" feature (else ErrUnsupported).
func (s *WorkspaceService) UploadArchive(ctx context.Context, workspaceID, remoteDir string, r io.Reader) error {
	const op = "upload archive"
	if err := s.c.requireFeature(ctx, op, FeatureFilesArchive); err != nil {
		return err
	}
	size := int64(-1)
	if n := readerSize(r); n > 0 {
		size = n
	}
	return s.c.callJSON(ctx, &apiRequest{
		op: op, method: http.MethodPut, path: workspacePath(workspaceID, "/files/archive"),
		query: url.Values{"path": {remoteDir}}, body: io.NopCloser(r), size: size,
		header: http.Header{"Content-Type": {"application/x-tar"}}, scope: untilConnected,
	}, nil)
}

// DownloadArchive writes a tar of remotePath in the workspace to w: for a
// directory its tree (names relative to it; regular files, directories,
// and symlinks as links; special files skipped), for a regular file that
// one file. A stream cut short fails with an error (never a silently
// shorter tar).
//
// DownloadArchive is bounded only by ctx, not by WithTimeout. Needs the
// "files.archive" feature (else ErrUnsupported).
func (s *WorkspaceService) DownloadArchive(ctx context.Context, workspaceID, remotePath string, w io.Writer) error {
	const op = "download archive"
	if err := s.c.requireFeature(ctx, op, FeatureFilesArchive); err != nil {
		return err
	}
	resp, err := s.c.open(ctx, &apiRequest{
		op: op, method: http.MethodGet, path: workspacePath(workspaceID, "/files/archive"),
		query: url.Values{"path": {remotePath}}, accept: "application/x-tar, application/json", scope: untilHeaders,
	})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("workspace: %s: %w", op, callCtxErr(resp.Request.Context(), err))
	}
	return nil
}

// UploadDir copies the local directory localDir into remoteDir of the
// workspace (created when missing; existing files are replaced): regular
// files with their permission bits, directories, and symlinks as links;
// special files are skipped. With the "files.archive" feature it streams
// one tar (all or nothing, see UploadArchive); otherwise it goes file by
// file through Mkdir and Upload, where symlinks and permission bits are
// not carried and a failure leaves the files sent so far.
//
// opts.Progress, when set, is called after each file with the bytes of
// file content sent so far and the total; opts.Size, Offset and Length
// are ignored. Bounded by ctx only. opts may be nil.
func (s *WorkspaceService) UploadDir(ctx context.Context, workspaceID, localDir, remoteDir string, opts *TransferOptions) error {
	const op = "upload dir"
	root, err := os.OpenRoot(localDir)
	if err != nil {
		return fmt.Errorf("workspace: %s: %w", op, err)
	}
	defer root.Close()
	prog := newDirProgress(opts)
	if prog != nil {
		if prog.total, err = treeSize(root.FS()); err != nil {
			return fmt.Errorf("workspace: %s: %w", op, err)
		}
		prog.add(0)
	}
	ok, err := s.c.hasFeature(ctx, FeatureFilesArchive)
	if err != nil {
		return err
	}
	if !ok {
		return s.uploadFiles(ctx, workspaceID, root, remoteDir, prog)
	}
	werr, err := pipeTar(
		func(w io.Writer) error {
			return tarfs.WriteTree(w, root, ".", &tarfs.WriteOptions{OnFile: prog.add})
		},
		func(r io.Reader) error { return s.UploadArchive(ctx, workspaceID, remoteDir, r) })
	if werr != nil && !errors.Is(werr, errPipeDone) {
		// A local read error is the cause of whatever the upload says.
		return fmt.Errorf("workspace: %s: %w", op, werr)
	}
	return err
}

// errPipeDone ends the other side of the pipe of UploadDir and
// DownloadDir once one side is done.
var errPipeDone = errors.New("workspace: transfer ended")

// pipeTar runs write in a goroutine, writing the tar stream into a pipe
// that read consumes in this one. Once read returns, a write still going
// fails with errPipeDone; pipeTar waits for it and returns both errors.
func pipeTar(write func(io.Writer) error, read func(io.Reader) error) (werr, rerr error) {
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	wg.Go(func() {
		werr = write(pw)
		pw.CloseWithError(werr)
	})
	rerr = read(pr)
	pr.CloseWithError(errPipeDone)
	wg.Wait()
	return werr, rerr
}

// uploadFiles is UploadDir without files.archive.
func (s *WorkspaceService) uploadFiles(ctx context.Context, workspaceID string, root *os.Root, remoteDir string, prog *dirProgress) error {
	if err := s.Mkdir(ctx, workspaceID, remoteDir); err != nil {
		return err
	}
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("workspace: upload dir: %w", err)
		}
		if p == "." {
			return nil
		}
		remote := path.Join(remoteDir, p)
		switch {
		case d.IsDir():
			return s.Mkdir(ctx, workspaceID, remote)
		case d.Type().IsRegular():
			f, err := root.Open(p)
			if err != nil {
				return fmt.Errorf("workspace: upload dir: %w", err)
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				return fmt.Errorf("workspace: upload dir: %w", err)
			}
			if err := s.Upload(ctx, workspaceID, remote, f, &TransferOptions{Size: fi.Size()}); err != nil {
				return err
			}
			prog.add(fi.Size())
		}
		return nil // symlinks and special files are not carried
	})
}

// DownloadDir copies remoteDir of the workspace into the local directory
// localDir (created when missing; existing files and symlinks are
// replaced, never written through): regular files with their permission
// bits, directories, and symlinks as links. Entries that would leave
// localDir are refused. With the "files.archive" feature it reads one tar
// stream; otherwise it lists the tree and downloads file by file (no
// symlinks, default permissions). A failure leaves what was written.
//
// opts.Progress, when set, is called after each file with the bytes
// written so far and the total (-1 with files.archive, where it is not
// known in advance). Bounded by ctx only. opts may be nil.
func (s *WorkspaceService) DownloadDir(ctx context.Context, workspaceID, remoteDir, localDir string, opts *TransferOptions) error {
	const op = "download dir"
	if err := os.MkdirAll(localDir, 0o755); err != nil {
		return fmt.Errorf("workspace: %s: %w", op, err)
	}
	root, err := os.OpenRoot(localDir)
	if err != nil {
		return fmt.Errorf("workspace: %s: %w", op, err)
	}
	defer root.Close()
	prog := newDirProgress(opts)
	ok, err := s.c.hasFeature(ctx, FeatureFilesArchive)
	if err != nil {
		return err
	}
	if !ok {
		return s.downloadFiles(ctx, workspaceID, remoteDir, root, prog)
	}
	if prog != nil {
		prog.total = -1
		prog.add(0)
	}
	derr, xerr := pipeTar(
		func(w io.Writer) error { return s.DownloadArchive(ctx, workspaceID, remoteDir, w) },
		func(r io.Reader) error {
			_, err := tarfs.Extract(root, ".", r, &tarfs.ExtractOptions{Overwrite: true, OnData: prog.add})
			if err == nil {
				_, err = io.Copy(io.Discard, r) // the tar's padding
			}
			return err
		})
	switch {
	case derr != nil && !errors.Is(derr, errPipeDone):
		return derr
	case xerr != nil:
		return fmt.Errorf("workspace: %s: %w", op, xerr)
	}
	return nil
}

// downloadFiles is DownloadDir without files.archive.
func (s *WorkspaceService) downloadFiles(ctx context.Context, workspaceID, remoteDir string, root *os.Root, prog *dirProgress) error {
	type item struct {
		remote, local string
		dir           bool
	}
	var items []item
	var total int64
	var list func(remote, local string) error
	list = func(remote, local string) error {
		files, err := s.ListFiles(ctx, workspaceID, remote)
		if err != nil {
			return err
		}
		for _, f := range files {
			if f.Name == "" || strings.ContainsAny(f.Name, `/\`) || f.Name == "." || f.Name == ".." {
				return fmt.Errorf("workspace: download dir: bad name %q from the server", f.Name)
			}
			it := item{remote: path.Join(remote, f.Name), local: path.Join(local, f.Name), dir: f.Type == FileTypeDirectory}
			switch f.Type {
			case FileTypeDirectory:
				items = append(items, it)
				if err := list(it.remote, it.local); err != nil {
					return err
				}
			case FileTypeFile:
				items = append(items, it)
				total += f.Size
			}
		}
		return nil
	}
	if err := list(remoteDir, "."); err != nil {
		return err
	}
	if prog != nil {
		prog.total = total
		prog.add(0)
	}
	for _, it := range items {
		if it.dir {
			if err := root.Mkdir(it.local, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("workspace: download dir: %w", err)
			}
			continue
		}
		n, err := s.downloadOne(ctx, workspaceID, it.remote, root, it.local)
		if err != nil {
			return err
		}
		prog.add(n)
	}
	return nil
}

// downloadOne downloads one file into root at local, replacing a file or
// symlink there.
func (s *WorkspaceService) downloadOne(ctx context.Context, workspaceID, remote string, root *os.Root, local string) (int64, error) {
	rc, err := s.Download(ctx, workspaceID, remote, nil)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	if fi, err := root.Lstat(local); err == nil && !fi.IsDir() {
		if err := root.Remove(local); err != nil {
			return 0, fmt.Errorf("workspace: download dir: %w", err)
		}
	}
	f, err := root.OpenFile(local, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 0, fmt.Errorf("workspace: download dir: %w", err)
	}
	n, err := io.Copy(f, rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("workspace: download dir: %s: %w", filepath.FromSlash(local), err)
	}
	return n, nil
}

// dirProgress feeds TransferOptions.Progress for UploadDir and
// DownloadDir. A nil *dirProgress does nothing.
type dirProgress struct {
	fn          func(done, total int64)
	done, total int64
}

func newDirProgress(opts *TransferOptions) *dirProgress {
	if fn := opts.progress(); fn != nil {
		return &dirProgress{fn: fn}
	}
	return nil
}

// add counts n more bytes and reports.
func (p *dirProgress) add(n int64) {
	if p == nil {
		return
	}
	p.done += n
	p.fn(p.done, p.total)
}

// treeSize sums the sizes of the regular files of fsys.
func treeSize(fsys fs.FS) (int64, error) {
	var total int64
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			total += fi.Size()
		}
		return nil
	})
	return total, err
}
