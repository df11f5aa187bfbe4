package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/spf13/cobra"
)

// logsCmd is "workspace logs SANDBOX PID [-f]": a background process's
// output, from the oldest the server kept.
func (a *app) logsCmd() *cobra.Command {
	var follow bool
	var idle time.Duration
	cmd := &cobra.Command{
		Use:   "logs SANDBOX PID [-f]",
		Short: "Print a background process's output (-f: follow it until it exits)",
		Long: `Print the output of a process started with "exec -d", from the oldest output
the server kept (a notice on stderr marks output it dropped).

With -f, follow the output live until the process exits, and exit with its
status. Without -f, stop when the process has exited or no output came for
--idle (the server's stream has no "caught up" mark).`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			pid, err := strconv.Atoi(args[1])
			if err != nil || pid <= 0 {
				return usagef("bad PID %q", args[1])
			}
			return a.logs(cmd.Context(), args[0], pid, follow, idle)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the output until the process exits; exit with its status")
	cmd.Flags().DurationVar(&idle, "idle", 500*time.Millisecond, "without -f: stop after this long without output")
	return cmd
}

func (a *app) logs(ctx context.Context, sandboxID string, pid int, follow bool, idle time.Duration) error {
	return a.withClient(func(c *workspace.Client) error {
		p, err := c.Process.Attach(ctx, sandboxID, pid)
		if err != nil {
			return err
		}
		ectx, cancel := context.WithCancel(ctx)
		defer cancel()
		var quiet *time.Timer
		if !follow {
			quiet = time.AfterFunc(idle, cancel)
			defer quiet.Stop()
		}
		for ev, err := range p.Events(ectx) {
			if err != nil {
				if !follow && ectx.Err() != nil && ctx.Err() == nil {
					return nil // quiet for idle: done
				}
				return err
			}
			if quiet != nil {
				quiet.Reset(idle)
			}
			switch ev.Type {
			case workspace.EventStdout:
				if _, err := a.stdout.Write(ev.Data); err != nil {
					return err
				}
			case workspace.EventStderr:
				if _, err := a.stderr.Write(ev.Data); err != nil {
					return err
				}
			case workspace.EventGap:
				fmt.Fprintln(a.stderr, "workspace: logs: some output was dropped by the server")
			case workspace.EventExit:
				if follow && ev.Code != 0 {
					return &exitCodeError{code: ev.Code}
				}
				return nil
			}
		}
		return nil
	})
}
