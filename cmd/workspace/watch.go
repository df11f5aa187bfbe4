package main

import (
	"encoding/json"
	"fmt"
	"io"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/spf13/cobra"
)

// watchCmd is "workspace watch WORKSPACE[:PATH]": one line per file change
// until Ctrl-C (-o json: one JSON object per line).
func (a *app) watchCmd() *cobra.Command {
	var recursive bool
	cmd := &cobra.Command{
		Use:   "watch WORKSPACE[:PATH] [-r]",
		Short: "Print changes to a workspace directory as they happen, until Ctrl-C",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			loc, err := remoteArg(args[0], true)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			return a.withClient(func(c *workspace.Client) error {
				for ev, err := range c.Workspace.Watch(ctx, loc.workspace, loc.path, &workspace.WatchOptions{Recursive: recursive}) {
					if err != nil {
						if ctx.Err() != nil {
							return nil // Ctrl-C: the normal end
						}
						return err
					}
					typ := fmt.Sprint(ev.Type)
					if a.output == "json" {
						err = writeJSONLine(a.stdout, map[string]any{"type": typ, "path": ev.Path, "is_dir": ev.IsDir})
					} else {
						suffix := ""
						if ev.IsDir {
							suffix = "/"
						}
						_, err = fmt.Fprintf(a.stdout, "%-8s %s%s\n", typ, ev.Path, suffix)
					}
					if err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "watch subdirectories too")
	return cmd
}

// writeJSONLine writes v as one line of JSON (a stream of events).
func writeJSONLine(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}
