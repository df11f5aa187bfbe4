//go:build linux

package agent

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// envLookup returns the value of key in a KEY=VALUE list.
func envLookup(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// resolve finds the executable for name like a shell does and returns the
// exit code and reason when it cannot be run.
func resolve(name, cwd string, env []string) (string, int, string) {
	if name == "" {
		return "", 127, ": command not found"
	}
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(cwd, p)
		}
		if code, why := checkExec(p); code != 0 {
			return "", code, name + ": " + why
		}
		return name, 0, ""
	}
	denied := ""
	for _, dir := range filepath.SplitList(envLookup(env, "PATH")) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if !filepath.IsAbs(p) {
			p = filepath.Join(cwd, p)
		}
		code, _ := checkExec(p)
		if code == 0 {
			return filepath.Join(dir, name), 0, ""
		}
		if code == 126 && denied == "" {
			denied = p
		}
	}
	if denied != "" {
		return "", 126, name + ": Permission denied"
	}
	return "", 127, name + ": command not found"
}

func checkExec(p string) (int, string) {
	st, err := os.Stat(p)
	if err != nil {
		if os.IsNotExist(err) || errorsIsErrno(err, unix.ENOTDIR) {
			return 127, "No such file or directory"
		}
		return 126, errText(err)
	}
	if st.IsDir() {
		return 126, "Is a directory"
	}
	if err := unix.Access(p, unix.X_OK); err != nil || st.Mode()&0o111 == 0 {
		return 126, "Permission denied"
	}
	return 0, ""
}

func errorsIsErrno(err error, e unix.Errno) bool {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err == e
	}
	return false
}

func errText(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		err = pe.Err
	}
	s := err.Error()
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

func (a *agent) exec(r *Request, fds []int) {
	defer CloseFDs(fds)
	want := 2
	if r.Stdin {
		want = 3
	}
	if len(fds) != want {
		a.send(&Message{ID: r.ID, Ev: EvError, Msg: "bad descriptors"}, nil)
		return
	}
	stdin := int(a.devNull.Fd())
	if r.Stdin {
		stdin = fds[0]
	}
	stdout, stderr := fds[len(fds)-2], fds[len(fds)-1]
	fail := func(code int, why string) {
		_, _ = unix.Write(stderr, []byte(why+"\n"))
		a.send(&Message{ID: r.ID, Ev: EvExit, Code: code}, nil)
	}
	if st, err := os.Stat(r.Cwd); err != nil || !st.IsDir() {
		why := "Not a directory"
		if err != nil {
			why = errText(err)
		}
		fail(126, "cwd "+r.Cwd+": "+why)
		return
	}
	path, code, why := resolve(r.Path, r.Cwd, r.Env)
	if code != 0 {
		fail(code, why)
		return
	}
	attr := &syscall.ProcAttr{
		Dir:   r.Cwd,
		Env:   r.Env,
		Files: []uintptr{uintptr(stdin), uintptr(stdout), uintptr(stderr)},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	}
	a.start(r.ID, path, r.Args, attr, nil, func(err error) {
		c := 126
		if err == unix.ENOENT || err == unix.ENOTDIR {
			c = 127
		}
		fail(c, r.Path+": "+errText(err))
	})
}

// start forks and registers the process so that its exit is reported.
func (a *agent) start(id uint64, path string, argv []string, attr *syscall.ProcAttr, fds []int, onErr func(error)) {
	a.mu.Lock()
	pid, err := syscall.ForkExec(path, argv, attr)
	if err != nil {
		a.mu.Unlock()
		onErr(err)
		return
	}
	a.procs[pid] = id
	a.send(&Message{ID: id, Ev: EvStarted, PID: pid}, fds)
	a.mu.Unlock()
}
