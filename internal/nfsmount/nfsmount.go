// Package nfsmount builds and runs kernel NFSv3 mounts of workspace exports
// and reads the mount table. The pure helpers (Args, ParseMountInfo,
// HasNFS) build everywhere; Mount, Unmount and IsMounted work on Linux and
// return ErrUnsupported elsewhere.
package nfsmount

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
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

// Entry is one line of /proc/self/mountinfo.
type Entry struct {
	ID, ParentID int
	Root         string // root of the mount within its filesystem
	MountPoint   string // unescaped
	FSType       string
	Source       string // unescaped
	Options      string
}

// ParseMountInfo parses the mountinfo format (proc(5)); octal escapes
// such as \040 (space) are decoded.
func ParseMountInfo(r io.Reader) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		left, right, ok := strings.Cut(line, " - ")
		if !ok {
			return nil, fmt.Errorf("nfsmount: bad mountinfo line %q", line)
		}
		f := strings.Fields(left)
		g := strings.Fields(right)
		if len(f) < 6 || len(g) < 2 {
			return nil, fmt.Errorf("nfsmount: bad mountinfo line %q", line)
		}
		id, err1 := strconv.Atoi(f[0])
		pid, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("nfsmount: bad mountinfo line %q", line)
		}
		e := Entry{ID: id, ParentID: pid, Root: unescape(f[3]), MountPoint: unescape(f[4]), FSType: g[0], Source: unescape(g[1])}
		if len(g) > 2 {
			e.Options = g[2]
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// unescape decodes the \ooo octal escapes the kernel uses for space, tab,
// newline and backslash.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) && isOctal(s[i+1:i+4]) {
			v, _ := strconv.ParseUint(s[i+1:i+4], 8, 8)
			b.WriteByte(byte(v))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range 3 {
		if s[i] < '0' || s[i] > '7' {
			return false
		}
	}
	return s[0] <= '3'
}

// Find returns the last (topmost) entry mounted at dir, compared as
// cleaned absolute paths.
func Find(entries []Entry, dir string) (Entry, bool) {
	want := filepath.Clean(dir)
	for i := len(entries) - 1; i >= 0; i-- {
		if filepath.Clean(entries[i].MountPoint) == want {
			return entries[i], true
		}
	}
	return Entry{}, false
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
