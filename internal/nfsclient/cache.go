package nfsclient

import (
	"container/list"
	"sync"
	"sync/atomic"
	"time"

	nfs "github.com/willscott/go-nfs-client/nfs"
)

// blockSize is the unit of the read cache. Small blocks keep a cold random
// read cheap (one 4 KiB READ, not a 1 MiB one); large reads and read-ahead
// fill many blocks at once.
const blockSize = 4 << 10

// blockCache is the session's read cache: file data in 4 KiB blocks,
// least recently used evicted first, bounded in bytes. The data of one
// READ is kept as one extent (a 1 MiB read-ahead READ costs one entry,
// not 256); each block of the file maps to the extent holding it. Each
// file's data is tagged with the attributes (size, mtime, ctime) it was
// read under; a reply carrying other attributes drops it (another writer
// changed the file), the session's own WRITEs drop the range they
// overwrite, and data older than the attribute timeout is revalidated
// with a GETATTR before it is served (see get). Safe for concurrent use.
type blockCache struct {
	max     int64 // bytes; <= 0 disables the cache
	attrTTL time.Duration

	mu    sync.Mutex
	used  int64
	lru   list.List // of *extent, front = most recently used
	files map[string]*cachedFile
	// gen changes whenever cached data stops standing for its file (a
	// drop or an own write), so a File's hot extent knows it is stale.
	gen atomic.Uint64
}

// hotExtent is the extent a File's last cached Read came from, kept by
// the File to serve the next small sequential Reads without the cache's
// lock while gen is unchanged and the attributes are fresh. The clock is
// read once per block served (unread is the budget left), not per call:
// a 1-byte Read costs no clock read.
type hotExtent struct {
	data    []byte
	off     int64
	eof     bool
	gen     uint64
	checked time.Time
	unread  int // bytes the hot path may serve before it reads the clock again
}

// attrKey is what identifies a version of a file's contents.
type attrKey struct {
	size         uint64
	mtime, ctime nfs.NFS3Time
}

func keyOf(a *Attr) attrKey { return attrKey{a.Filesize, a.Mtime, a.Ctime} }

// cachedFile is the cache state of one file handle.
type cachedFile struct {
	key     attrKey
	known   bool
	checked time.Time               // when key was last confirmed by the server
	blocks  map[int64]*list.Element // block index -> its extent
}

// extent is the data of one READ: whole blocks from block first, and a
// short last block only when it ends at the end of the file (eof).
type extent struct {
	fh    string
	first int64
	data  []byte
	eof   bool
}

func (e *extent) blocks() int64 { return (int64(len(e.data)) + blockSize - 1) / blockSize }

func newBlockCache(max int64, attrTTL time.Duration) *blockCache {
	return &blockCache{max: max, attrTTL: attrTTL, files: make(map[string]*cachedFile)}
}

func (bc *blockCache) enabled() bool { return bc.max > 0 }

// fileLocked returns the state of fh, creating it.
func (bc *blockCache) fileLocked(fh string) *cachedFile {
	f := bc.files[fh]
	if f == nil {
		f = &cachedFile{blocks: make(map[int64]*list.Element)}
		bc.files[fh] = f
	}
	return f
}

// observe records attributes the server sent for fh; other attributes
// than the cached data's drop that data.
func (bc *blockCache) observe(fh []byte, a *Attr) {
	if !bc.enabled() {
		return
	}
	bc.mu.Lock()
	defer bc.mu.Unlock()
	f := bc.fileLocked(string(fh))
	k := keyOf(a)
	if f.known && f.key != k {
		bc.dropLocked(string(fh), f)
	}
	f.key, f.known, f.checked = k, true, time.Now()
}

// wrote records the session's own WRITE of n bytes at off: the range is
// dropped, and when the file was unchanged before the WRITE (pre-op
// attributes) its post-op attributes become the cached data's.
func (bc *blockCache) wrote(fh []byte, off int64, n int, wcc *nfs.WccData) {
	if !bc.enabled() {
		return
	}
	bc.mu.Lock()
	defer bc.mu.Unlock()
	f := bc.fileLocked(string(fh))
	bc.gen.Add(1)
	for idx := off / blockSize; idx <= (off+int64(n)-1)/blockSize; idx++ {
		if el := f.blocks[idx]; el != nil {
			bc.removeLocked(f, el)
		}
	}
	// The extent holding the old end of file must not stand for the
	// file's end any more.
	if f.known {
		if el := f.blocks[int64(f.key.size)/blockSize]; el != nil {
			bc.removeLocked(f, el)
		}
	}
	if wcc == nil || !wcc.After.IsSet {
		f.known = false
		bc.dropLocked(string(fh), f)
		return
	}
	b := wcc.Before
	if !f.known || !b.IsSet || f.key != (attrKey{b.Size, b.MTime, b.CTime}) {
		bc.dropLocked(string(fh), f)
	}
	f.key, f.known, f.checked = keyOf(&wcc.After.Attr), true, time.Now()
}

// forget drops every block of fh (a WRITE whose outcome is unknown).
func (bc *blockCache) forget(fh []byte) {
	if !bc.enabled() {
		return
	}
	bc.mu.Lock()
	defer bc.mu.Unlock()
	if f := bc.files[string(fh)]; f != nil {
		f.known = false
		bc.dropLocked(string(fh), f)
	}
}

// dropLocked removes every extent of f.
func (bc *blockCache) dropLocked(fh string, f *cachedFile) {
	bc.gen.Add(1)
	for _, el := range f.blocks {
		bc.removeLocked(f, el)
	}
	if len(f.blocks) == 0 && !f.known {
		delete(bc.files, fh)
	}
}

// removeLocked removes the extent el and its blocks.
func (bc *blockCache) removeLocked(f *cachedFile, el *list.Element) {
	e := el.Value.(*extent)
	for idx := e.first; idx < e.first+e.blocks(); idx++ {
		if f.blocks[idx] == el {
			delete(f.blocks, idx)
		}
	}
	bc.lru.Remove(el)
	bc.used -= e.blocks() * blockSize
}

// get copies cached data at off into p, extent after extent, and returns
// how many bytes it copied; eof is true when the copy reached the end of
// the file. stale (with nothing copied) asks the caller to revalidate the
// file's attributes first: they are older than the attribute timeout, or
// the copy would report an end of file and checked is false (the file may
// have grown). It copies nothing unless the block at off is cached.
//
// hot, when not nil, receives the last extent copied from.
func (bc *blockCache) get(fh []byte, p []byte, off int64, checked bool, hot *hotExtent) (n int, eof, stale bool) {
	if !bc.enabled() || len(p) == 0 {
		return 0, false, false
	}
	bc.mu.Lock()
	defer bc.mu.Unlock()
	f := bc.files[string(fh)]
	if f == nil || len(f.blocks) == 0 {
		return 0, false, false
	}
	if !checked && time.Since(f.checked) >= bc.attrTTL {
		return 0, false, true
	}
	for n < len(p) {
		pos := off + int64(n)
		el := f.blocks[pos/blockSize]
		if el == nil {
			return n, false, false
		}
		e := el.Value.(*extent)
		in := int(pos - e.first*blockSize)
		if e.eof && (in >= len(e.data) || n+len(e.data)-in < len(p)) {
			// The copy reaches the end of the file.
			if !checked {
				return 0, false, true
			}
			eof = true
		}
		bc.lru.MoveToFront(el)
		if in < len(e.data) {
			n += copy(p[n:], e.data[in:])
		}
		if hot != nil {
			*hot = hotExtent{data: e.data, off: e.first * blockSize, eof: e.eof, gen: bc.gen.Load(), checked: f.checked}
		}
		if eof {
			return n, true, false
		}
	}
	return n, false, false
}

// has reports whether block idx of fh is cached.
func (bc *blockCache) has(fh []byte, idx int64) bool {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	f := bc.files[string(fh)]
	return f != nil && f.blocks[idx] != nil
}

// put caches data read at off (a multiple of blockSize) under the
// attributes the READ returned; eof says data ends at the end of the file
// (so its last, short block is cached too). data must not be modified
// afterwards: the cache shares its memory.
func (bc *blockCache) put(fh []byte, off int64, data []byte, eof bool, a *Attr) {
	if !bc.enabled() || off%blockSize != 0 {
		return
	}
	if !eof {
		data = data[:len(data)/blockSize*blockSize]
	}
	if len(data) == 0 || int64(len(data)) > bc.max {
		return
	}
	bc.mu.Lock()
	defer bc.mu.Unlock()
	f := bc.fileLocked(string(fh))
	if a != nil {
		k := keyOf(a)
		if f.known && f.key != k {
			bc.dropLocked(string(fh), f)
		}
		f.key, f.known, f.checked = k, true, time.Now()
	}
	if !f.known {
		return
	}
	e := &extent{fh: string(fh), first: off / blockSize, data: data[:len(data):len(data)], eof: eof}
	for idx := e.first; idx < e.first+e.blocks(); idx++ {
		if old := f.blocks[idx]; old != nil {
			bc.removeLocked(f, old)
		}
	}
	el := bc.lru.PushFront(e)
	for idx := e.first; idx < e.first+e.blocks(); idx++ {
		f.blocks[idx] = el
	}
	bc.used += e.blocks() * blockSize
	for bc.used > bc.max {
		back := bc.lru.Back()
		bc.removeLocked(bc.files[back.Value.(*extent).fh], back)
	}
}
