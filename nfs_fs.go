package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	nfsc "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/rpc"
	"github.com/willscott/go-nfs-client/nfs/xdr"
)

// nfsIOSize is the largest READ or WRITE request the session sends (the
// Linux client's maximum too); the server's FSINFO may lower it.
const nfsIOSize = 1 << 20

// nfsReadAhead is how many READ requests a large read keeps in flight.
const nfsReadAhead = 4

// NFSFileSystem is a userspace NFSv3 session on one workspace export: no
// root and no kernel NFS client are needed. It implements fs.FS,
// fs.ReadDirFS, fs.StatFS and fs.ReadFileFS (names are slash-separated,
// unrooted, as fs.ValidPath requires; "." is the workspace root), and
// writes with the os signatures (WriteFile, MkdirAll, Remove, RemoveAll,
// Rename, Create, OpenFile).
//
// Errors are *fs.PathError wrapping fs.ErrNotExist, fs.ErrExist,
// fs.ErrPermission or fs.ErrInvalid where the NFS status maps to one.
// Reads and writes use requests of up to 1 MiB; large reads, and
// sequential reads with any buffer size, keep several in flight.
//
// An NFSFileSystem is safe for concurrent use by many goroutines (RPCs are
// multiplexed on one TCP connection); an *NFSFile is not, except ReadAt.
// Close ends the session. Calls do not take a ctx: an unresponsive server
// is retried by the RPC layer (5 s per attempt).
type NFSFileSystem struct {
	rpc    *rpc.Client
	root   []byte
	export string
	rsize  uint32
	wsize  uint32
	closed atomic.Bool
	once   sync.Once
}

var (
	_ fs.FS         = (*NFSFileSystem)(nil)
	_ fs.ReadDirFS  = (*NFSFileSystem)(nil)
	_ fs.StatFS     = (*NFSFileSystem)(nil)
	_ fs.ReadFileFS = (*NFSFileSystem)(nil)
)

// Open starts a userspace NFSv3 session on the workspace's export (the
// path of its nfs_url, at the host and port of the URL unless WithNFS
// overrides them). ctx bounds the setup only. The caller must Close the
// returned session.
func (s *NFSService) Open(ctx context.Context, workspaceID string) (*NFSFileSystem, error) {
	ep, err := s.endpoint(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	return openNFS(ctx, ep.addr(), ep.export)
}

// openNFS dials addr (no portmapper), mounts export and reads FSINFO.
func openNFS(ctx context.Context, addr, export string) (*NFSFileSystem, error) {
	var c *rpc.Client
	var err error
	for range 5 { // the RPC layer picks a random source port; retry clashes
		if err = ctx.Err(); err != nil {
			return nil, err
		}
		if c, err = rpc.DialTCP("tcp", addr, false); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("workspace: nfs dial %s: %w", addr, err)
	}
	f := &NFSFileSystem{rpc: c, export: export}
	if err := f.mount(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return f, nil
}

func (f *NFSFileSystem) mount(ctx context.Context) error {
	type mountArgs struct {
		rpc.Header
		Dirpath string
	}
	res, err := f.callCtx(ctx, &mountArgs{rpc.Header{Rpcvers: 2, Prog: nfsc.MountProg, Vers: nfsc.MountVers,
		Proc: nfsc.MountProc3MNT, Cred: rpc.AuthNull, Verf: rpc.AuthNull}, f.export})
	if err != nil {
		return fmt.Errorf("workspace: nfs mount %s: %w", f.export, err)
	}
	st, err := xdr.ReadUint32(res)
	if err != nil {
		return fmt.Errorf("workspace: nfs mount %s: %w", f.export, err)
	}
	if st != 0 {
		return &fs.PathError{Op: "mount", Path: f.export, Err: nfsStatus(st)}
	}
	if f.root, err = xdr.ReadOpaque(res); err != nil {
		return fmt.Errorf("workspace: nfs mount %s: %w", f.export, err)
	}
	type fsinfoArgs struct {
		rpc.Header
		FH []byte
	}
	res, err = f.call(&fsinfoArgs{hdr(nfsc.NFSProc3FSInfo), f.root})
	if err != nil {
		return fmt.Errorf("workspace: nfs fsinfo: %w", err)
	}
	var info nfsc.FSInfo
	if err := xdr.Read(res, &info); err != nil {
		return fmt.Errorf("workspace: nfs fsinfo: %w", err)
	}
	f.rsize = clampIO(info.RTMax)
	f.wsize = clampIO(info.WTMax)
	return nil
}

func clampIO(n uint32) uint32 {
	if n == 0 || n > nfsIOSize {
		return nfsIOSize
	}
	return n
}

// Close ends the session. It is idempotent.
func (f *NFSFileSystem) Close() error {
	f.once.Do(func() {
		f.closed.Store(true)
		f.rpc.Close()
	})
	return nil
}

func hdr(proc uint32) rpc.Header {
	return rpc.Header{Rpcvers: 2, Prog: nfsc.Nfs3Prog, Vers: nfsc.Nfs3Vers, Proc: proc, Cred: rpc.AuthNull, Verf: rpc.AuthNull}
}

var errNFSClosed = errors.New("workspace: nfs session closed")

// callCtx is call with a ctx that abandons the wait (the RPC itself
// finishes in the background).
func (f *NFSFileSystem) callCtx(ctx context.Context, args any) (io.ReadSeeker, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type result struct {
		r   io.ReadSeeker
		err error
	}
	ch := make(chan result, 1)
	go func() {
		r, err := f.rpc.Call(args)
		ch <- result{r, err}
	}()
	select {
	case res := <-ch:
		return res.r, res.err
	case <-ctx.Done():
		f.rpc.Close()
		<-ch
		return nil, ctx.Err()
	}
}

// call performs an NFS RPC and returns the body after the status word;
// a non-OK status is an nfsStatus error.
func (f *NFSFileSystem) call(args any) (io.ReadSeeker, error) {
	if f.closed.Load() {
		return nil, errNFSClosed
	}
	res, err := f.rpc.Call(args)
	if err != nil {
		if f.closed.Load() {
			return nil, errNFSClosed
		}
		return nil, err
	}
	st, err := xdr.ReadUint32(res)
	if err != nil {
		return nil, err
	}
	if st != 0 {
		return nil, nfsStatus(st)
	}
	return res, nil
}

// nfsStatus is an NFS3ERR_* status; it matches the io/fs sentinels.
type nfsStatus uint32

func (s nfsStatus) Error() string {
	if e, ok := nfsc.NFS3Error(uint32(s)).(*nfsc.Error); ok {
		return e.ErrorString
	}
	return fmt.Sprintf("NFS3ERR %d", uint32(s))
}

func (s nfsStatus) Is(target error) bool {
	switch uint32(s) {
	case nfsc.NFS3ErrNoEnt, nfsc.NFS3ErrStale:
		return target == fs.ErrNotExist
	case nfsc.NFS3ErrExist:
		return target == fs.ErrExist
	case nfsc.NFS3ErrPerm, nfsc.NFS3ErrAcces, nfsc.NFS3ErrROFS:
		return target == fs.ErrPermission
	case nfsc.NFS3ErrInval, nfsc.NFS3ErrNameTooLong, nfsc.NFS3ErrBadHandle:
		return target == fs.ErrInvalid
	case nfsc.NFS3ErrNotDir:
		return target == syscall.ENOTDIR
	case nfsc.NFS3ErrIsDir:
		return target == syscall.EISDIR
	case nfsc.NFS3ErrNotEmpty:
		return target == syscall.ENOTEMPTY
	}
	return false
}

func pathErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return err
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// split validates name and returns its components ("." has none).
func split(op, name string) ([]string, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return nil, nil
	}
	return strings.Split(name, "/"), nil
}

func (f *NFSFileSystem) lookup1(dir []byte, name string) ([]byte, *nfsc.Fattr, error) {
	type lookupArgs struct {
		rpc.Header
		What nfsc.Diropargs3
	}
	res, err := f.call(&lookupArgs{hdr(nfsc.NFSProc3Lookup), nfsc.Diropargs3{FH: dir, Filename: name}})
	if err != nil {
		return nil, nil, err
	}
	var ok struct {
		FH      []byte
		Attr    nfsc.PostOpAttr
		DirAttr nfsc.PostOpAttr
	}
	if err := xdr.Read(res, &ok); err != nil {
		return nil, nil, err
	}
	if !ok.Attr.IsSet {
		a, err := f.getattr(ok.FH)
		if err != nil {
			return nil, nil, err
		}
		return ok.FH, a, nil
	}
	return ok.FH, &ok.Attr.Attr, nil
}

func (f *NFSFileSystem) getattr(fh []byte) (*nfsc.Fattr, error) {
	type args struct {
		rpc.Header
		FH []byte
	}
	res, err := f.call(&args{hdr(nfsc.NFSProc3GetAttr), fh})
	if err != nil {
		return nil, err
	}
	var a nfsc.Fattr
	if err := xdr.Read(res, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// walk returns the handle and attributes of the path components.
func (f *NFSFileSystem) walk(parts []string) ([]byte, *nfsc.Fattr, error) {
	fh := f.root
	if len(parts) == 0 {
		a, err := f.getattr(fh)
		return fh, a, err
	}
	var a *nfsc.Fattr
	for i, p := range parts {
		var err error
		fh, a, err = f.lookup1(fh, p)
		if err != nil {
			return nil, nil, err
		}
		if i < len(parts)-1 && a.Type != nfsc.NF3Dir {
			return nil, nil, nfsStatus(nfsc.NFS3ErrNotDir)
		}
	}
	return fh, a, nil
}

// nfsFileInfo is an fs.FileInfo from NFS attributes.
type nfsFileInfo struct {
	name string
	attr nfsc.Fattr
}

func (i *nfsFileInfo) Name() string       { return i.name }
func (i *nfsFileInfo) Size() int64        { return int64(i.attr.Filesize) }
func (i *nfsFileInfo) ModTime() time.Time { return i.attr.ModTime() }
func (i *nfsFileInfo) IsDir() bool        { return i.attr.Type == nfsc.NF3Dir }
func (i *nfsFileInfo) Sys() any           { return &i.attr }
func (i *nfsFileInfo) Mode() fs.FileMode {
	m := fs.FileMode(i.attr.FileMode & 0o777)
	switch i.attr.Type {
	case nfsc.NF3Dir:
		m |= fs.ModeDir
	case nfsc.NF3Lnk:
		m |= fs.ModeSymlink
	case nfsc.NF3Blk:
		m |= fs.ModeDevice
	case nfsc.NF3Chr:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case nfsc.NF3Sock:
		m |= fs.ModeSocket
	case nfsc.NF3FIFO:
		m |= fs.ModeNamedPipe
	}
	return m
}

// Stat returns the attributes of name without following a final symlink.
func (f *NFSFileSystem) Stat(name string) (fs.FileInfo, error) {
	parts, err := split("stat", name)
	if err != nil {
		return nil, err
	}
	_, a, err := f.walk(parts)
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	return &nfsFileInfo{name: path.Base(name), attr: *a}, nil
}

// Open opens name for reading: a file is an *NFSFile, a directory an
// fs.ReadDirFile.
func (f *NFSFileSystem) Open(name string) (fs.File, error) {
	parts, err := split("open", name)
	if err != nil {
		return nil, err
	}
	fh, a, err := f.walk(parts)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	info := &nfsFileInfo{name: path.Base(name), attr: *a}
	if a.Type == nfsc.NF3Dir {
		return &nfsDir{fs: f, fh: fh, name: name, info: info}, nil
	}
	return &NFSFile{fs: f, fh: fh, name: name, info: info, flag: readOnly}, nil
}

// readDir lists a directory with READDIRPLUS, sorted by name.
func (f *NFSFileSystem) readDir(fh []byte) ([]fs.DirEntry, error) {
	type args struct {
		rpc.Header
		FH         []byte
		Cookie     uint64
		CookieVerf uint64
		DirCount   uint32
		MaxCount   uint32
	}
	type entry struct {
		IsSet bool           `xdr:"union"`
		Entry nfsc.EntryPlus `xdr:"unioncase=1"`
	}
	var out []fs.DirEntry
	var cookie, verf uint64
	for {
		res, err := f.call(&args{hdr(nfsc.NFSProc3ReadDirPlus), fh, cookie, verf, 64 << 10, 256 << 10})
		if err != nil {
			return nil, err
		}
		var head struct {
			DirAttr    nfsc.PostOpAttr
			CookieVerf uint64
		}
		if err := xdr.Read(res, &head); err != nil {
			return nil, err
		}
		n := 0
		for {
			var e entry
			if err := xdr.Read(res, &e); err != nil {
				return nil, err
			}
			if !e.IsSet {
				break
			}
			n++
			cookie = e.Entry.Cookie
			if e.Entry.FileName == "." || e.Entry.FileName == ".." {
				continue
			}
			attr := e.Entry.Attr.Attr
			if !e.Entry.Attr.IsSet && e.Entry.Handle.IsSet {
				if a, err := f.getattr(e.Entry.Handle.FH); err == nil {
					attr = *a
				}
			}
			out = append(out, fs.FileInfoToDirEntry(&nfsFileInfo{name: e.Entry.FileName, attr: attr}))
		}
		var eof bool
		if err := xdr.Read(res, &eof); err != nil {
			return nil, err
		}
		if eof || n == 0 {
			break
		}
		verf = head.CookieVerf
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// ReadDir lists the directory name, sorted by file name.
func (f *NFSFileSystem) ReadDir(name string) ([]fs.DirEntry, error) {
	parts, err := split("readdir", name)
	if err != nil {
		return nil, err
	}
	fh, a, err := f.walk(parts)
	if err == nil && a.Type != nfsc.NF3Dir {
		err = nfsStatus(nfsc.NFS3ErrNotDir)
	}
	if err != nil {
		return nil, pathErr("readdir", name, err)
	}
	ents, err := f.readDir(fh)
	return ents, pathErr("readdir", name, err)
}

// ReadFile reads the whole file name with large, pipelined READs.
func (f *NFSFileSystem) ReadFile(name string) ([]byte, error) {
	parts, err := split("read", name)
	if err != nil {
		return nil, err
	}
	fh, a, err := f.walk(parts)
	if err == nil && a.Type == nfsc.NF3Dir {
		err = nfsStatus(nfsc.NFS3ErrIsDir)
	}
	if err != nil {
		return nil, pathErr("read", name, err)
	}
	buf := make([]byte, a.Filesize)
	n, err := f.readAt(fh, buf, 0)
	if err == io.EOF {
		err = nil
	}
	if err != nil {
		return nil, pathErr("read", name, err)
	}
	buf = buf[:n]
	// The file may have grown since GETATTR.
	for {
		more := make([]byte, f.rsize)
		k, err := f.read1(fh, more, int64(len(buf)))
		buf = append(buf, more[:k]...)
		if err == io.EOF || k == 0 {
			return buf, nil
		}
		if err != nil {
			return nil, pathErr("read", name, err)
		}
	}
}

// read1 sends one READ of up to rsize bytes into p at off; io.EOF when the
// server says the end of file was reached.
func (f *NFSFileSystem) read1(fh []byte, p []byte, off int64) (int, error) {
	type args struct {
		rpc.Header
		FH     []byte
		Offset uint64
		Count  uint32
	}
	count := min(uint32(len(p)), f.rsize)
	res, err := f.call(&args{hdr(nfsc.NFSProc3Read), fh, uint64(off), count})
	if err != nil {
		return 0, err
	}
	var head struct {
		Attr  nfsc.PostOpAttr
		Count uint32
		EOF   uint32
		Len   uint32
	}
	if err := xdr.Read(res, &head); err != nil {
		return 0, err
	}
	if head.Len > count {
		return 0, fmt.Errorf("workspace: nfs read: server sent %d bytes for %d", head.Len, count)
	}
	n, err := io.ReadFull(res, p[:head.Len])
	if err != nil {
		return n, err
	}
	if head.EOF != 0 {
		return n, io.EOF
	}
	return n, nil
}

// readAt fills p from off with up to nfsReadAhead READs in flight; it
// returns io.EOF only when fewer than len(p) bytes were read.
func (f *NFSFileSystem) readAt(fh []byte, p []byte, off int64) (int, error) {
	if len(p) <= int(f.rsize) {
		n, err := f.read1(fh, p, off)
		if err == nil && n < len(p) {
			// short read without EOF: continue sequentially
			m, err := f.readAt(fh, p[n:], off+int64(n))
			return n + m, err
		}
		if err == io.EOF && n == len(p) {
			err = nil
		}
		return n, err
	}
	type chunk struct {
		n   int
		err error
	}
	nchunks := (len(p) + int(f.rsize) - 1) / int(f.rsize)
	results := make([]chunk, nchunks)
	sem := make(chan struct{}, nfsReadAhead)
	var wg sync.WaitGroup
	for i := range nchunks {
		lo := i * int(f.rsize)
		hi := min(lo+int(f.rsize), len(p))
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			n, err := f.read1(fh, p[lo:hi], off+int64(lo))
			if err == nil && n < hi-lo {
				var m int
				m, err = f.readAt(fh, p[lo+n:hi], off+int64(lo+n))
				n += m
			}
			results[i] = chunk{n, err}
		}()
	}
	wg.Wait()
	total := 0
	for i, r := range results {
		total += r.n
		want := min(int(f.rsize), len(p)-i*int(f.rsize))
		if r.n < want || (r.err != nil && r.err != io.EOF) {
			if r.err == nil {
				r.err = io.EOF
			}
			return total, r.err
		}
	}
	return total, nil
}

// writeAt writes p at off with FILE_SYNC WRITEs of up to wsize bytes.
func (f *NFSFileSystem) writeAt(fh []byte, p []byte, off int64) (int, error) {
	type args struct {
		rpc.Header
		FH       []byte
		Offset   uint64
		Count    uint32
		How      uint32
		Contents []byte
	}
	done := 0
	for done < len(p) {
		n := min(len(p)-done, int(f.wsize))
		res, err := f.call(&args{hdr(nfsc.NFSProc3Write), fh, uint64(off) + uint64(done), uint32(n), 2, p[done : done+n]})
		if err != nil {
			return done, err
		}
		var r struct {
			Wcc   nfsc.WccData
			Count uint32
		}
		if err := xdr.Read(res, &r); err != nil {
			return done, err
		}
		if r.Count == 0 {
			return done, io.ErrShortWrite
		}
		done += int(min(int(r.Count), n))
	}
	return done, nil
}

// create makes a regular file in dir (or truncates an existing one);
// exclusive fails if it exists; perm 0 sends no mode.
func (f *NFSFileSystem) create(dir []byte, name string, perm fs.FileMode, exclusive bool) ([]byte, error) {
	type how struct {
		Mode uint32
		Attr nfsc.Sattr3
	}
	type args struct {
		rpc.Header
		Where nfsc.Diropargs3
		How   how
	}
	mode := uint32(0) // UNCHECKED
	if exclusive {
		mode = 1 // GUARDED
	}
	res, err := f.call(&args{hdr(nfsc.NFSProc3Create), nfsc.Diropargs3{FH: dir, Filename: name},
		how{mode, nfsc.Sattr3{Mode: nfsc.SetMode{SetIt: perm != 0, Mode: uint32(perm.Perm())}}}})
	if err != nil {
		return nil, err
	}
	var r struct{ FH nfsc.PostOpFH3 }
	if err := xdr.Read(res, &r); err != nil {
		return nil, err
	}
	if r.FH.IsSet {
		return r.FH.FH, nil
	}
	fh, _, err := f.lookup1(dir, name)
	return fh, err
}

func (f *NFSFileSystem) mkdir(dir []byte, name string, perm fs.FileMode) error {
	type args struct {
		rpc.Header
		Where nfsc.Diropargs3
		Attr  nfsc.Sattr3
	}
	_, err := f.call(&args{hdr(nfsc.NFSProc3Mkdir), nfsc.Diropargs3{FH: dir, Filename: name},
		nfsc.Sattr3{Mode: nfsc.SetMode{SetIt: true, Mode: uint32(perm.Perm())}}})
	return err
}

func (f *NFSFileSystem) remove1(dir []byte, name string, isDir bool) error {
	type args struct {
		rpc.Header
		Object nfsc.Diropargs3
	}
	proc := uint32(nfsc.NFSProc3Remove)
	if isDir {
		proc = nfsc.NFSProc3RmDir
	}
	_, err := f.call(&args{hdr(proc), nfsc.Diropargs3{FH: dir, Filename: name}})
	return err
}

// parent splits name into its parent's handle and base name.
func (f *NFSFileSystem) parent(op, name string) ([]byte, string, error) {
	parts, err := split(op, name)
	if err != nil {
		return nil, "", err
	}
	if len(parts) == 0 {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	dir, a, err := f.walk(parts[:len(parts)-1])
	if err == nil && a.Type != nfsc.NF3Dir {
		err = nfsStatus(nfsc.NFS3ErrNotDir)
	}
	if err != nil {
		return nil, "", pathErr(op, name, err)
	}
	return dir, parts[len(parts)-1], nil
}

// readOnly is the open flag of files opened through Open.
const readOnly = os.O_RDONLY

// OpenFile opens name with os.OpenFile's flags (O_RDONLY, O_WRONLY,
// O_RDWR, O_APPEND, O_CREATE, O_EXCL, O_TRUNC) and perm for a new file.
// Directories cannot be opened for writing (fs.ErrInvalid wrapping EISDIR).
func (f *NFSFileSystem) OpenFile(name string, flag int, perm fs.FileMode) (*NFSFile, error) {
	dir, base, err := f.parent("open", name)
	if err != nil {
		return nil, err
	}
	fh, a, err := f.lookup1(dir, base)
	switch {
	case err == nil && flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case err == nil:
		if a.Type == nfsc.NF3Dir && flag&(os.O_WRONLY|os.O_RDWR) != 0 {
			return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
		}
		if flag&os.O_TRUNC != 0 && flag&(os.O_WRONLY|os.O_RDWR) != 0 && a.Filesize > 0 && a.Type == nfsc.NF3Reg {
			// An UNCHECKED CREATE of an existing file truncates it and
			// keeps its mode (no attributes are sent).
			if fh, err = f.create(dir, base, 0, false); err != nil {
				return nil, pathErr("open", name, err)
			}
			a.Filesize = 0
		}
	case errors.Is(err, fs.ErrNotExist) && flag&os.O_CREATE != 0:
		fh, err = f.create(dir, base, perm, flag&os.O_EXCL != 0)
		if err != nil {
			return nil, pathErr("open", name, err)
		}
		a = &nfsc.Fattr{Type: nfsc.NF3Reg, FileMode: uint32(perm.Perm())}
	default:
		return nil, pathErr("open", name, err)
	}
	if a.Type == nfsc.NF3Dir {
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
	}
	return &NFSFile{fs: f, fh: fh, name: name, info: &nfsFileInfo{name: path.Base(name), attr: *a}, flag: flag}, nil
}

// Create creates or truncates name (mode 0666 before the server's umask),
// like os.Create, and opens it for reading and writing.
func (f *NFSFileSystem) Create(name string) (*NFSFile, error) {
	return f.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

// WriteFile writes data to name, creating it with perm or truncating it.
func (f *NFSFileSystem) WriteFile(name string, data []byte, perm fs.FileMode) error {
	w, err := f.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

// Mkdir creates the directory name; it fails with fs.ErrExist if it exists.
func (f *NFSFileSystem) Mkdir(name string, perm fs.FileMode) error {
	dir, base, err := f.parent("mkdir", name)
	if err != nil {
		return err
	}
	return pathErr("mkdir", name, f.mkdir(dir, base, perm))
}

// MkdirAll creates the directory p and any missing parents, like
// os.MkdirAll; an existing directory is not an error, an existing file is.
func (f *NFSFileSystem) MkdirAll(p string, perm fs.FileMode) error {
	parts, err := split("mkdir", p)
	if err != nil {
		return err
	}
	fh := f.root
	for i, part := range parts {
		next, a, err := f.lookup1(fh, part)
		if errors.Is(err, fs.ErrNotExist) {
			err = f.mkdir(fh, part, perm)
			if err == nil || errors.Is(err, fs.ErrExist) {
				next, a, err = f.lookup1(fh, part)
			}
		}
		if err != nil {
			return pathErr("mkdir", strings.Join(parts[:i+1], "/"), err)
		}
		if a.Type != nfsc.NF3Dir {
			return &fs.PathError{Op: "mkdir", Path: strings.Join(parts[:i+1], "/"), Err: syscall.ENOTDIR}
		}
		fh = next
	}
	return nil
}

// Remove removes the file or empty directory name, like os.Remove.
func (f *NFSFileSystem) Remove(name string) error {
	dir, base, err := f.parent("remove", name)
	if err != nil {
		return err
	}
	_, a, err := f.lookup1(dir, base)
	if err != nil {
		return pathErr("remove", name, err)
	}
	return pathErr("remove", name, f.remove1(dir, base, a.Type == nfsc.NF3Dir))
}

// RemoveAll removes p and everything it contains, like os.RemoveAll: a
// missing p is not an error. Removing "." is refused (fs.ErrInvalid).
func (f *NFSFileSystem) RemoveAll(p string) error {
	dir, base, err := f.parent("removeall", p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	fh, a, err := f.lookup1(dir, base)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return pathErr("removeall", p, err)
	}
	if a.Type == nfsc.NF3Dir {
		if err := f.removeTree(fh, p); err != nil {
			return err
		}
	}
	err = f.remove1(dir, base, a.Type == nfsc.NF3Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return pathErr("removeall", p, err)
}

func (f *NFSFileSystem) removeTree(fh []byte, p string) error {
	ents, err := f.readDir(fh)
	if err != nil {
		return pathErr("removeall", p, err)
	}
	for _, e := range ents {
		child := path.Join(p, e.Name())
		if e.IsDir() {
			cfh, _, err := f.lookup1(fh, e.Name())
			if err != nil {
				return pathErr("removeall", child, err)
			}
			if err := f.removeTree(cfh, child); err != nil {
				return err
			}
		}
		if err := f.remove1(fh, e.Name(), e.IsDir()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return pathErr("removeall", child, err)
		}
	}
	return nil
}

// Rename renames oldpath to newpath, like os.Rename (replacing a file).
func (f *NFSFileSystem) Rename(oldpath, newpath string) error {
	fromDir, from, err := f.parent("rename", oldpath)
	if err != nil {
		return err
	}
	toDir, to, err := f.parent("rename", newpath)
	if err != nil {
		return err
	}
	type args struct {
		rpc.Header
		From nfsc.Diropargs3
		To   nfsc.Diropargs3
	}
	_, err = f.call(&args{hdr(nfsc.NFSProc3Rename), nfsc.Diropargs3{FH: fromDir, Filename: from}, nfsc.Diropargs3{FH: toDir, Filename: to}})
	if err != nil {
		return &fs.PathError{Op: "rename", Path: oldpath + " -> " + newpath, Err: err}
	}
	return nil
}

// nfsDir is an open directory.
type nfsDir struct {
	fs   *NFSFileSystem
	fh   []byte
	name string
	info *nfsFileInfo
	ents []fs.DirEntry
	read bool
}

func (d *nfsDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *nfsDir) Close() error               { return nil }
func (d *nfsDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: syscall.EISDIR}
}

func (d *nfsDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		ents, err := d.fs.readDir(d.fh)
		if err != nil {
			return nil, pathErr("readdir", d.name, err)
		}
		d.ents, d.read = ents, true
	}
	if n <= 0 {
		out := d.ents
		d.ents = nil
		return out, nil
	}
	if len(d.ents) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(d.ents))
	out := d.ents[:n:n]
	d.ents = d.ents[n:]
	return out, nil
}

// NFSFile is an open file of an NFSFileSystem: an io.Reader, io.ReaderAt,
// io.Writer, io.Seeker and io.Closer. Writes go to the server at once
// (FILE_SYNC); sequential Reads are served from a read-ahead window of up
// to four 1 MiB READs (see Read), ReadAt always asks the server. It is not
// safe for concurrent use, except ReadAt.
type NFSFile struct {
	fs     *NFSFileSystem
	fh     []byte
	name   string
	info   *nfsFileInfo
	flag   int
	off    int64
	closed bool
	ra     readAhead
}

var (
	_ io.ReadWriteSeeker = (*NFSFile)(nil)
	_ io.ReaderAt        = (*NFSFile)(nil)
	_ io.Closer          = (*NFSFile)(nil)
)

func (f *NFSFile) check(op string, write bool) error {
	if f.closed {
		return &fs.PathError{Op: op, Path: f.name, Err: fs.ErrClosed}
	}
	acc := f.flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
	if write && acc == os.O_RDONLY {
		return &fs.PathError{Op: op, Path: f.name, Err: fs.ErrPermission}
	}
	if !write && acc == os.O_WRONLY {
		return &fs.PathError{Op: op, Path: f.name, Err: fs.ErrPermission}
	}
	return nil
}

// Name returns the name the file was opened with.
func (f *NFSFile) Name() string { return f.name }

// Stat returns fresh attributes from the server.
func (f *NFSFile) Stat() (fs.FileInfo, error) {
	if f.closed {
		return nil, &fs.PathError{Op: "stat", Path: f.name, Err: fs.ErrClosed}
	}
	a, err := f.fs.getattr(f.fh)
	if err != nil {
		return nil, pathErr("stat", f.name, err)
	}
	return &nfsFileInfo{name: f.info.name, attr: *a}, nil
}

// Read reads up to len(p) bytes at the current offset. Sequential reads,
// however small the buffer, are served from a read-ahead window of
// rsize-byte (1 MiB) READs, up to four in flight; a Read at another
// offset than where the last one ended (after Seek), Write and Close drop
// the window. Data read ahead is at most a few MiB older than the
// call (there is no other cache).
func (f *NFSFile) Read(p []byte) (int, error) {
	if err := f.check("read", false); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if len(f.ra.q) > 0 && f.ra.q[0].off+int64(f.ra.pos) != f.off {
		f.ra.reset()
	}
	total := 0
	for total < len(p) {
		if len(f.ra.q) == 0 {
			// Start with enough READs for this buffer, then ramp up.
			f.ra.window = max(f.ra.window, min(nfsReadAhead, (len(p)+int(f.fs.rsize)-1)/int(f.fs.rsize)))
			f.fill()
		}
		c := f.ra.q[0]
		<-c.done
		if c.err != nil && c.err != io.EOF {
			err := c.err
			f.ra.reset()
			if total > 0 {
				return total, nil
			}
			return 0, pathErr("read", f.name, err)
		}
		if c.n == 0 && c.err == nil {
			f.ra.reset()
			return total, pathErr("read", f.name, io.ErrNoProgress)
		}
		k := copy(p[total:], c.data[f.ra.pos:c.n])
		f.ra.pos += k
		total += k
		f.off += int64(k)
		if f.ra.pos < c.n {
			break // p is full
		}
		// c is consumed.
		f.ra.size = max(f.ra.size, c.off+int64(c.n))
		if c.err == io.EOF || c.n < len(c.data) {
			// End of file, or a short READ: start again at f.off next time.
			f.ra.reset()
			if c.err == io.EOF {
				if total == 0 {
					return 0, io.EOF
				}
				return total, nil
			}
			continue
		}
		f.ra.pop()
		f.ra.window = min(nfsReadAhead, max(1, f.ra.window*2))
		f.fill()
	}
	return total, nil
}

// readAhead is the read-ahead window of an NFSFile: READs at consecutive
// offsets, the first one partly consumed.
type readAhead struct {
	q      []*raChunk
	pos    int   // bytes of q[0] already returned
	window int   // READs to keep in flight (1 .. nfsReadAhead)
	size   int64 // largest file size seen; READs beyond it are not sent ahead
}

// raChunk is one READ of the window.
type raChunk struct {
	off  int64
	data []byte  // the bytes asked for
	buf  *[]byte // data's buffer when it comes from raPool
	n    int
	err  error // io.EOF: the server reported end of file
	done chan struct{}
}

var raPool = sync.Pool{New: func() any { b := make([]byte, nfsIOSize); return &b }}

// fill sends READs until window are in flight, starting at f.off when the
// window is empty; past the known size of the file only the first is sent,
// and a READ near the end asks for what is left (at least 4 KiB) rather
// than a whole rsize.
func (f *NFSFile) fill() {
	ra := &f.ra
	if ra.size == 0 {
		ra.size = int64(f.info.attr.Filesize)
	}
	rsize := int64(f.fs.rsize)
	for len(ra.q) < max(ra.window, 1) {
		off := f.off
		if n := len(ra.q); n > 0 {
			last := ra.q[n-1]
			off = last.off + int64(len(last.data))
			if off >= ra.size {
				return
			}
		}
		want := min(rsize, max(ra.size-off, 4<<10))
		c := &raChunk{off: off, done: make(chan struct{})}
		if want > rsize/4 {
			c.buf = raPool.Get().(*[]byte)
			c.data = (*c.buf)[:want]
		} else {
			c.data = make([]byte, want)
		}
		go func() {
			defer close(c.done)
			c.n, c.err = f.fs.read1(f.fh, c.data, off)
		}()
		ra.q = append(ra.q, c)
	}
}

// pop drops the consumed first READ.
func (ra *readAhead) pop() {
	ra.q[0].release()
	ra.q[0] = nil
	ra.q = ra.q[1:]
	ra.pos = 0
}

func (c *raChunk) release() {
	if c.buf != nil {
		raPool.Put(c.buf)
		c.buf = nil
	}
}

// reset waits for the READs in flight and drops the window.
func (ra *readAhead) reset() {
	for _, c := range ra.q {
		<-c.done
		c.release()
	}
	ra.q, ra.pos, ra.window = nil, 0, 0
}

// ReadAt reads len(p) bytes at off; it returns io.EOF if fewer were read.
func (f *NFSFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.check("read", false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "readat", Path: f.name, Err: fs.ErrInvalid}
	}
	n, err := f.fs.readAt(f.fh, p, off)
	if err == nil && n < len(p) {
		err = io.EOF
	}
	if err != nil && err != io.EOF {
		err = pathErr("read", f.name, err)
	}
	return n, err
}

// Write writes p at the current offset (at the end with O_APPEND).
func (f *NFSFile) Write(p []byte) (int, error) {
	if err := f.check("write", true); err != nil {
		return 0, err
	}
	if f.flag&os.O_APPEND != 0 {
		a, err := f.fs.getattr(f.fh)
		if err != nil {
			return 0, pathErr("write", f.name, err)
		}
		f.off = int64(a.Filesize)
	}
	f.ra.reset()
	n, err := f.fs.writeAt(f.fh, p, f.off)
	f.off += int64(n)
	return n, pathErr("write", f.name, err)
}

// Seek sets the offset for the next Read or Write; io.SeekEnd asks the
// server for the size.
func (f *NFSFile) Seek(offset int64, whence int) (int64, error) {
	if f.closed {
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: fs.ErrClosed}
	}
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = f.off
	case io.SeekEnd:
		a, err := f.fs.getattr(f.fh)
		if err != nil {
			return 0, pathErr("seek", f.name, err)
		}
		base = int64(a.Filesize)
	default:
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: fs.ErrInvalid}
	}
	if base+offset < 0 {
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: fs.ErrInvalid}
	}
	f.off = base + offset
	return f.off, nil
}

// Close closes the file; later calls fail with fs.ErrClosed. Data is
// already on the server (writes are FILE_SYNC).
func (f *NFSFile) Close() error {
	if f.closed {
		return &fs.PathError{Op: "close", Path: f.name, Err: fs.ErrClosed}
	}
	f.closed = true
	f.ra.reset()
	return nil
}
