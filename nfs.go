package workspace

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/elevo/workspace-sdk-go/internal/nfsmount"
)

// defaultNFSPort is the NFS port used when a workspace's nfs_url has none.
const defaultNFSPort = 2049

// NFSService mounts workspaces over NFS (kernel mount) and opens userspace
// NFSv3 sessions (Open). The export of a workspace is the path of its
// nfs_url; WithNFS overrides the host and port. It is safe for concurrent
// use.
type NFSService struct{ c *Client }

// nfsUnsupportedError explains why a kernel mount is impossible; it
// matches ErrUnsupported (and errors.ErrUnsupported).
type nfsUnsupportedError struct{ reason string }

func (e *nfsUnsupportedError) Error() string {
	return "workspace: nfs mount: " + e.reason + " (NFS.Open gives a userspace session without a kernel mount)"
}

func (e *nfsUnsupportedError) Unwrap() error { return ErrUnsupported }

// nfsEndpoint is where a workspace is exported.
type nfsEndpoint struct {
	host   string
	port   int
	export string // "/<workspace id>"
}

func (e nfsEndpoint) addr() string {
	if strings.Contains(e.host, ":") {
		return fmt.Sprintf("[%s]:%d", e.host, e.port)
	}
	return fmt.Sprintf("%s:%d", e.host, e.port)
}

// parseNFSURL reads nfs://host[:port]/<export path> and applies the
// WithNFS overrides (empty host or port <= 0 keep the URL's).
func parseNFSURL(raw, host string, port int) (nfsEndpoint, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "nfs" || u.Host == "" {
		return nfsEndpoint{}, fmt.Errorf("workspace: bad nfs_url %q", raw)
	}
	h, p, err := nfsmount.SplitHostPort(u.Host, defaultNFSPort)
	if err != nil {
		return nfsEndpoint{}, fmt.Errorf("workspace: bad nfs_url %q: %w", raw, err)
	}
	if host != "" {
		h = host
	}
	if port > 0 {
		p = port
	}
	export := u.Path
	if export == "" || export == "/" {
		return nfsEndpoint{}, fmt.Errorf("workspace: nfs_url %q has no export path", raw)
	}
	return nfsEndpoint{host: h, port: p, export: export}, nil
}

// endpoint fetches the workspace and returns its export.
func (s *NFSService) endpoint(ctx context.Context, workspaceID string) (nfsEndpoint, error) {
	w, err := s.c.Workspace.Get(ctx, workspaceID)
	if err != nil {
		return nfsEndpoint{}, err
	}
	if w.NFSURL == "" {
		return nfsEndpoint{}, fmt.Errorf("workspace: workspace %s has no nfs_url: %w", workspaceID, ErrUnsupported)
	}
	return parseNFSURL(w.NFSURL, s.c.nfsHost, s.c.nfsPort)
}

// kernelMountSupported explains why this process cannot kernel-mount.
func kernelMountSupported() error {
	switch {
	case runtime.GOOS != "linux":
		return &nfsUnsupportedError{"kernel mounts are only supported on Linux, not " + runtime.GOOS}
	case os.Geteuid() != 0:
		return &nfsUnsupportedError{"mounting needs root (euid 0)"}
	case !nfsmount.KernelNFS():
		return &nfsUnsupportedError{"the kernel has no NFS client (nfs is not in /proc/filesystems; try `modprobe nfs`)"}
	}
	return nil
}

// Mount mounts the workspace's export at mountPoint (created if missing)
// with the kernel NFS client: mount -t nfs -o
// nfsvers=3,tcp,nolock,port=P,mountport=P host:/<export> mountPoint. It
// returns the absolute mount point. It needs Linux, root and an NFS client
// in the kernel; otherwise the error matches ErrUnsupported (use Open for
// a userspace session). A failing mount(8) is returned with its output.
func (s *NFSService) Mount(ctx context.Context, workspaceID, mountPoint string) (string, error) {
	if err := kernelMountSupported(); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(mountPoint)
	if err != nil {
		return "", fmt.Errorf("workspace: nfs mount: %w", err)
	}
	ep, err := s.endpoint(ctx, workspaceID)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("workspace: nfs mount: %w", err)
	}
	if err := nfsmount.Mount(ctx, nfsmount.Args(ep.host, ep.port, ep.export, abs)); err != nil {
		return "", fmt.Errorf("workspace: nfs mount %s: %w", abs, err)
	}
	return abs, nil
}

// IsMounted reports whether mountPoint is a mount point, from
// /proc/self/mountinfo (Linux; elsewhere the error matches ErrUnsupported).
func (s *NFSService) IsMounted(mountPoint string) (bool, error) {
	if runtime.GOOS != "linux" {
		return false, &nfsUnsupportedError{"mount tables are only read on Linux"}
	}
	ok, err := nfsmount.IsMounted(mountPoint)
	if err != nil {
		return false, fmt.Errorf("workspace: nfs is mounted: %w", err)
	}
	return ok, nil
}

// Unmount unmounts mountPoint with umount(8), falling back to a lazy
// `umount -l` when the mount is busy. It needs Linux and root (the error
// matches ErrUnsupported otherwise).
func (s *NFSService) Unmount(ctx context.Context, mountPoint string) error {
	if runtime.GOOS != "linux" {
		return &nfsUnsupportedError{"kernel mounts are only supported on Linux, not " + runtime.GOOS}
	}
	if os.Geteuid() != 0 {
		return &nfsUnsupportedError{"unmounting needs root (euid 0)"}
	}
	if err := nfsmount.Unmount(ctx, mountPoint); err != nil {
		return fmt.Errorf("workspace: nfs unmount %s: %w", mountPoint, err)
	}
	return nil
}
