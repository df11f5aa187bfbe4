//go:build !linux

package main

import (
	"errors"
	"io"

	"github.com/spf13/cobra"
)

// newServeCmd is "workspace serve", which needs Linux: the reference
// server runs sandboxes with bubblewrap.
func newServeCmd(io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:                "serve [workspace-server flags]",
		Short:              "Run the reference Workspace server (Linux only)",
		DisableFlagParsing: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("serve: the reference server runs on Linux only (it needs bubblewrap)")
		},
	}
}
