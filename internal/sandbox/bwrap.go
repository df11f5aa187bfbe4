package sandbox

import (
	"fmt"
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

// hostTop lists the top-level directories of the host-root layout. Each is
// bound read-only, or recreated as a symlink when the host has a symlink
// (merged /usr).
var hostTop = []string{"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"}

// skipRootFS are the top-level entries of a Spec.RootFS that the sandbox
// provides itself.
var skipRootFS = map[string]bool{
	"proc": true, "dev": true, "tmp": true, "workspace": true, "sys": true, ".agent": true,
}

// bwrapArgs builds the bwrap command line. ctlFD and infoFD are the
// descriptor numbers bwrap inherits.
func (m *Manager) bwrapArgs(spec *Spec, infoFD int) ([]string, error) {
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
		"--cap-drop", "ALL",
		"--clearenv",
		"--setenv", AgentEnv, "1",
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
					return nil, err
				}
				a = append(a, "--symlink", t, p)
			case fi.IsDir():
				a = append(a, "--ro-bind", p, p)
			}
		}
		for _, e := range hostEtc {
			p := "/etc/" + e
			a = append(a, "--ro-bind-try", p, p)
		}
	} else {
		root, err := filepath.Abs(spec.RootFS)
		if err != nil {
			return nil, err
		}
		ents, err := os.ReadDir(root)
		if err != nil {
			return nil, fmt.Errorf("sandbox: root filesystem: %w", err)
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
					return nil, err
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
		return nil, err
	}
	a = append(a,
		"--proc", "/proc",
		"--dev", "/dev",
		"--perms", "1777", "--size", strconv.FormatInt(m.cfg.TmpSize, 10), "--tmpfs", "/tmp",
		"--bind", ws, "/workspace",
		"--ro-bind", m.agentPath, agentInSandbox,
		"--remount-ro", "/",
		"--chdir", "/workspace",
		agentInSandbox, AgentArg,
	)
	return a, nil
}
