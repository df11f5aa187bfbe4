package main

import "github.com/spf13/cobra"

// addNextCommands adds the commands built on the SDK's second-round calls
// (process.detach, ports, files.watch): ps, logs, port-forward, watch.
func (a *app) addNextCommands(root *cobra.Command) {
	root.AddCommand(a.psCmd(), a.logsCmd(), a.portForwardCmd(), a.watchCmd())
}
