package main

import (
	"context"
	"fmt"
	"strings"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/spf13/cobra"
)

// healthCmd is "workspace health": the server's status, version and
// features.
func (a *app) healthCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "health",
		Short: "Show the server's status, version and features",
		Args:  exactArgs(0),
		RunE: a.clientRunE(func(ctx context.Context, c *workspace.Client, _ []string) error {
			h, err := c.Health(ctx)
			if err != nil {
				return err
			}
			if a.output == "json" {
				feats := h.Features
				if feats == nil {
					feats = []string{}
				}
				return printJSON(a.stdout, map[string]any{"status": h.Status, "version": h.Version, "features": feats})
			}
			_, err = fmt.Fprintf(a.stdout, "status:   %s\nversion:  %s\nfeatures: %s\n", h.Status, h.Version, strings.Join(h.Features, " "))
			return err
		}),
	}
}
