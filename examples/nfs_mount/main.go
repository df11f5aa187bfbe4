// Command nfs_mount reaches a workspace over NFS: it writes files into the
// workspace, lists them, and reads one back through the workspace file API
// and through `cat` in a sandbox bound to the workspace.
//
// By default it uses the SDK's userspace NFSv3 session (NFS.Open), which
// needs neither root nor an NFS client in the kernel. With -kernel DIR it
// mounts the workspace at DIR with the kernel NFS client instead (root and
// a kernel with NFS support needed) and works through plain files; when
// that is impossible here it says why and uses the userspace session.
//
// It talks to the server at WORKSPACE_API_URL (with WORKSPACE_API_KEY) when
// that is set, and otherwise starts the embedded reference server:
//
//	go run ./examples/nfs_mount
//	sudo go run ./examples/nfs_mount -kernel /mnt/ws
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/examples/internal/exampleenv"
)

func main() {
	kernel := flag.String("kernel", "", "mount the workspace at `DIR` with the kernel NFS client (needs root and kernel NFS support)")
	flag.Parse()
	exampleenv.Main(func(ctx context.Context, c *workspace.Client) error {
		return run(ctx, c, os.Stdout, *kernel)
	})
}

// files are what the example writes over NFS.
var files = map[string]string{
	"notes/hello.txt": "Hello over NFS!\n",
	"notes/todo.txt":  "1. mount\n2. write\n3. read back\n",
	"data.csv":        "id,name\n1,ada\n2,linus\n",
}

// fileOrder is the order in which files are written.
var fileOrder = []string{"notes/hello.txt", "notes/todo.txt", "data.csv"}

// session is what the example needs from an NFS view of the workspace: the
// userspace session or the directory of a kernel mount.
type session interface {
	fs.ReadDirFS
	MkdirAll(name string, perm fs.FileMode) error
	WriteFile(name string, data []byte, perm fs.FileMode) error
}

// dirSession is a kernel mount seen through the os package.
type dirSession struct {
	fs.FS
	dir string
}

func (d dirSession) ReadDir(name string) ([]fs.DirEntry, error) {
	return os.ReadDir(filepath.Join(d.dir, filepath.FromSlash(name)))
}

func (d dirSession) MkdirAll(name string, perm fs.FileMode) error {
	return os.MkdirAll(filepath.Join(d.dir, filepath.FromSlash(name)), perm)
}

func (d dirSession) WriteFile(name string, data []byte, perm fs.FileMode) error {
	return os.WriteFile(filepath.Join(d.dir, filepath.FromSlash(name)), data, perm)
}

func run(ctx context.Context, c *workspace.Client, out io.Writer, kernelDir string) (err error) {
	ws, err := c.Workspace.Create(ctx, &workspace.CreateWorkspaceParams{Name: "nfs-example"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Created workspace: %s (%s)\n", ws.ID, ws.NFSURL)
	defer func() {
		err = errors.Join(err, c.Workspace.Delete(context.WithoutCancel(ctx), ws.ID))
	}()

	var s session
	if kernelDir != "" {
		mnt, merr := c.NFS.Mount(ctx, ws.ID, kernelDir)
		switch {
		case errors.Is(merr, workspace.ErrUnsupported):
			fmt.Fprintf(out, "Kernel mount not possible here: %v\nUsing the userspace NFS session instead.\n", merr)
		case merr != nil:
			return merr
		default:
			fmt.Fprintf(out, "Mounted at %s (kernel NFS client)\n", mnt)
			defer func() {
				err = errors.Join(err, c.NFS.Unmount(context.WithoutCancel(ctx), mnt))
				if err == nil {
					fmt.Fprintf(out, "Unmounted %s\n", mnt)
				}
			}()
			s = dirSession{FS: os.DirFS(mnt), dir: mnt}
		}
	}
	if s == nil {
		fsys, oerr := c.NFS.Open(ctx, ws.ID)
		if oerr != nil {
			return oerr
		}
		defer func() { err = errors.Join(err, fsys.Close()) }()
		fmt.Fprintln(out, "Opened a userspace NFS session (no mount, no root needed)")
		s = fsys
	}

	// Write files over NFS.
	if err := s.MkdirAll("notes", 0o755); err != nil {
		return err
	}
	for _, name := range fileOrder {
		if err := s.WriteFile(name, []byte(files[name]), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "Wrote %s (%d bytes)\n", name, len(files[name]))
	}

	// List them over NFS.
	fmt.Fprintln(out, "Files in the workspace:")
	err = fs.WalkDir(s, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %-16s %s %d bytes\n", p, info.Mode(), info.Size())
		return nil
	})
	if err != nil {
		return err
	}

	// Read one back through the workspace file API...
	data, err := c.Workspace.ReadFile(ctx, ws.ID, "notes/hello.txt")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "File API reads notes/hello.txt: %q\n", data)

	// ...and from a sandbox bound to the workspace.
	sb, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
	if err != nil {
		return err
	}
	defer func() {
		err = errors.Join(err, c.Sandbox.Delete(context.WithoutCancel(ctx), sb.ID, &workspace.DeleteSandboxOptions{Force: true}))
	}()
	res, err := c.Process.Run(ctx, sb.ID, "cat", &workspace.RunCommandOptions{Args: []string{"notes/hello.txt"}})
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("cat exited with %d: %s", res.ExitCode, res.Stderr)
	}
	fmt.Fprintf(out, "Sandbox `cat notes/hello.txt`: %q\n", res.Stdout)
	return nil
}
