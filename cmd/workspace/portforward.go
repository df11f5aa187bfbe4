package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/spf13/cobra"
)

// portForwardCmd is "workspace port-forward SANDBOX [LOCAL:]REMOTE":
// connections to the local port reach the port inside the sandbox, until
// Ctrl-C.
func (a *app) portForwardCmd() *cobra.Command {
	var address string
	cmd := &cobra.Command{
		Use:   "port-forward SANDBOX [LOCAL:]REMOTE",
		Short: "Forward a local port to a port inside a sandbox until Ctrl-C",
		Long: `Listen on a local port and carry each connection to a port inside the
sandbox, until Ctrl-C. LOCAL 0 (or no LOCAL) picks a free port; the line
"Forwarding from ADDRESS -> REMOTE" on stdout says which.`,
		Example: `  workspace port-forward sb-1a2b 8080:8000
  workspace port-forward sb-1a2b 3000 --address 0.0.0.0`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			local, remote, err := parsePortPair(args[1])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			return a.withClient(func(c *workspace.Client) error {
				pf, err := c.Sandbox.ForwardPort(ctx, args[0], remote, net.JoinHostPort(address, strconv.Itoa(local)))
				if err != nil {
					return err
				}
				defer pf.Close()
				if a.output == "json" {
					err = printJSON(a.stdout, map[string]any{"local_address": pf.Addr().String(), "remote_port": remote})
				} else {
					_, err = fmt.Fprintf(a.stdout, "Forwarding from %s -> %d\n", pf.Addr(), remote)
				}
				if err != nil {
					return err
				}
				<-ctx.Done()
				return pf.Close()
			})
		},
	}
	cmd.Flags().StringVar(&address, "address", "127.0.0.1", "local address to listen on")
	return cmd
}

// parsePortPair reads "LOCAL:REMOTE" or "REMOTE" (LOCAL 0: any free port).
func parsePortPair(s string) (local, remote int, err error) {
	l, r, found := strings.Cut(s, ":")
	if !found {
		l, r = "0", s
	}
	local, lerr := strconv.Atoi(l)
	remote, rerr := strconv.Atoi(r)
	if lerr != nil || rerr != nil || local < 0 || local > 65535 || remote < 1 || remote > 65535 {
		return 0, 0, usagef("bad port pair %q: want [LOCAL:]REMOTE, e.g. 8080:8000", s)
	}
	return local, remote, nil
}
