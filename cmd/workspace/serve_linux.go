//go:build linux

package main

import (
	"errors"
	"flag"
	"io"

	"github.com/elevo/workspace-sdk-go/internal/servecmd"
	"github.com/spf13/cobra"
)

// newServeCmd is "workspace serve": the reference server, with exactly the
// flags of workspace-server (parsed by internal/servecmd, not cobra).
func newServeCmd(stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:                "serve [workspace-server flags]",
		Short:              "Run the reference Workspace server (the flags of workspace-server; -h lists them)",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			err := servecmd.Run(cmd.Context(), "workspace serve", args, stderr, nil)
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		},
	}
}
