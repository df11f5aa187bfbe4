#!/usr/bin/env bash
# setup.sh makes a Linux machine ready to run the examples and the tests:
# it checks for Go and installs bubblewrap (bwrap), which the reference
# server's sandboxes need, when it is missing and this user may install it
# (root with apt-get, or passwordless sudo), and python3 in /usr/bin (as
# root), which the port tests run inside sandboxes. It changes nothing else and is
# safe to run again.
#
#   ./scripts/setup.sh && go run ./examples/basic
#   ./scripts/setup.sh && go test -race ./...
set -euo pipefail

say() { echo "setup: $*" >&2; }

if ! command -v go >/dev/null 2>&1; then
	if [ -x /usr/local/go/bin/go ]; then
		say "go is not on PATH; add it with: export PATH=\$PATH:/usr/local/go/bin"
	else
		say "Go 1.25 or newer is needed: https://go.dev/dl/"
	fi
	exit 1
fi

if [ "$(uname -s)" != Linux ]; then
	say "the reference server's sandboxes need Linux and bubblewrap; the SDK itself builds anywhere"
	exit 1
fi

if ! bwrap --version >/dev/null 2>&1; then
	if [ "$(id -u)" -eq 0 ]; then
		sudo=()
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo=(sudo -n)
	else
		say "bubblewrap (bwrap) is missing and this user cannot install it: ask an administrator for the 'bubblewrap' package"
		exit 1
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		say "bubblewrap (bwrap) is missing: install the 'bubblewrap' package with your package manager"
		exit 1
	fi
	say "installing bubblewrap"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -qq </dev/null
	"${sudo[@]}" apt-get install -y -qq --no-install-recommends bubblewrap </dev/null >/dev/null
	if ! bwrap --version >/dev/null 2>&1; then
		say "bubblewrap was installed but 'bwrap --version' still fails"
		exit 1
	fi
fi

# Some tests and examples run `python3 -m http.server` inside a sandbox,
# whose /usr is the host's: python3 must be in /usr/bin, not only in a
# user's PATH (pyenv and the like are not visible inside).
if [ ! -x /usr/bin/python3 ]; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		say "installing python3 (for the port-forwarding tests)"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq </dev/null
		apt-get install -y -qq --no-install-recommends python3 </dev/null >/dev/null
	else
		say "warning: /usr/bin/python3 is missing: the port tests and examples/dev_server need it"
	fi
fi

# bwrap must be able to create the namespaces the sandboxes use. As root it
# always can; other users need unprivileged user namespaces.
if ! bwrap --ro-bind / / --unshare-all --die-with-parent true </dev/null 2>/dev/null; then
	say "warning: 'bwrap --unshare-all' fails for this user (are unprivileged user namespaces disabled? see kernel.unprivileged_userns_clone and kernel.apparmor_restrict_unprivileged_userns)"
fi
