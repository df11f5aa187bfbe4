package main

import (
	"fmt"
	"io"
	"path"
	"strconv"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/spf13/cobra"
)

// filesCmd is "workspace files": ls, cat, rm, mkdir and mv inside a
// workspace.
func (a *app) filesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "files",
		Short: "Work with the files of a workspace (paths are WORKSPACE:PATH)",
		Args:  groupArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.filesLsCmd(), a.filesCatCmd(), a.filesRmCmd(), a.filesMkdirCmd(), a.filesMvCmd())
	return cmd
}

func (a *app) filesLsCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "ls WORKSPACE[:PATH]",
		Aliases: []string{"list"},
		Short:   "List a directory of a workspace (one level)",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			loc, err := remoteArg(args[0], true)
			if err != nil {
				return err
			}
			return a.withClient(func(c *workspace.Client) error {
				fis, err := c.Workspace.ListFiles(cmd.Context(), loc.workspace, loc.path)
				if err != nil {
					return err
				}
				return printList(a, fis, toFileJSON, []string{"NAME", "TYPE", "SIZE", "MODIFIED"}, func(f *workspace.FileInfo) []string {
					name := f.Name
					if f.IsDir() {
						name += "/"
					}
					return []string{name, string(f.Type), strconv.FormatInt(f.Size, 10), ago(f.ModifiedAt)}
				})
			})
		},
	}
}

func (a *app) filesCatCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cat WORKSPACE:PATH...",
		Short: "Print files of a workspace to stdout (binary-safe)",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.forEachRemote(args, func(c *workspace.Client, loc location) error {
				body, err := c.Workspace.Download(cmd.Context(), loc.workspace, loc.path, nil)
				if err != nil {
					return err
				}
				_, err = io.Copy(a.stdout, body)
				body.Close()
				if err != nil {
					return fmt.Errorf("cat %s: %w", loc, err)
				}
				return nil
			})
		},
	}
}

func (a *app) filesRmCmd() *cobra.Command {
	var recursive bool
	cmd := &cobra.Command{
		Use:   "rm [-r] WORKSPACE:PATH...",
		Short: "Delete files or directories of a workspace",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.forEachRemote(args, func(c *workspace.Client, loc location) error {
				if loc.path == "" {
					return usagef("refusing to delete the root of workspace %s", loc.workspace)
				}
				return c.Workspace.DeleteFile(cmd.Context(), loc.workspace, loc.path, &workspace.DeleteFileOptions{Recursive: recursive})
			})
		},
	}
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "delete directories with their contents")
	return cmd
}

func (a *app) filesMkdirCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "mkdir WORKSPACE:PATH...",
		Short: "Create directories (and missing parents) in a workspace",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.forEachRemote(args, func(c *workspace.Client, loc location) error {
				return c.Workspace.Mkdir(cmd.Context(), loc.workspace, loc.path)
			})
		},
	}
}

func (a *app) filesMvCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "mv WORKSPACE:SRC DST",
		Short: "Move or rename a file or directory inside a workspace (DST is a path, or WORKSPACE:PATH of the same workspace)",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := remoteArg(args[0], false)
			if err != nil {
				return err
			}
			dst := parseLocation(args[1])
			if dst.remote && dst.workspace != src.workspace {
				return usagef("mv works inside one workspace: %s and %s differ", src.workspace, dst.workspace)
			}
			if !dst.remote {
				dst.path = cleanRemote(dst.path)
			}
			return a.withClient(func(c *workspace.Client) error {
				ctx := cmd.Context()
				// Like mv: into an existing directory, keep the name.
				if fi, err := c.Workspace.GetFileInfo(ctx, src.workspace, dst.path); err == nil && fi.IsDir() {
					dst.path = path.Join(dst.path, path.Base(src.path))
				}
				return c.Workspace.MoveFile(ctx, src.workspace, src.path, dst.path)
			})
		},
	}
}

// remoteArgs parses arguments that must all be WORKSPACE:PATH.
func remoteArgs(args []string) ([]location, error) {
	locs := make([]location, len(args))
	for i, s := range args {
		l, err := remoteArg(s, false)
		if err != nil {
			return nil, err
		}
		locs[i] = l
	}
	return locs, nil
}

// forEachRemote parses args as WORKSPACE:PATH locations (all of them first,
// so a bad one fails before any work) and runs fn on each in order with one
// client, stopping at the first error.
func (a *app) forEachRemote(args []string, fn func(c *workspace.Client, loc location) error) error {
	locs, err := remoteArgs(args)
	if err != nil {
		return err
	}
	return a.withClient(func(c *workspace.Client) error {
		for _, loc := range locs {
			if err := fn(c, loc); err != nil {
				return err
			}
		}
		return nil
	})
}
