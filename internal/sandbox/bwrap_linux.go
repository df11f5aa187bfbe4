//go:build linux

package sandbox

import (
	"debug/elf"
	"fmt"
	"github.com/elevo/workspace-sdk-go/internal/sandbox/agent"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// hostEtc lists the /etc entries bound (read-only, when present) into a
// host-root sandbox. Secrets (shadow, gshadow, sudoers, ssh keys, ssl
// private keys) are deliberately absent.
var hostEtc = []string{
	"passwd", "group", "hosts", "resolv.conf", "nsswitch.conf", "host.conf", "gai.conf",
	"ld.so.cache", "ld.so.conf", "ld.so.conf.d",
	"ssl/certs", "ssl/openssl.cnf", "ca-certificates", "ca-certificates.conf", "pki",
	"alternatives", "localtime", "timezone", "profile", "profile.d", "bash.bashrc",
	"inputrc", "terminfo", "protocols", "services", "os-release", "debian_version",
	"mime.types", "magic", "magic.mime",
}

// liveEtc are bound from the host at each start instead of copied: the
// files that change while the server runs, and the directories of
// hundreds of symlinks (CA certificate hashes, alternatives such as
// /usr/bin/awk) whose copy would cost every NewManager hundreds of
// symlinkat calls, against one bind mount per sandbox start.
var liveEtc = []string{"hosts", "resolv.conf", "ssl/certs", "alternatives"}

// copyEtc copies the hostEtc entries (symlinks as symlinks, directories
// recursively) that are not in liveEtc into dst, creating empty
// placeholders (files or directories, as on the host) to mount the
// liveEtc entries on.
func copyEtc(dst string) error {
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	live := map[string]bool{}
	for _, e := range liveEtc {
		live[e] = true
	}
	for _, e := range hostEtc {
		src := "/etc/" + e
		if _, err := os.Lstat(src); err != nil || live[e] {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, e)), 0o755); err != nil {
			return err
		}
		err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return nil // unreadable: leave it out
			}
			rel, _ := filepath.Rel("/etc", p)
			out := filepath.Join(dst, rel)
			switch {
			case d.Type()&os.ModeSymlink != 0:
				t, err := os.Readlink(p)
				if err != nil {
					return nil
				}
				return os.Symlink(t, out)
			case d.IsDir():
				return os.Mkdir(out, 0o755)
			case d.Type().IsRegular():
				fi, err := d.Info()
				if err != nil || fi.Mode().Perm()&0o004 == 0 {
					return nil // not world-readable: not for sandboxes
				}
				b, err := os.ReadFile(p)
				if err != nil {
					return nil
				}
				return os.WriteFile(out, b, 0o644)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, e := range liveEtc {
		fi, err := os.Stat("/etc/" + e)
		if err != nil {
			continue // absent: --ro-bind-try skips it
		}
		p := filepath.Join(dst, e)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if fi.IsDir() {
			err = os.Mkdir(p, 0o755)
		} else {
			err = os.WriteFile(p, nil, 0o644)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// hostTop lists the top-level directories of the host-root layout. Each is
// bound read-only, or recreated as a symlink when the host has a symlink
// (merged /usr).
var hostTop = []string{"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"}

// skipRootFS are the top-level entries of a Spec.RootFS that the sandbox
// provides itself.
var skipRootFS = map[string]bool{
	"proc": true, "dev": true, "tmp": true, "workspace": true, "sys": true, ".agent": true,
}

// bwrapArgs builds bwrap's options (passed through a descriptor, --args,
// so that no host path shows in any command line) and the command it
// runs. infoFD and seccompFD are the descriptor numbers bwrap inherits
// for --info-fd and --seccomp.
func (m *Manager) bwrapArgs(spec *Spec, infoFD, seccompFD int) (opts, argv []string, err error) {
	host := spec.Hostname
	if host == "" {
		host = spec.ID
	}
	if len(host) > 64 { // HOST_NAME_MAX
		host = host[:64]
	}
	a := []string{
		"--unshare-all",
		"--unshare-user", "--uid", "0", "--gid", "0",
		"--die-with-parent",
		"--new-session",
		// The agent is pid 1 of the pid namespace: nothing inside can
		// kill or stop it (see runAgent).
		"--as-pid-1",
		// No user namespaces inside (seccomp refuses them too).
		"--disable-userns",
		"--seccomp", strconv.Itoa(seccompFD),
		"--cap-drop", "ALL",
		"--clearenv",
		"--setenv", agent.Env, "1",
		// One P: the agent mostly waits; fewer threads, less memory.
		"--setenv", "GOMAXPROCS", "1",
		"--hostname", host,
		"--info-fd", strconv.Itoa(infoFD),
	}
	if m.cfg.ShareNetwork {
		a = append(a, "--share-net")
	}
	if spec.RootFS == "" {
		for _, name := range hostTop {
			p := "/" + name
			fi, err := os.Lstat(p)
			if err != nil {
				continue
			}
			switch {
			case fi.Mode()&os.ModeSymlink != 0:
				t, err := os.Readlink(p)
				if err != nil {
					return nil, nil, err
				}
				a = append(a, "--symlink", t, p)
			case fi.IsDir():
				a = append(a, "--ro-bind", p, p)
			}
		}
		// One mount for a copy of the harmless /etc entries made by
		// NewManager (each extra mount costs bwrap time), plus the
		// files that change while the server runs, bound live.
		a = append(a, "--ro-bind", m.etcDir, "/etc")
		for _, e := range liveEtc {
			p := "/etc/" + e
			a = append(a, "--ro-bind-try", p, p)
		}
	} else {
		root, err := filepath.Abs(spec.RootFS)
		if err != nil {
			return nil, nil, err
		}
		ents, err := os.ReadDir(root)
		if err != nil {
			return nil, nil, fmt.Errorf("sandbox: root filesystem: %w", err)
		}
		sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
		for _, e := range ents {
			name := e.Name()
			if skipRootFS[name] {
				continue
			}
			src := filepath.Join(root, name)
			if e.Type()&os.ModeSymlink != 0 {
				t, err := os.Readlink(src)
				if err != nil {
					return nil, nil, err
				}
				a = append(a, "--symlink", t, "/"+name)
				continue
			}
			if e.IsDir() || e.Type().IsRegular() {
				a = append(a, "--ro-bind", src, "/"+name)
			}
		}
	}
	ws, err := filepath.Abs(spec.WorkspaceDir)
	if err != nil {
		return nil, nil, err
	}
	a = append(a,
		"--proc", "/proc",
		// /dev is built, not inherited: bwrap's tmpfs with the usual
		// device nodes and a private devpts, made read-only, plus a
		// sized tmpfs at /dev/shm.
		"--dev", "/dev",
		"--perms", "1777", "--size", strconv.FormatInt(m.cfg.ShmSize, 10), "--tmpfs", "/dev/shm",
		"--remount-ro", "/dev",
		"--perms", "1777", "--size", strconv.FormatInt(m.cfg.TmpSize, 10), "--tmpfs", "/tmp",
		"--bind", ws, "/workspace",
		"--ro-bind", m.agentPath, agent.PathInSandbox,
	)
	argv = []string{agent.PathInSandbox, agent.Arg}
	if spec.RootFS != "" && m.agentLoader != "" {
		// A dynamically linked agent in a foreign root filesystem runs
		// on the host's loader and libraries, bound next to it; the
		// commands it starts use the root filesystem's own.
		a = append(a, "--ro-bind", m.agentLoader, "/.agent/ld.so")
		for _, lib := range m.agentLibs {
			a = append(a, "--ro-bind", lib.src, "/.agent/lib/"+lib.soname)
		}
		argv = []string{"/.agent/ld.so", "--library-path", "/.agent/lib", agent.PathInSandbox, agent.Arg}
	}
	a = append(a, "--remount-ro", "/", "--chdir", "/workspace")
	return a, argv, nil
}

// libBind is a host library bound at /.agent/lib/<soname>.
type libBind struct{ src, soname string }

// hostLibDirs are searched for the agent's shared libraries.
var hostLibDirs = []string{
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
	"/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib",
}

// agentDeps returns the host loader and shared libraries of a dynamically
// linked executable ("" and nil for a static one).
func agentDeps(path string) (string, []libBind, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	interp := ""
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				return "", nil, err
			}
			interp = string(b[:len(b)-1])
		}
	}
	if interp == "" {
		return "", nil, nil
	}
	interp, err = filepath.EvalSymlinks(interp)
	if err != nil {
		return "", nil, fmt.Errorf("agent loader: %w", err)
	}
	names, err := f.ImportedLibraries()
	if err != nil {
		return "", nil, err
	}
	var libs []libBind
	for _, n := range names {
		found := ""
		for _, d := range hostLibDirs {
			if p, err := filepath.EvalSymlinks(filepath.Join(d, n)); err == nil {
				found = p
				break
			}
		}
		if found == "" {
			return "", nil, fmt.Errorf("agent library %s not found", n)
		}
		libs = append(libs, libBind{src: found, soname: n})
	}
	return interp, libs, nil
}
