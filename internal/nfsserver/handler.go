package nfsserver

import (
	"container/list"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"

	billy "github.com/go-git/go-billy/v5"
	nfs "github.com/willscott/go-nfs"
)

// File handle layout (33 bytes, under NFSv3's 64-byte limit):
//
//	[0]     handleVersion
//	[1:17]  file id: random, maps to (export, path) in the server's table
//	[17:33] HMAC-SHA256(server key, export key || file id), truncated
//
// The export key is random per export instance (a workspace mounted from
// one directory), so a handle is honoured only for the export that issued
// it: splicing ids and tags across workspaces, forging a tag, or replaying
// a handle after the workspace was deleted all give NFS3ERR_STALE.
const (
	handleVersion = 0x57
	fileIDLen     = 16
	tagLen        = 16
	handleLen     = 1 + fileIDLen + tagLen
)

// errStale is returned by FromHandle for every refused handle.
var errStale = &nfs.NFSStatusError{NFSStatus: nfs.NFSStatusStale}

// export is one workspace directory served over NFS.
type export struct {
	id   string
	dir  string
	key  [32]byte
	fs   *rootFS
	root *os.Root
}

// alive reports whether the workspace directory still exists.
func (e *export) alive() bool {
	st, err := e.root.Stat(".")
	return err == nil && st.IsDir() && !dirRemoved(st)
}

type fileID [fileIDLen]byte

type hentry struct {
	id   fileID
	exp  *export
	path []string
	rev  string // key in handler.byPath
	elem *list.Element
}

// handler implements nfs.Handler for all workspaces.
type handler struct {
	resolve   Resolver
	exportKey []byte
	uid, gid  int
	ownerOf   func(workspaceID string) (uid, gid int)
	log       *slog.Logger
	key       [32]byte
	limit     int

	mu      sync.Mutex
	exports map[string]*export // by workspace id
	byID    map[fileID]*hentry
	byPath  map[string]*hentry
	lru     *list.List // front = most recently used
	closed  bool
}

func newHandler(cfg Config, limit int) *handler {
	h := &handler{
		resolve:   cfg.Resolve,
		exportKey: cfg.ExportKey,
		uid:       cfg.UID,
		gid:       cfg.GID,
		ownerOf:   cfg.OwnerOf,
		log:       cfg.Logger,
		limit:     limit,
		exports:   make(map[string]*export),
		byID:      make(map[fileID]*hentry),
		byPath:    make(map[string]*hentry),
		lru:       list.New(),
	}
	if len(cfg.HandleKey) > 0 {
		h.key = sha256.Sum256(cfg.HandleKey)
	} else {
		_, _ = rand.Read(h.key[:])
	}
	return h
}

// exportID extracts the workspace id from a MOUNT dirpath: "/<id>" or
// "<id>", with its token when the server has an export key.
func (h *handler) exportID(dirpath string) (string, bool) {
	name := strings.TrimPrefix(dirpath, "/")
	name = strings.TrimSuffix(name, "/")
	if !validName(name) {
		return "", false
	}
	id, ok := workspaceOfExport(h.exportKey, name)
	if !ok || !validName(id) {
		return "", false
	}
	return id, true
}

// Mount resolves the workspace on every MOUNT call, so an unknown or deleted
// workspace is refused and a re-created one gets a fresh export.
func (h *handler) Mount(_ context.Context, _ net.Conn, req nfs.MountRequest) (nfs.MountStatus, billy.Filesystem, []nfs.AuthFlavor) {
	id, ok := h.exportID(string(req.Dirpath))
	if !ok || h.resolve == nil {
		return nfs.MountStatusErrNoEnt, nil, nil
	}
	dir, ok := h.resolve(id)
	if !ok {
		h.log.Debug("nfs mount: unknown workspace", "workspace", id)
		return nfs.MountStatusErrNoEnt, nil, nil
	}
	exp, err := h.export(id, dir)
	if err != nil {
		h.log.Warn("nfs mount: open workspace dir", "workspace", id, "err", err)
		return nfs.MountStatusErrNoEnt, nil, nil
	}
	return nfs.MountStatusOk, exp.fs, []nfs.AuthFlavor{nfs.AuthFlavorNull, nfs.AuthFlavorUnix}
}

// export returns the live export of workspace id served from dir, opening
// a new one (and retiring the old) when needed.
func (h *handler) export(id, dir string) (*export, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, net.ErrClosed
	}
	if e := h.exports[id]; e != nil {
		if e.dir == dir && e.alive() {
			return e, nil
		}
		h.retireLocked(e)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	e := &export{id: id, dir: dir, root: root}
	_, _ = rand.Read(e.key[:])
	e.fs = &rootFS{exp: e, root: root, uid: h.uid, gid: h.gid}
	if h.uid >= 0 && h.ownerOf != nil {
		e.fs.uid, e.fs.gid = h.ownerOf(id)
	}
	h.exports[id] = e
	return e, nil
}

// retireLocked forgets an export and every handle it issued.
func (h *handler) retireLocked(e *export) {
	if h.exports[e.id] == e {
		delete(h.exports, e.id)
	}
	for el := h.lru.Front(); el != nil; {
		next := el.Next()
		if he := el.Value.(*hentry); he.exp == e {
			h.removeLocked(he)
		}
		el = next
	}
	_ = e.root.Close()
}

func (h *handler) removeLocked(he *hentry) {
	h.lru.Remove(he.elem)
	delete(h.byID, he.id)
	if h.byPath[he.rev] == he {
		delete(h.byPath, he.rev)
	}
}

// close retires every export.
func (h *handler) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, e := range h.exports {
		h.retireLocked(e)
	}
}

// Change exposes chmod, chown and chtimes (never mknod or hard links).
func (h *handler) Change(fs billy.Filesystem) billy.Change {
	if r, ok := fs.(*rootFS); ok {
		return r
	}
	return nil
}

// FSStat reports the space of the filesystem holding the workspace.
func (h *handler) FSStat(_ context.Context, fs billy.Filesystem, s *nfs.FSStat) error {
	r, ok := fs.(*rootFS)
	if !ok {
		return nil
	}
	if total, free, avail, files, ffree, ok := statfs(r.root); ok {
		s.TotalSize, s.FreeSize, s.AvailableSize = total, free, avail
		s.TotalFiles, s.FreeFiles, s.AvailableFiles = files, ffree, ffree
	}
	return nil
}

func (h *handler) tag(e *export, id fileID) []byte {
	m := hmac.New(sha256.New, h.key[:])
	m.Write(e.key[:])
	m.Write(id[:])
	return m.Sum(nil)[:tagLen]
}

// ToHandle returns the handle of path in fs, reusing the one already issued.
func (h *handler) ToHandle(fs billy.Filesystem, path []string) []byte {
	r, ok := fs.(*rootFS)
	if !ok || r == nil {
		return nil
	}
	e := r.exp
	rev := e.id + "\x00" + strings.Join(path, "/")
	h.mu.Lock()
	defer h.mu.Unlock()
	he := h.byPath[rev]
	if he == nil || he.exp != e {
		he = &hentry{exp: e, path: append([]string(nil), path...), rev: rev}
		_, _ = rand.Read(he.id[:])
		he.elem = h.lru.PushFront(he)
		h.byID[he.id] = he
		h.byPath[rev] = he
		for h.lru.Len() > h.limit {
			old := h.lru.Back().Value.(*hentry)
			if len(old.path) == 0 { // keep export roots
				h.lru.MoveToFront(old.elem)
				if h.lru.Back().Value.(*hentry) == old {
					break
				}
				continue
			}
			h.removeLocked(old)
		}
	} else {
		h.lru.MoveToFront(he.elem)
	}
	b := make([]byte, 0, handleLen)
	b = append(b, handleVersion)
	b = append(b, he.id[:]...)
	return append(b, h.tag(e, he.id)...)
}

// FromHandle verifies a handle's tag against the export that issued it and
// that the export's directory still exists.
func (h *handler) FromHandle(fh []byte) (billy.Filesystem, []string, error) {
	if len(fh) != handleLen || fh[0] != handleVersion {
		return nil, nil, errStale
	}
	var id fileID
	copy(id[:], fh[1:1+fileIDLen])
	h.mu.Lock()
	he := h.byID[id]
	if he != nil {
		h.lru.MoveToFront(he.elem)
	}
	h.mu.Unlock()
	if he == nil || !hmac.Equal(fh[1+fileIDLen:], h.tag(he.exp, id)) {
		return nil, nil, errStale
	}
	if !he.exp.alive() {
		h.mu.Lock()
		if h.exports[he.exp.id] == he.exp {
			h.retireLocked(he.exp)
		}
		h.mu.Unlock()
		return nil, nil, errStale
	}
	return he.exp.fs, append([]string(nil), he.path...), nil
}

// InvalidateHandle forgets a handle (after REMOVE and RENAME).
func (h *handler) InvalidateHandle(_ billy.Filesystem, fh []byte) error {
	if len(fh) != handleLen {
		return nil
	}
	var id fileID
	copy(id[:], fh[1:1+fileIDLen])
	h.mu.Lock()
	defer h.mu.Unlock()
	if he := h.byID[id]; he != nil && len(he.path) > 0 {
		h.removeLocked(he)
	}
	return nil
}

// HandleLimit is how many handles the table keeps (go-nfs also uses half of
// it as the READDIR entry cap).
func (h *handler) HandleLimit() int { return h.limit }
