package nfsclient

import (
	"bytes"
	"io/fs"

	nfs "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/xdr"
)

// Attr is a file's NFSv3 attributes (fattr3).
type Attr = nfs.Fattr

// File types of Attr.Type.
const (
	TypeReg  = nfs.NF3Reg
	TypeDir  = nfs.NF3Dir
	TypeBlk  = nfs.NF3Blk
	TypeChr  = nfs.NF3Chr
	TypeLnk  = nfs.NF3Lnk
	TypeSock = nfs.NF3Sock
	TypeFIFO = nfs.NF3FIFO
)

type postOpAttr = nfs.PostOpAttr

// diropArgs names an entry of a directory.
func diropArgs(dir []byte, name string) encoded {
	return append(xdrOpaque(dir), xdrString(name)...)
}

// GetAttr returns the attributes of fh.
func (c *Client) GetAttr(fh []byte) (*Attr, error) {
	res, err := c.nfs(procGetAttr, fh)
	if err != nil {
		return nil, err
	}
	var a Attr
	if err := xdr.Read(bytes.NewReader(res), &a); err != nil {
		return nil, err
	}
	c.cache.observe(fh, &a)
	return &a, nil
}

// Lookup returns the handle and attributes of name in dir.
func (c *Client) Lookup(dir []byte, name string) ([]byte, *Attr, error) {
	res, err := c.nfs(procLookup, diropArgs(dir, name))
	if err != nil {
		return nil, nil, err
	}
	var ok struct {
		FH      []byte
		Attr    postOpAttr
		DirAttr postOpAttr
	}
	if err := xdr.Read(bytes.NewReader(res), &ok); err != nil {
		return nil, nil, err
	}
	if !ok.Attr.IsSet {
		a, err := c.GetAttr(ok.FH)
		if err != nil {
			return nil, nil, err
		}
		return ok.FH, a, nil
	}
	c.cache.observe(ok.FH, &ok.Attr.Attr)
	return ok.FH, &ok.Attr.Attr, nil
}

// Walk returns the handle and attributes of the path components from the
// root (no components: the root itself).
func (c *Client) Walk(parts []string) ([]byte, *Attr, error) {
	fh := c.Root()
	if len(parts) == 0 {
		a, err := c.GetAttr(fh)
		return fh, a, err
	}
	var a *Attr
	for i, p := range parts {
		var err error
		fh, a, err = c.Lookup(fh, p)
		if err != nil {
			return nil, nil, err
		}
		if i < len(parts)-1 && a.Type != TypeDir {
			return nil, nil, &StatusError{Status: statusNotDir}
		}
	}
	return fh, a, nil
}

// DirEntry is one entry of ReadDir.
type DirEntry struct {
	Name string
	Attr Attr
}

// ReadDir lists the directory fh with READDIRPLUS ("." and ".." left out).
func (c *Client) ReadDir(fh []byte) ([]DirEntry, error) {
	type entry struct {
		IsSet bool          `xdr:"union"`
		Entry nfs.EntryPlus `xdr:"unioncase=1"`
	}
	var out []DirEntry
	var cookie, verf uint64
	for {
		res, err := c.nfs(procReadDirPlus, fh, cookie, verf, uint32(64<<10), uint32(256<<10))
		if err != nil {
			return nil, err
		}
		r := bytes.NewReader(res)
		var head struct {
			DirAttr    postOpAttr
			CookieVerf uint64
		}
		if err := xdr.Read(r, &head); err != nil {
			return nil, err
		}
		n := 0
		for {
			var e entry
			if err := xdr.Read(r, &e); err != nil {
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
				if a, err := c.GetAttr(e.Entry.Handle.FH); err == nil {
					attr = *a
				}
			}
			out = append(out, DirEntry{Name: e.Entry.FileName, Attr: attr})
		}
		var eof bool
		if err := xdr.Read(r, &eof); err != nil {
			return nil, err
		}
		if eof || n == 0 {
			return out, nil
		}
		verf = head.CookieVerf
	}
}

// Create makes a regular file name in dir, or truncates an existing one;
// exclusive (GUARDED) fails if it exists; perm 0 sends no mode.
func (c *Client) Create(dir []byte, name string, perm fs.FileMode, exclusive bool) ([]byte, error) {
	mode := uint32(0) // UNCHECKED
	if exclusive {
		mode = 1 // GUARDED
	}
	res, err := c.nfs(procCreate, diropArgs(dir, name), mode,
		nfs.Sattr3{Mode: nfs.SetMode{SetIt: perm != 0, Mode: uint32(perm.Perm())}})
	if err != nil {
		return nil, err
	}
	var r struct{ FH nfs.PostOpFH3 }
	if err := xdr.Read(bytes.NewReader(res), &r); err != nil {
		return nil, err
	}
	if r.FH.IsSet {
		return r.FH.FH, nil
	}
	fh, _, err := c.Lookup(dir, name)
	return fh, err
}

// Mkdir creates the directory name in dir.
func (c *Client) Mkdir(dir []byte, name string, perm fs.FileMode) error {
	_, err := c.nfs(procMkdir, diropArgs(dir, name), nfs.Sattr3{Mode: nfs.SetMode{SetIt: true, Mode: uint32(perm.Perm())}})
	return err
}

// Remove removes name from dir (RMDIR when isDir).
func (c *Client) Remove(dir []byte, name string, isDir bool) error {
	proc := uint32(procRemove)
	if isDir {
		proc = procRmdir
	}
	_, err := c.nfs(proc, diropArgs(dir, name))
	return err
}

// Rename renames from in fromDir to to in toDir.
func (c *Client) Rename(fromDir []byte, from string, toDir []byte, to string) error {
	_, err := c.nfs(procRename, diropArgs(fromDir, from), diropArgs(toDir, to))
	return err
}
