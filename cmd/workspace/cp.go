package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/spf13/cobra"
)

// cpCmd is "workspace cp SRC DST" between local paths and WORKSPACE:PATH,
// files and directories (recursively), with a progress bar when stderr is
// a terminal.
func (a *app) cpCmd() *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "cp SRC DST",
		Short: "Copy files and directories between the local machine and a workspace",
		Long: `Copy a file or a directory tree between the local machine and a workspace;
one side is WORKSPACE:PATH, the other a local path ("-" is stdin or stdout
for a single file). As with cp, a destination that is an existing directory
receives the source under its own name. Both sides in the same workspace copy
on the server. A progress bar shows on stderr when it is a terminal.`,
		Example: `  workspace cp ./src ws-1a2b:src
  workspace cp ws-1a2b:out/report.pdf .
  workspace cp ws-1a2b:logs/app.log - | grep ERROR`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, dst := parseLocation(args[0]), parseLocation(args[1])
			return a.withClient(func(c *workspace.Client) error {
				cp := &copier{c: c, ctx: cmd.Context(), stderr: a.stderr}
				if !quiet {
					if _, ok := terminalFd(a.stderr); ok {
						cp.bar = newProgress(a.stderr)
					}
				}
				defer cp.finish()
				switch {
				case src.remote && dst.remote:
					if src.workspace != dst.workspace {
						return usagef("copy between two workspaces is not supported: copy through a local directory")
					}
					return cp.remoteToRemote(src, dst)
				case src.remote:
					if dst.path == "-" {
						return cp.downloadFile(src, a.stdout)
					}
					return cp.download(src, dst.path)
				case dst.remote:
					if src.path == "-" {
						return c.Workspace.Upload(cp.ctx, dst.workspace, dst.path, a.stdin, nil)
					}
					return cp.upload(src.path, dst)
				}
				return usagef("one of SRC and DST must be WORKSPACE:PATH")
			})
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	return cmd
}

// copier carries one cp command's state.
type copier struct {
	c      *workspace.Client
	ctx    context.Context
	stderr io.Writer
	bar    *progress // nil: no progress bar
}

func (cp *copier) finish() {
	if cp.bar != nil {
		cp.bar.finish()
	}
}

// transferOptions returns the options of one file's transfer of size
// bytes, reporting to the bar.
func (cp *copier) transferOptions(size int64) *workspace.TransferOptions {
	if cp.bar == nil {
		return nil
	}
	return &workspace.TransferOptions{Progress: cp.bar.file(size)}
}

// upload copies the local file or tree src to dst.
func (cp *copier) upload(src string, dst location) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	target := dst.path
	if info, err := cp.c.Workspace.GetFileInfo(cp.ctx, dst.workspace, dst.path); err == nil && info.IsDir() {
		target = path.Join(dst.path, filepath.Base(filepath.Clean(src)))
	} else if err != nil && !errors.Is(err, workspace.ErrNotFound) {
		return err
	}
	if !fi.IsDir() {
		cp.bar.addTotal(fi.Size())
		return cp.uploadFile(src, dst.workspace, target, fi.Size())
	}
	type item struct {
		local, remote string
		size          int64
		dir           bool
	}
	var items []item
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		remote := path.Join(target, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			items = append(items, item{local: p, remote: remote, dir: true})
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			items = append(items, item{local: p, remote: remote, size: info.Size()})
			cp.bar.addTotal(info.Size())
		default:
			fmt.Fprintf(cp.stderr, "workspace: cp: skipping %s: not a regular file or directory\n", p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.dir {
			err = cp.c.Workspace.Mkdir(cp.ctx, dst.workspace, it.remote)
		} else {
			err = cp.uploadFile(it.local, dst.workspace, it.remote, it.size)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (cp *copier) uploadFile(local, wsID, remote string, size int64) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := cp.c.Workspace.Upload(cp.ctx, wsID, remote, f, cp.transferOptions(size)); err != nil {
		return fmt.Errorf("cp %s: %w", local, err)
	}
	return nil
}

// download copies the remote file or tree src to the local path dst.
func (cp *copier) download(src location, dst string) error {
	info, err := cp.c.Workspace.GetFileInfo(cp.ctx, src.workspace, src.path)
	if err != nil {
		return err
	}
	target := dst
	if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
		name := path.Base(src.path)
		if src.path == "" {
			name = src.workspace
		}
		if err := safeName(name); err != nil {
			return err
		}
		target = filepath.Join(dst, name)
	}
	if !info.IsDir() {
		cp.bar.addTotal(info.Size)
		return cp.downloadTo(src, target, info.Size)
	}
	type item struct {
		remote, local string
		size          int64
	}
	var files []item
	dirs := []string{target}
	// Walk the remote tree first, so that the bar knows the total.
	var walk func(remote, local string) error
	walk = func(remote, local string) error {
		fis, err := cp.c.Workspace.ListFiles(cp.ctx, src.workspace, remote)
		if err != nil {
			return err
		}
		for _, f := range fis {
			if err := safeName(f.Name); err != nil {
				return err
			}
			r, l := path.Join(remote, f.Name), filepath.Join(local, f.Name)
			switch f.Type {
			case workspace.FileTypeDirectory:
				dirs = append(dirs, l)
				if err := walk(r, l); err != nil {
					return err
				}
			case workspace.FileTypeFile:
				files = append(files, item{remote: r, local: l, size: f.Size})
				cp.bar.addTotal(f.Size)
			default:
				fmt.Fprintf(cp.stderr, "workspace: cp: skipping %s:%s: %s\n", src.workspace, r, f.Type)
			}
		}
		return nil
	}
	if err := walk(src.path, target); err != nil {
		return err
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := cp.downloadTo(location{remote: true, workspace: src.workspace, path: f.remote}, f.local, f.size); err != nil {
			return err
		}
	}
	return nil
}

// downloadTo writes one remote file to the local path local.
func (cp *copier) downloadTo(src location, local string, size int64) error {
	f, err := os.Create(local)
	if err != nil {
		return err
	}
	if err := cp.downloadBody(src, f, size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// downloadFile writes one remote file to w (cp ... -).
func (cp *copier) downloadFile(src location, w io.Writer) error {
	return cp.downloadBody(src, w, 0)
}

func (cp *copier) downloadBody(src location, w io.Writer, size int64) error {
	body, err := cp.c.Workspace.Download(cp.ctx, src.workspace, src.path, cp.transferOptions(size))
	if err != nil {
		return err
	}
	defer body.Close()
	if _, err := io.Copy(w, body); err != nil {
		return fmt.Errorf("cp %s: %w", src, err)
	}
	return nil
}

// remoteToRemote copies inside one workspace on the server.
func (cp *copier) remoteToRemote(src, dst location) error {
	target := dst.path
	if info, err := cp.c.Workspace.GetFileInfo(cp.ctx, dst.workspace, dst.path); err == nil && info.IsDir() {
		target = path.Join(dst.path, path.Base(src.path))
	}
	return cp.c.Workspace.CopyFile(cp.ctx, src.workspace, src.path, target)
}
