package nfsclient

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	nfs "github.com/willscott/go-nfs-client/nfs"
)

// TestBlockCacheUnit exercises the cache alone: extents, end of file,
// replacement, the byte bound, changed attributes and own writes.
func TestBlockCacheUnit(t *testing.T) {
	bc := newBlockCache(64<<10, time.Hour)
	fh := []byte("fh")
	attr := &Attr{Filesize: 40000, Mtime: nfs.NFS3Time{Seconds: 1}}
	data := bytes.Repeat([]byte("0123456789abcdef"), 40000/16)
	bc.put(fh, 0, data[:32768], false, attr)
	bc.put(fh, 32768, data[32768:], true, attr) // the short last block at the end of file

	p := make([]byte, 100)
	n, eof, stale := bc.get(fh, p, 5, false, nil)
	require.Equal(t, 100, n)
	require.False(t, eof || stale)
	require.Equal(t, data[5:105], p)
	// Across the two extents and up to the end of file: the end needs a
	// revalidation first, then it is reported.
	big := make([]byte, 10000)
	_, _, stale = bc.get(fh, big, 32000, false, nil)
	require.True(t, stale)
	n, eof, _ = bc.get(fh, big, 32000, true, nil)
	require.Equal(t, 8000, n)
	require.True(t, eof)
	require.Equal(t, data[32000:], big[:n])

	// The byte bound evicts the least recently used extents.
	other := []byte("other")
	bc.put(other, 0, make([]byte, 60<<10), false, &Attr{Filesize: 1 << 20})
	require.LessOrEqual(t, bc.used, int64(64<<10))
	n, _, _ = bc.get(fh, p, 0, true, nil)
	require.Zero(t, n, "the first extent was evicted")

	// Other attributes drop the file's data.
	bc.put(fh, 0, data[:8192], false, attr)
	bc.observe(fh, &Attr{Filesize: 40000, Mtime: nfs.NFS3Time{Seconds: 2}})
	n, _, _ = bc.get(fh, p, 0, true, nil)
	require.Zero(t, n)

	// An own write drops the range it covers and keeps the rest when the
	// pre-op attributes match.
	a2 := &Attr{Filesize: 40000, Mtime: nfs.NFS3Time{Seconds: 2}}
	bc.put(fh, 0, data[:4096], false, a2)
	bc.put(fh, 8192, data[8192:12288], false, a2)
	var wcc nfs.WccData
	wcc.Before.IsSet, wcc.Before.Size, wcc.Before.MTime = true, 40000, a2.Mtime
	wcc.After.IsSet, wcc.After.Attr = true, Attr{Filesize: 40000, Mtime: nfs.NFS3Time{Seconds: 3}}
	bc.wrote(fh, 8200, 10, &wcc)
	n, _, _ = bc.get(fh, p, 0, true, nil)
	require.Equal(t, 100, n, "untouched range kept")
	n, _, _ = bc.get(fh, p, 8192, true, nil)
	require.Zero(t, n, "written range dropped")
}
