package main

import (
	"context"
	"fmt"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/spf13/cobra"
)

// addDetachFlag adds exec's -d.
func (a *app) addDetachFlag(cmd *cobra.Command, o *execOptions) {
	cmd.Flags().BoolVarP(&o.detach, "detach", "d", false, "start the command in the background and print its PID (see ps and logs)")
}

// execDetached starts the command with Process.Start and prints its PID.
func (a *app) execDetached(ctx context.Context, o *execOptions) error {
	env, stdin, err := a.execInput(ctx, o)
	if err != nil {
		return err
	}
	return a.withClient(func(c *workspace.Client) error {
		p, err := c.Process.Start(ctx, o.sandbox, o.command, &workspace.StartOptions{
			Args: o.commArgs, Env: env, Cwd: o.cwd, Timeout: o.timeout, Stdin: stdin,
		})
		if err != nil {
			return err
		}
		if a.output == "json" {
			return printJSON(a.stdout, map[string]any{"sandbox_id": o.sandbox, "pid": p.PID})
		}
		_, err = fmt.Fprintln(a.stdout, p.PID)
		return err
	})
}
