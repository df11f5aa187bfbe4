package main

import (
	"context"
	"time"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/spf13/cobra"
)

// sandboxCmd is "workspace sandbox": ls, create, rm and wait.
func (a *app) sandboxCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "sandbox",
		Aliases: []string{"sandboxes", "sb"},
		Short:   "Manage sandboxes",
		Args:    groupArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.sandboxLsCmd(), a.sandboxCreateCmd(), a.sandboxRmCmd(), a.sandboxWaitCmd())
	return cmd
}

func (a *app) sandboxLsCmd() *cobra.Command {
	var state, wsID string
	cmd := &cobra.Command{
		Use:     "ls [--state STATE] [--workspace WORKSPACE]",
		Aliases: []string{"list"},
		Short:   "List sandboxes",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var opts *workspace.ListSandboxesOptions
			if state != "" {
				opts = &workspace.ListSandboxesOptions{State: workspace.SandboxState(state)}
			}
			return a.withClient(func(c *workspace.Client) error {
				all, err := c.Sandbox.List(cmd.Context(), opts)
				if err != nil {
					return err
				}
				sbs := all[:0]
				for _, s := range all {
					if wsID == "" || s.WorkspaceID == wsID {
						sbs = append(sbs, s)
					}
				}
				return printList(a, sbs, toSandboxJSON, []string{"ID", "WORKSPACE", "NAME", "STATE", "TEMPLATE", "CREATED"}, func(s *workspace.Sandbox) []string {
					return []string{s.ID, s.WorkspaceID, s.Name, string(s.State), s.Template, ago(s.CreatedAt)}
				})
			})
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "only sandboxes in this state (starting, running, stopping, stopped, error)")
	cmd.Flags().StringVarP(&wsID, "workspace", "w", "", "only sandboxes of this workspace")
	return cmd
}

func (a *app) sandboxCreateCmd() *cobra.Command {
	var (
		template, name string
		env, meta      []string
		lifetime       time.Duration
		noWait         bool
	)
	cmd := &cobra.Command{
		Use:   "create WORKSPACE [--template T] [--name N] [-e KEY=VALUE]...",
		Short: "Create a sandbox bound to a workspace, wait until it runs and print its ID",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			envMap, err := parseKeyValues("-e", env)
			if err != nil {
				return err
			}
			md, err := parseKeyValues("--meta", meta)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			return a.withClient(func(c *workspace.Client) error {
				sb, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{
					WorkspaceID: args[0], Template: template, Name: name, Env: envMap, Metadata: md, Timeout: lifetime,
				})
				if err != nil {
					return err
				}
				if !noWait && sb.State != workspace.StateRunning {
					if sb, err = c.Sandbox.WaitForState(ctx, sb.ID, workspace.StateRunning); err != nil {
						return err
					}
				}
				return a.printItem(toSandboxJSON(sb), sb.ID)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&template, "template", "", "template (root filesystem) name; default the server's")
	f.StringVar(&name, "name", "", "sandbox name")
	f.StringArrayVarP(&env, "env", "e", nil, "environment variable KEY=VALUE (repeatable)")
	f.StringArrayVar(&meta, "meta", nil, "metadata KEY=VALUE (repeatable)")
	f.DurationVar(&lifetime, "lifetime", 0, "how long the sandbox may live, e.g. 1h (default the server's, 1h)")
	f.BoolVar(&noWait, "no-wait", false, "return at once instead of waiting for the running state")
	return cmd
}

func (a *app) sandboxRmCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm SANDBOX...",
		Aliases: []string{"delete"},
		Short:   "Delete sandboxes, killing their processes",
		Args:    minArgs(1),
		RunE: a.clientRunE(func(ctx context.Context, c *workspace.Client, args []string) error {
			return a.eachID(args, func(id string) error {
				return c.Sandbox.Delete(ctx, id, &workspace.DeleteSandboxOptions{Force: force})
			})
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", true, "kill the processes at once")
	return cmd
}

func (a *app) sandboxWaitCmd() *cobra.Command {
	var state string
	var within time.Duration
	cmd := &cobra.Command{
		Use:   "wait SANDBOX [--state running] [--for 2m]",
		Short: "Wait until a sandbox reaches a state (fails at once on the error state)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if within > 0 {
				var cancel func()
				ctx, cancel = context.WithTimeout(ctx, within)
				defer cancel()
			}
			return a.withClient(func(c *workspace.Client) error {
				sb, err := c.Sandbox.WaitForState(ctx, args[0], workspace.SandboxState(state))
				if err != nil {
					return err
				}
				return a.printItem(toSandboxJSON(sb), sb.ID, sb.State)
			})
		},
	}
	cmd.Flags().StringVar(&state, "state", string(workspace.StateRunning), "state to wait for")
	cmd.Flags().DurationVar(&within, "for", 5*time.Minute, "give up after this long (0: never)")
	return cmd
}
