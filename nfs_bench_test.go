package workspace

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

const nfsBenchSize = 64 << 20

// BenchmarkNFSRead streams a 64 MiB file through NFSFile.Read with the
// given buffer size (io.Discard is wrapped so that its ReadFrom does not
// substitute its own 8 KiB buffer); MB/s is reported per file.
func BenchmarkNFSRead(b *testing.B) {
	s := startNFS(b)
	data := make([]byte, nfsBenchSize)
	_, _ = rand.Read(data)
	if err := os.WriteFile(filepath.Join(s.dir, "big.bin"), data, 0o644); err != nil {
		b.Fatal(err)
	}
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
	_, _ = rand.Read(data)
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
