// Package mountinfo reads the kernel's mount table, /proc/self/mountinfo
// (proc(5)). It builds everywhere; only Linux has the file.
package mountinfo

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
)

// Entry is one line of /proc/self/mountinfo.
type Entry struct {
	ID, ParentID int
	Root         string // root of the mount within its filesystem
	MountPoint   string // unescaped
	FSType       string
	Source       string // unescaped
	Options      string // the filesystem's own (super) options
}

// Parse parses the mountinfo format (proc(5)); octal escapes
// such as \040 (space) are decoded.
func Parse(r io.Reader) ([]Entry, error) {
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
			return nil, fmt.Errorf("mountinfo: bad line %q", line)
		}
		f := strings.Fields(left)
		g := strings.Fields(right)
		if len(f) < 6 || len(g) < 2 {
			return nil, fmt.Errorf("mountinfo: bad line %q", line)
		}
		id, err1 := strconv.Atoi(f[0])
		pid, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("mountinfo: bad line %q", line)
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
