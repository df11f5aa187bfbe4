// Package nfsmount builds and runs kernel NFSv3 mounts of workspace exports
// and checks the mount table (package mountinfo parses it). The pure
// helpers (Args, HasNFS) build everywhere; Mount, Unmount and IsMounted work on Linux and
// return ErrUnsupported elsewhere.
package nfsmount

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
)

// ErrUnsupported is returned where kernel mounts are not available.
var ErrUnsupported = errors.New("kernel NFS mounts are not supported on this platform")

// Args returns the arguments of mount(8) for an NFSv3 mount of export on
// host:port at dir: -t nfs -o nfsvers=3,tcp,nolock,port=P,mountport=P
// host:/export dir. There is no portmapper upstream, so both ports are
// given; nolock because there is no lock manager. An IPv6 host is
// bracketed.
func Args(host string, port int, export, dir string) []string {
	if !strings.HasPrefix(export, "/") {
		export = "/" + export
	}
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	opts := fmt.Sprintf("nfsvers=3,tcp,nolock,port=%d,mountport=%d", port, port)
	return []string{"-t", "nfs", "-o", opts, host + ":" + export, dir}
}

// HasNFS reports whether a /proc/filesystems listing names nfs.
func HasNFS(r io.Reader) bool {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && f[len(f)-1] == "nfs" {
			return true
		}
	}
	return false
}

// SplitHostPort is net.SplitHostPort with a default port when none is given.
func SplitHostPort(hostport string, def int) (string, int, error) {
	if hostport == "" {
		return "", 0, errors.New("nfsmount: empty host")
	}
	h, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return strings.Trim(hostport, "[]"), def, nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n <= 0 || n > 65535 {
		return "", 0, fmt.Errorf("nfsmount: bad port %q", p)
	}
	return h, n, nil
}
