package main

import (
	"context"
	"errors"
	"fmt"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/spf13/cobra"
)

// workspaceLsCmd is "workspace ls": the workspaces as a table or JSON.
func (a *app) workspaceLsCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List workspaces",
		Args:    exactArgs(0),
		RunE: a.clientRunE(func(ctx context.Context, c *workspace.Client, _ []string) error {
			wss, err := c.Workspace.List(ctx)
			if err != nil {
				return err
			}
			return printList(a, wss, toWorkspaceJSON, []string{"ID", "NAME", "CREATED"}, func(w *workspace.Workspace) []string {
				return []string{w.ID, w.Name, ago(w.CreatedAt)}
			})
		}),
	}
}

// workspaceCreateCmd is "workspace create": it prints the new ID (or the
// whole workspace with -o json).
func (a *app) workspaceCreateCmd() *cobra.Command {
	var name string
	var meta []string
	cmd := &cobra.Command{
		Use:   "create [--name NAME] [--meta KEY=VALUE]...",
		Short: "Create a workspace and print its ID",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			md, err := parseKeyValues("--meta", meta)
			if err != nil {
				return err
			}
			return a.withClient(func(c *workspace.Client) error {
				w, err := c.Workspace.Create(cmd.Context(), &workspace.CreateWorkspaceParams{Name: name, Metadata: md})
				if err != nil {
					return err
				}
				return a.printItem(toWorkspaceJSON(w), w.ID)
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "workspace name")
	cmd.Flags().StringArrayVar(&meta, "meta", nil, "metadata KEY=VALUE (repeatable)")
	return cmd
}

// workspaceRmCmd is "workspace rm ID...": it deletes each workspace, goes on
// after a failure and fails at the end if any failed.
func (a *app) workspaceRmCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "rm WORKSPACE...",
		Aliases: []string{"delete"},
		Short:   "Delete workspaces (their sandboxes must be deleted first)",
		Args:    minArgs(1),
		RunE: a.clientRunE(func(ctx context.Context, c *workspace.Client, args []string) error {
			return a.eachID(args, func(id string) error { return c.Workspace.Delete(ctx, id) })
		}),
	}
}

// eachID runs f for every id, printing each id done on stdout and each
// error on stderr; it returns an error when any failed.
func (a *app) eachID(ids []string, f func(id string) error) error {
	var failed []error
	for _, id := range ids {
		if err := f(id); err != nil {
			failed = append(failed, err)
			continue
		}
		if a.output != "json" {
			fmt.Fprintln(a.stdout, id)
		}
	}
	switch len(failed) {
	case 0:
		return nil
	case 1:
		return failed[0]
	}
	return errors.Join(failed...)
}
