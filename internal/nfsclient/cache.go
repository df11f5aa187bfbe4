package nfsclient

import (
	"container/list"
	"sync"
	"time"

	nfs "github.com/willscott/go-nfs-client/nfs"
)

// blockSize is the unit of the read cache. Small blocks keep a cold random
// read cheap (one 4 KiB READ, not a 1 MiB one); large reads and read-ahead
// fill many blocks at once.
const blockSize = 4 << 10

// blockCache is the session's read cache: 4 KiB blocks of file data, least
// recently used evicted first, bounded in bytes. Each file's blocks are
// tagged with the attributes (size, mtime, ctime) they were read under; a
// reply carrying other attributes drops them (another writer changed the
// file), the session's own WRITEs drop the range they overwrite, and data
// older than the attribute timeout is revalidated with a GETATTR before it
// is served (see fresh). Safe for concurrent use.
type blockCache struct {
	max     int64 // bytes; <= 0 disables the cache
	attrTTL time.Duration

	mu    sync.Mutex
	used  int64
	lru   list.List // of *block, front = most recently used
	files map[string]*cachedFile
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
	checked time.Time // when key was last confirmed by the server
	blocks  map[int64]*list.Element
}

// block is one cached block; data is shorter than blockSize only for the
// block holding the end of the file.
type block struct {
	fh   string
	idx  int64
	data []byte
}

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
	for idx := off / blockSize; idx <= (off+int64(n)-1)/blockSize; idx++ {
		if el := f.blocks[idx]; el != nil {
			bc.removeLocked(f, el)
		}
	}
	// The block holding the old end of file is short; it must not stand
	// for the file's end any more.
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

// dropLocked removes every block of f.
func (bc *blockCache) dropLocked(fh string, f *cachedFile) {
	for _, el := range f.blocks {
		bc.removeLocked(f, el)
	}
	if len(f.blocks) == 0 && !f.known {
		delete(bc.files, fh)
	}
}

func (bc *blockCache) removeLocked(f *cachedFile, el *list.Element) {
	b := el.Value.(*block)
	bc.lru.Remove(el)
	delete(f.blocks, b.idx)
	bc.used -= blockSize
}

// get copies cached data at off into p, block after block, and returns how
// many bytes it copied; eof is true when the copy reached the end of the
// file. stale (with nothing copied) asks the caller to revalidate the
// file's attributes first: they are older than the attribute timeout, or
// the copy would report an end of file and checked is false (the file may
// have grown). It copies nothing unless the block at off is cached.
func (bc *blockCache) get(fh []byte, p []byte, off int64, checked bool) (n int, eof, stale bool) {
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
		data := el.Value.(*block).data
		in := int(pos % blockSize)
		if in >= len(data) || (len(data) < blockSize && n+len(data)-in < len(p)) {
			// The copy reaches the end of the file.
			if !checked {
				return 0, false, true
			}
			eof = true
		}
		bc.lru.MoveToFront(el)
		if in < len(data) {
			n += copy(p[n:], data[in:])
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
// attributes key the READ returned; eof says data ends at the end of the
// file (so its last, short block is cached too). data must not be
// modified afterwards: blocks share its memory.
func (bc *blockCache) put(fh []byte, off int64, data []byte, eof bool, a *Attr) {
	if !bc.enabled() || off%blockSize != 0 {
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
	for len(data) > 0 {
		k := min(len(data), blockSize)
		if k < blockSize && !eof {
			return
		}
		idx := off / blockSize
		if el := f.blocks[idx]; el != nil {
			bc.removeLocked(f, el)
		}
		f.blocks[idx] = bc.lru.PushFront(&block{fh: string(fh), idx: idx, data: data[:k:k]})
		bc.used += blockSize
		data = data[k:]
		off += int64(k)
	}
	for bc.used > bc.max {
		el := bc.lru.Back()
		b := el.Value.(*block)
		bc.removeLocked(bc.files[b.fh], el)
	}
}
