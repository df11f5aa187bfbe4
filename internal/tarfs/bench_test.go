package tarfs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkTree writes and extracts a tree of 1,000 files of 1 KiB
// locally: the floor under the files.archive routes.
func BenchmarkTree(b *testing.B) {
	src := b.TempDir()
	body := bytes.Repeat([]byte("x"), 1024)
	for i := range 1000 {
		p := filepath.Join(src, fmt.Sprintf("d%02d", i%10), fmt.Sprintf("f%04d", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, body, 0o644)
	}
	sroot, err := os.OpenRoot(src)
	if err != nil {
		b.Fatal(err)
	}
	defer sroot.Close()
	var buf bytes.Buffer
	b.Run("write", func(b *testing.B) {
		for range b.N {
			buf.Reset()
			if err := WriteTree(&buf, sroot, ".", nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "files/s")
	})
	b.Run("extract", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			dst := b.TempDir()
			root, err := os.OpenRoot(dst)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if _, err := Extract(root, ".", bytes.NewReader(buf.Bytes()), nil); err != nil {
				b.Fatal(err)
			}
			root.Close()
		}
		b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "files/s")
	})
}
