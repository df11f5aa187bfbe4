package workspace

import (
	crand "crypto/rand"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/elevo/workspace-sdk-go/internal/nfsserver"
)

const nfsBenchSize = 64 << 20

// BenchmarkNFSRead streams a 64 MiB file through NFSFile.Read with the
// given buffer size (io.Discard is wrapped so that its ReadFrom does not
// substitute its own 8 KiB buffer); MB/s is reported per file.
func BenchmarkNFSRead(b *testing.B) { benchmarkNFSRead(b, nfsserver.Config{}) }

// BenchmarkNFSReadGoNFSOnly is BenchmarkNFSRead against go-nfs alone,
// without the server's interposer (the measurement behind keeping it, see
// internal/nfsserver/interposer.go).
func BenchmarkNFSReadGoNFSOnly(b *testing.B) {
	benchmarkNFSRead(b, nfsserver.Config{GoNFSOnly: true})
}

// writeRandomFile writes size random bytes to name in the server's
// directory.
func writeRandomFile(b *testing.B, s *nfsTestServer, name string, size int) {
	b.Helper()
	data := make([]byte, size)
	_, _ = crand.Read(data)
	if err := os.WriteFile(filepath.Join(s.dir, name), data, 0o644); err != nil {
		b.Fatal(err)
	}
}

func benchmarkNFSRead(b *testing.B, cfg nfsserver.Config) {
	s := startNFSWith(b, cfg)
	writeRandomFile(b, s, "big.bin", nfsBenchSize)
	fsys := openTestNFS(b, s)
	for _, bufSize := range []int{8 << 10, 64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("buf=%dKiB", bufSize>>10), func(b *testing.B) {
			buf := make([]byte, bufSize)
			b.SetBytes(nfsBenchSize)
			for b.Loop() {
				f, err := fsys.Open("big.bin")
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{f}, buf)
				if err != nil || n != nfsBenchSize {
					b.Fatal(n, err)
				}
				_ = f.Close()
			}
		})
	}
	b.Run("ReadFile", func(b *testing.B) {
		b.SetBytes(nfsBenchSize)
		for b.Loop() {
			if _, err := fsys.ReadFile("big.bin"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkNFSWrite writes a 64 MiB file with NFSFile.Write calls of the
// given buffer size.
func BenchmarkNFSWrite(b *testing.B) {
	s := startNFS(b)
	fsys := openTestNFS(b, s)
	data := make([]byte, nfsBenchSize)
	_, _ = crand.Read(data)
	for _, bufSize := range []int{64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("buf=%dKiB", bufSize>>10), func(b *testing.B) {
			b.SetBytes(nfsBenchSize)
			for b.Loop() {
				f, err := fsys.Create("out.bin")
				if err != nil {
					b.Fatal(err)
				}
				for off := 0; off < len(data); off += bufSize {
					if _, err := f.Write(data[off : off+bufSize]); err != nil {
						b.Fatal(err)
					}
				}
				_ = f.Close()
			}
		})
	}
}

// BenchmarkNFSSmallOps measures the latency of a Stat and of an open+read
// of a small file one directory deep.
func BenchmarkNFSSmallOps(b *testing.B) {
	s := startNFS(b)
	if err := os.MkdirAll(filepath.Join(s.dir, "d"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "d", "small.txt"), []byte("hello, small file\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	fsys := openTestNFS(b, s)
	b.Run("Stat", func(b *testing.B) {
		for b.Loop() {
			if _, err := fsys.Stat("d/small.txt"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("OpenRead", func(b *testing.B) {
		buf := make([]byte, 4096)
		for b.Loop() {
			f, err := fsys.Open("d/small.txt")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.Read(buf); err != nil {
				b.Fatal(err)
			}
			_ = f.Close()
		}
	})
}

// BenchmarkNFSReadAt4K measures 4 KiB ReadAts at random offsets, in
// ops/s: cold over a 64 MiB file much larger than the cache (nearly every
// read is a 4 KiB READ), warm within 4 MiB already in the cache.
func BenchmarkNFSReadAt4K(b *testing.B) {
	s := startNFS(b)
	writeRandomFile(b, s, "big.bin", nfsBenchSize)
	fsys := openTestNFS(b, s)
	f, err := fsys.Open("big.bin")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	ra := f.(io.ReaderAt)
	buf := make([]byte, 4<<10)
	run := func(b *testing.B, span int64) {
		rng := rand.New(rand.NewPCG(1, 2))
		for b.Loop() {
			if _, err := ra.ReadAt(buf, rng.Int64N(span-int64(len(buf)))); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	}
	b.Run("cold", func(b *testing.B) { run(b, nfsBenchSize) })
	b.Run("warm", func(b *testing.B) {
		if _, err := ra.ReadAt(make([]byte, 4<<20), 0); err != nil {
			b.Fatal(err)
		}
		// A large ReadAt bypasses the cache: warm it block by block.
		for off := int64(0); off < 4<<20; off += 4 << 10 {
			if _, err := ra.ReadAt(buf, off); err != nil {
				b.Fatal(err)
			}
		}
		run(b, 4<<20)
	})
}

// BenchmarkNFSRead1Byte reads an 8 MiB file one byte per Read call.
func BenchmarkNFSRead1Byte(b *testing.B) {
	const size = 8 << 20
	s := startNFS(b)
	writeRandomFile(b, s, "f.bin", size)
	fsys := openTestNFS(b, s)
	one := make([]byte, 1)
	b.SetBytes(size)
	for b.Loop() {
		f, err := fsys.Open("f.bin")
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; ; n++ {
			_, err := f.Read(one)
			if err == io.EOF {
				if n != size {
					b.Fatal(n)
				}
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		_ = f.Close()
	}
}
