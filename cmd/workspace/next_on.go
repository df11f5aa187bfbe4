//go:build workspace_next

package main

import "github.com/spf13/cobra"

// nextBuild reports whether this build has the workspace_next commands.
const nextBuild = true

// addNextCommands adds the commands built on the SDK's second-round calls
// (process.detach, ports, files.watch).
func (a *app) addNextCommands(root *cobra.Command) {
	root.AddCommand(a.psCmd(), a.logsCmd(), a.portForwardCmd(), a.watchCmd())
}
