package integration

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// patternReader yields n deterministic, incompressible-looking bytes
// without holding them: a 64 KiB block of odd length cycled.
type patternReader struct {
	n, off int64
}

var patternBlock = func() []byte {
	b := make([]byte, 65521)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}()

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	n := 0
	for n < len(b) {
		i := int(p.off % int64(len(patternBlock)))
		c := copy(b[n:], patternBlock[i:])
		n += c
		p.off += int64(c)
	}
	return n, nil
}

func patternCRC(n int64) uint32 {
	h := crc32.NewIEEE()
	io.CopyBuffer(h, &patternReader{n: n}, make([]byte, 256<<10))
	return h.Sum32()
}

func raceEnabled() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" && s.Value == "true" {
				return true
			}
		}
	}
	return false
}

// memWatch samples the Go heap of this process, which holds both the SDK
// and the in-process server, while a transfer runs.
type memWatch struct {
	start     runtime.MemStats
	peakInuse atomic.Uint64
	stop      chan struct{}
	done      sync.WaitGroup
}

func watchMemory() *memWatch {
	runtime.GC()
	w := &memWatch{stop: make(chan struct{})}
	runtime.ReadMemStats(&w.start)
	w.peakInuse.Store(w.start.HeapInuse)
	w.done.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var m runtime.MemStats
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				runtime.ReadMemStats(&m)
				if m.HeapInuse > w.peakInuse.Load() {
					w.peakInuse.Store(m.HeapInuse)
				}
			}
		}
	})
	return w
}

// end returns the peak growth of HeapInuse and the bytes allocated (live
// or not) since watchMemory.
func (w *memWatch) end() (heapGrowth, allocated uint64) {
	close(w.stop)
	w.done.Wait()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	peak := max(w.peakInuse.Load(), m.HeapInuse)
	return peak - min(peak, w.start.HeapInuse), m.TotalAlloc - w.start.TotalAlloc
}

// TestTransferFlatMemory moves 1 GiB (256 MiB under -race, which is much
// slower) up and down through the SDK and the in-process server and
// asserts that neither holds it: the heap of the test process, which is
// both the client and the server, grows by at most a few MiB, and the
// bytes allocated over the whole transfer stay far below its size (any
// buffering of the body would allocate at least the body).
func TestTransferFlatMemory(t *testing.T) {
	size := int64(1 << 30)
	if raceEnabled() {
		size = 256 << 20
	}
	const maxHeapGrowth = 8 << 20
	const maxAllocated = 16 << 20
	c, ws := workspaceFixture(t)
	ctx := ctxFor(t)
	want := patternCRC(size)
	// Warm up the connection and the feature cache.
	require.NoError(t, c.Workspace.Upload(ctx, ws.ID, "warm", strings.NewReader("x"), nil))

	var last atomic.Int64
	w := watchMemory()
	err := c.Workspace.Upload(ctx, ws.ID, "big/file.bin", &patternReader{n: size}, &workspace.TransferOptions{
		Size:     size,
		Progress: func(done, total int64) { last.Store(done) },
	})
	growth, allocated := w.end()
	require.NoError(t, err)
	t.Logf("upload %d MiB: heap grew %d KiB, allocated %d KiB", size>>20, growth>>10, allocated>>10)
	assert.LessOrEqual(t, growth, uint64(maxHeapGrowth), "heap growth during upload")
	assert.LessOrEqual(t, allocated, uint64(maxAllocated), "bytes allocated during upload")
	assert.Equal(t, size, last.Load())

	fi, err := c.Workspace.GetFileInfo(ctx, ws.ID, "big/file.bin")
	require.NoError(t, err)
	require.Equal(t, size, fi.Size)

	w = watchMemory()
	rc, err := c.Workspace.Download(ctx, ws.ID, "big/file.bin", nil)
	require.NoError(t, err)
	h := crc32.NewIEEE()
	n, err := io.CopyBuffer(h, rc, make([]byte, 256<<10))
	rc.Close()
	growth, allocated = w.end()
	require.NoError(t, err)
	t.Logf("download %d MiB: heap grew %d KiB, allocated %d KiB", size>>20, growth>>10, allocated>>10)
	assert.Equal(t, size, n)
	assert.Equal(t, want, h.Sum32(), "downloaded bytes differ from the uploaded ones")
	assert.LessOrEqual(t, growth, uint64(maxHeapGrowth), "heap growth during download")
	assert.LessOrEqual(t, allocated, uint64(maxAllocated), "bytes allocated during download")
	require.NoError(t, c.Workspace.DeleteFile(ctx, ws.ID, "big", &workspace.DeleteFileOptions{Recursive: true}))
}

func TestTransferRoundTripAndRange(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, srv *workspacetest.Server, c *workspace.Client) {
		ctx := ctxFor(t)
		ws, err := c.Workspace.Create(ctx, nil)
		require.NoError(t, err)
		// Text, so that base mode (upstream: UTF-8 only) can carry it too.
		data := []byte(strings.Repeat("0123456789abcdef\n", 16<<10)) // 278 KB
		var calls, last atomic.Int64
		err = c.Workspace.Upload(ctx, ws.ID, "dir/sub/t.txt", bytes.NewReader(data), &workspace.TransferOptions{
			Progress: func(done, total int64) {
				calls.Add(1)
				last.Store(done)
				if total != int64(len(data)) {
					t.Errorf("progress total %d, want %d", total, len(data))
				}
			},
		})
		require.NoError(t, err)
		assert.Equal(t, int64(len(data)), last.Load())
		assert.Positive(t, calls.Load())

		got, err := c.Workspace.ReadFile(ctx, ws.ID, "dir/sub/t.txt")
		require.NoError(t, err)
		assert.Equal(t, data, got)

		for _, tc := range []struct{ off, length int64 }{{0, 0}, {5, 10}, {int64(len(data)) - 3, 0}, {1000, 1 << 30}, {int64(len(data)), 0}} {
			rc, err := c.Workspace.Download(ctx, ws.ID, "/dir/sub/t.txt", &workspace.TransferOptions{Offset: tc.off, Length: tc.length})
			require.NoError(t, err)
			b, err := io.ReadAll(rc)
			rc.Close()
			require.NoError(t, err)
			end := int64(len(data))
			if tc.length > 0 {
				end = min(end, tc.off+tc.length)
			}
			assert.Equal(t, data[tc.off:end], b, "offset %d length %d", tc.off, tc.length)
		}

		_, err = c.Workspace.Download(ctx, ws.ID, "missing", nil)
		assert.ErrorIs(t, err, workspace.ErrFileNotFound)
		_, err = c.Workspace.Download(ctx, ws.ID, "dir", nil)
		assert.Error(t, err)
		err = c.Workspace.Upload(ctx, ws.ID, "../escape", strings.NewReader("x"), nil)
		assert.ErrorIs(t, err, workspace.ErrPathNotAllowed)
	})
}

func TestTransferBinaryReadWriteFileRaw(t *testing.T) {
	t.Parallel()
	srv := workspacetest.NewServer(t)
	c := srv.Client()
	ctx := ctxFor(t)
	h, err := c.Health(ctx)
	require.NoError(t, err)
	require.Contains(t, h.Features, "files.raw")
	ws, err := c.Workspace.Create(ctx, nil)
	require.NoError(t, err)
	data := make([]byte, 256)
	for i := range data {
		data[i] = byte(i)
	}
	require.NoError(t, c.Workspace.WriteFile(ctx, ws.ID, "bin/all.bytes", data))
	got, err := c.Workspace.ReadFile(ctx, ws.ID, "bin/all.bytes")
	require.NoError(t, err)
	assert.Equal(t, data, got)
	require.NoError(t, c.Workspace.WriteFile(ctx, ws.ID, "bin/empty", nil))
	got, err = c.Workspace.ReadFile(ctx, ws.ID, "bin/empty")
	require.NoError(t, err)
	assert.Empty(t, got)
}

// stallingReader yields n bytes, then blocks until ctx ends.
type stallingReader struct {
	ctx context.Context
	n   int
}

func (s *stallingReader) Read(b []byte) (int, error) {
	if s.n > 0 {
		k := min(len(b), s.n)
		s.n -= k
		return k, nil
	}
	<-s.ctx.Done()
	return 0, s.ctx.Err()
}

func TestTransferCancelledUploadLeavesNothing(t *testing.T) {
	t.Parallel()
	c, ws := workspaceFixture(t)
	ctx := ctxFor(t)
	require.NoError(t, c.Workspace.WriteFile(ctx, ws.ID, "keep.txt", []byte("old")))

	for _, p := range []string{"keep.txt", "new/dir/file"} {
		upCtx, cancel := context.WithCancel(ctx)
		var sent atomic.Int64
		go func() {
			// Cancel once a good part of the body is on its way.
			for sent.Load() < 1<<20 && upCtx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		err := c.Workspace.Upload(upCtx, ws.ID, p, &stallingReader{ctx: upCtx, n: 2 << 20}, &workspace.TransferOptions{
			Size:     8 << 20,
			Progress: func(done, _ int64) { sent.Store(done) },
		})
		cancel()
		require.Error(t, err)
		assert.True(t, errors.Is(err, context.Canceled), "err = %v", err)
	}
	// The server notices the dropped connection on its own schedule: wait
	// (bounded) for its temporary files to go.
	var names []string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		files, err := c.Workspace.ListFiles(ctx, ws.ID, "")
		require.NoError(t, err)
		names = names[:0]
		for _, f := range files {
			names = append(names, f.Name)
		}
		if len(names) == 1 {
			break
		}
	}
	assert.Equal(t, []string{"keep.txt"}, names, "a cancelled upload left files behind")
	got, err := c.Workspace.ReadFile(ctx, ws.ID, "keep.txt")
	require.NoError(t, err)
	assert.Equal(t, "old", string(got))
}
