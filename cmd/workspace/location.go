package main

import (
	"fmt"
	"path"
	"runtime"
	"strings"
)

// location is one side of a copy: a local path, or a path in a workspace
// written WORKSPACE:PATH.
type location struct {
	remote    bool
	workspace string // remote only
	path      string // local path, or workspace path ("" is the root)
}

func (l location) String() string {
	if l.remote {
		return l.workspace + ":" + l.path
	}
	return l.path
}

// parseLocation reads WORKSPACE:PATH as a remote location and anything
// else as a local path. A colon after a slash (./a:b) or a Windows drive
// letter (C:\x) does not make a path remote.
func parseLocation(s string) location {
	i := strings.IndexByte(s, ':')
	if i <= 0 || strings.ContainsAny(s[:i], `/\`) || (runtime.GOOS == "windows" && i == 1) {
		return location{path: s}
	}
	return location{remote: true, workspace: s[:i], path: cleanRemote(s[i+1:])}
}

// cleanRemote makes a workspace path relative and clean: "/a/./b/" and
// "a/b" are "a/b"; "", "/" and "." are the root "".
func cleanRemote(p string) string {
	p = strings.TrimLeft(path.Clean("/"+p), "/")
	return p
}

// remoteArg parses an argument that must name a workspace path. With
// allowBare, a bare WORKSPACE means its root.
func remoteArg(s string, allowBare bool) (location, error) {
	l := parseLocation(s)
	if l.remote {
		return l, nil
	}
	if allowBare && s != "" && !strings.ContainsAny(s, `/\`) {
		return location{remote: true, workspace: s}, nil
	}
	return location{}, usagef("%q is not a workspace path: write WORKSPACE:PATH", s)
}

// safeName reports whether a file name listed by the server can be joined
// to a local directory without escaping it.
func safeName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || strings.ContainsRune(name, 0) {
		return fmt.Errorf("refusing unsafe file name %q from the server", name)
	}
	if runtime.GOOS == "windows" && strings.ContainsRune(name, ':') {
		return fmt.Errorf("refusing file name %q: not a valid Windows name", name)
	}
	return nil
}
