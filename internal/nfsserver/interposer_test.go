//go:build !windows

package nfsserver

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	nfsc "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/rpc"
	"github.com/willscott/go-nfs-client/nfs/xdr"
)

// readReply is a READ reply, decoded.
type readReply struct {
	Status uint32
	Attr   nfsc.PostOpAttr
	Count  uint32
	EOF    uint32
	Data   []byte
}

// readAt READs n bytes of fh at off and decodes the reply.
func readAt(t *testing.T, c *rpc.Client, fh []byte, off uint64, n uint32) readReply {
	t.Helper()
	res, err := c.Call(&offsetCountArgs{hdr(nfsc.NFSProc3Read), fh, off, n})
	require.NoError(t, err)
	var r readReply
	r.Status, err = xdr.ReadUint32(res)
	require.NoError(t, err)
	if r.Status == 0 {
		require.NoError(t, xdr.Read(res, &struct {
			A *nfsc.PostOpAttr
			C *uint32
			E *uint32
			D *[]byte
		}{&r.Attr, &r.Count, &r.EOF, &r.Data}))
	} else {
		_ = xdr.Read(res, &r.Attr)
	}
	return r
}

// TestFastReadMatchesGoNFS sends the same READs to a server with the
// interposer and one with go-nfs alone: the replies are identical (data, count, eof, attributes, errors).
func TestFastReadMatchesGoNFS(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 3<<20+5)
	_, _ = rand.Read(data)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big.bin"), data, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "empty"), nil, 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(dir, "pw")))
	type side struct {
		c                                *rpc.Client
		root, big, empty, sub, pw, stale []byte
	}
	open := func(cfg Config) side {
		ts := startServer(t, map[string]string{"ws": dir}, cfg)
		c := dial(t, ts.addr)
		root := rawMount(t, c, "/ws")
		handle := func(name string) []byte {
			st, fh, _ := rawLookup(t, c, root, name)
			require.EqualValues(t, 0, st, name)
			return fh
		}
		s := side{c: c, root: root, big: handle("big.bin"), empty: handle("empty"), sub: handle("sub"), pw: handle("pw")}
		s.stale = append([]byte{}, s.big...)
		s.stale[len(s.stale)-1] ^= 1
		return s
	}
	fastSide, slowSide := open(Config{}), open(Config{GoNFSOnly: true})
	cases := []struct {
		name string
		fh   func(side) []byte
		off  uint64
		n    uint32
	}{
		{"start", func(s side) []byte { return s.big }, 0, 1 << 20},
		{"odd", func(s side) []byte { return s.big }, 12345, 777},
		{"tail", func(s side) []byte { return s.big }, 3 << 20, 1 << 20},
		{"exact end", func(s side) []byte { return s.big }, 3<<20 + 1, 4},
		{"at end", func(s side) []byte { return s.big }, 3<<20 + 5, 100},
		{"past end", func(s side) []byte { return s.big }, 1 << 40, 100},
		{"huge offset", func(s side) []byte { return s.big }, 1<<63 + 5, 100},
		{"zero count", func(s side) []byte { return s.big }, 10, 0},
		{"over 1 MiB", func(s side) []byte { return s.big }, 0, 2 << 20},
		{"empty file", func(s side) []byte { return s.empty }, 0, 100},
		{"directory", func(s side) []byte { return s.sub }, 0, 100},
		{"symlink out", func(s side) []byte { return s.pw }, 0, 100},
		{"stale", func(s side) []byte { return s.stale }, 0, 100},
		{"short handle", func(s side) []byte { return s.big[:10] }, 0, 100},
		{"root", func(s side) []byte { return s.root }, 0, 10},
	}
	for _, tc := range cases {
		fast := readAt(t, fastSide.c, tc.fh(fastSide), tc.off, tc.n)
		slow := readAt(t, slowSide.c, tc.fh(slowSide), tc.off, tc.n)
		// Access times may tick between the two reads; file ids hash the
		// handle-independent path, so they agree.
		fast.Attr.Attr.Atime, slow.Attr.Attr.Atime = nfsc.NFS3Time{}, nfsc.NFS3Time{}
		require.Equal(t, slow, fast, tc.name)
		if slow.Status == 0 && tc.off < uint64(len(data)) && tc.name != "empty file" {
			end := min(uint64(len(data)), tc.off+uint64(tc.n))
			require.True(t, bytes.Equal(data[tc.off:end], fast.Data), tc.name)
		}
	}
}

// TestFastReadInterleaved keeps many READs and other calls in flight on one
// connection: fast-path replies never interleave with go-nfs's.
func TestFastReadInterleaved(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 2<<20)
	_, _ = rand.Read(data)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "f"), data, 0o644))
	ts := startServer(t, map[string]string{"ws": dir}, Config{})
	c := dial(t, ts.addr)
	root := rawMount(t, c, "/ws")
	st, fh, _ := rawLookup(t, c, root, "f")
	require.EqualValues(t, 0, st)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if (g+i)%3 == 0 {
					st, _ := rawGetattr(t, c, fh)
					require.EqualValues(t, 0, st)
					continue
				}
				off := uint64((g*7919 + i*104729) % (len(data) - 1))
				r := readAt(t, c, fh, off, 1<<20)
				require.EqualValues(t, 0, r.Status)
				end := min(uint64(len(data)), off+1<<20)
				require.Equal(t, data[off:end], r.Data)
			}
		}()
	}
	wg.Wait()
}

func TestParseReadCall(t *testing.T) {
	fh := bytes.Repeat([]byte{7}, handleLen)
	be := binary.BigEndian
	var b []byte
	u := func(v uint32) { b = be.AppendUint32(b, v) }
	u(42)
	for _, v := range []uint32{0, 2, nfsProg, nfsVers, nfsProcRead} {
		u(v)
	}
	u(1) // AUTH_UNIX with a 5-byte body (padded to 8)
	u(5)
	b = append(b, 1, 2, 3, 4, 5, 0, 0, 0)
	u(0)
	u(0)
	u(handleLen)
	b = append(b, fh...)
	b = append(b, make([]byte, (4-handleLen%4)%4)...)
	u(0)
	u(4096)
	u(1 << 20)
	c, ok := parseReadCall(b)
	require.True(t, ok)
	require.Equal(t, readCall{xid: 42, fh: fh, offset: 4096, count: 1 << 20}, c)
	for i := range len(b) {
		_, ok := parseReadCall(b[:i])
		require.False(t, ok, "truncated at %d", i)
	}
	_, ok = parseReadCall(append(append([]byte{}, b...), 0, 0, 0, 0))
	require.False(t, ok, "trailing bytes")
	w := append([]byte{}, b...)
	be.PutUint32(w[20:], 7) // another procedure
	_, ok = parseReadCall(w)
	require.False(t, ok)
}
