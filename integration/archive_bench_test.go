package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	workspace "github.com/elevo/workspace-sdk-go"
)

// benchTreeFiles and benchFileSize shape the tree of the directory
// benchmarks: 10,000 files of 1 KiB in 100 directories.
const (
	benchTreeFiles = 10000
	benchFileSize  = 1 << 10
)

func makeBenchTree(b *testing.B) string {
	dir := b.TempDir()
	body := bytes.Repeat([]byte("x"), benchFileSize)
	for i := range benchTreeFiles {
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i%100), fmt.Sprintf("f%05d.txt", i))
		if i < 100 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

func reportTree(b *testing.B) {
	b.ReportMetric(float64(benchTreeFiles*b.N)/b.Elapsed().Seconds(), "files/s")
	b.SetBytes(benchTreeFiles * benchFileSize)
}

// BenchmarkDirUpload: 10,000 small files into a workspace, as one tar
// stream (UploadDir over files.archive) and file by file (Upload over
// files.raw, one request each).
func BenchmarkDirUpload(b *testing.B) {
	c, ws, _ := benchRealSandbox(b)
	ctx := context.Background()
	src := makeBenchTree(b)
	b.Run("archive", func(b *testing.B) {
		for i := range b.N {
			if err := c.Workspace.UploadDir(ctx, ws.ID, src, fmt.Sprintf("up-a%d", i), nil); err != nil {
				b.Fatal(err)
			}
		}
		reportTree(b)
	})
	b.Run("file-by-file", func(b *testing.B) {
		for i := range b.N {
			if err := uploadEach(ctx, c, ws.ID, src, fmt.Sprintf("up-f%d", i)); err != nil {
				b.Fatal(err)
			}
		}
		reportTree(b)
	})
}

// uploadEach uploads every file of src with its own request.
func uploadEach(ctx context.Context, c *workspace.Client, wsID, src, remote string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return c.Workspace.Upload(ctx, wsID, remote+"/"+filepath.ToSlash(rel), f, nil)
	})
}

// BenchmarkDirDownload: the same tree out of a workspace, as one tar
// stream (DownloadDir) and file by file (Download of each listed file).
func BenchmarkDirDownload(b *testing.B) {
	c, ws, _ := benchRealSandbox(b)
	ctx := context.Background()
	src := makeBenchTree(b)
	if err := c.Workspace.UploadDir(ctx, ws.ID, src, "tree", nil); err != nil {
		b.Fatal(err)
	}
	b.Run("archive", func(b *testing.B) {
		for range b.N {
			if err := c.Workspace.DownloadDir(ctx, ws.ID, "tree", b.TempDir(), nil); err != nil {
				b.Fatal(err)
			}
		}
		reportTree(b)
	})
	b.Run("file-by-file", func(b *testing.B) {
		for range b.N {
			dst := b.TempDir()
			dirs, err := c.Workspace.ListFiles(ctx, ws.ID, "tree")
			if err != nil {
				b.Fatal(err)
			}
			for _, d := range dirs {
				files, err := c.Workspace.ListFiles(ctx, ws.ID, d.Path)
				if err != nil {
					b.Fatal(err)
				}
				if err := os.Mkdir(filepath.Join(dst, d.Name), 0o755); err != nil {
					b.Fatal(err)
				}
				for _, f := range files {
					data, err := c.Workspace.ReadFile(ctx, ws.ID, f.Path)
					if err != nil {
						b.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(dst, d.Name, f.Name), data, 0o644); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
		reportTree(b)
	})
}
