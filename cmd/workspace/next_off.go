//go:build !workspace_next

package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"
)

// nextBuild reports whether this build has the workspace_next commands.
const nextBuild = false

// addNextCommands adds nothing: ps, logs, port-forward and watch need the
// SDK's process.detach, ports and files.watch calls, built with the
// workspace_next tag.
func (a *app) addNextCommands(*cobra.Command) {}

// addDetachFlag adds nothing: exec -d needs the workspace_next build.
func (a *app) addDetachFlag(*cobra.Command, *execOptions) {}

func (a *app) execDetached(context.Context, *execOptions) error {
	return errors.New("exec -d is not available in this build")
}
