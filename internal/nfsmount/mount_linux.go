package nfsmount

import (
	"bytes"
	"context"
	"fmt"
	"github.com/elevo/workspace-sdk-go/internal/mountinfo"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// KernelNFS reports whether the running kernel has an NFS client: nfs is
// listed in /proc/filesystems (a loadable module not yet loaded is not
// detected; load it with `modprobe nfs`).
func KernelNFS() bool {
	f, err := os.Open("/proc/filesystems")
	if err != nil {
		return false
	}
	defer f.Close()
	return HasNFS(f)
}

// Mount runs mount(8) with args (see Args); its output is in the error.
func Mount(ctx context.Context, args []string) error {
	return run(ctx, "mount", args...)
}

// Unmount runs `umount dir`, then `umount -l dir` (lazy) if that fails.
func Unmount(ctx context.Context, dir string) error {
	err := run(ctx, "umount", dir)
	if err == nil {
		return nil
	}
	if lerr := run(ctx, "umount", "-l", dir); lerr != nil {
		return fmt.Errorf("%w (lazy: %v)", err, lerr)
	}
	return nil
}

// IsMounted reports whether dir is a mount point in /proc/self/mountinfo.
func IsMounted(dir string) (bool, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false, err
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	defer f.Close()
	entries, err := mountinfo.Parse(f)
	if err != nil {
		return false, err
	}
	_, ok := mountinfo.Find(entries, abs)
	return ok, nil
}

func run(ctx context.Context, name string, args ...string) error {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if msg != "" {
			return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
		}
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}
