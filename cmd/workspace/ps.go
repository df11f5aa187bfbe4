package main

import (
	"context"
	"strconv"
	"strings"
	"time"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/spf13/cobra"
)

// processJSON is a process of "ps -o json".
type processJSON struct {
	PID       int       `json:"pid"`
	Command   string    `json:"command"`
	Args      []string  `json:"args"`
	Cwd       string    `json:"cwd,omitempty"`
	Running   bool      `json:"running"`
	ExitCode  int       `json:"exit_code"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
}

func toProcessJSON(p *workspace.ProcessInfo) processJSON {
	args := p.Args
	if args == nil {
		args = []string{}
	}
	return processJSON{PID: p.PID, Command: p.Command, Args: args, Cwd: p.Cwd, Running: p.Running, ExitCode: p.ExitCode, StartedAt: p.StartedAt, EndedAt: p.EndedAt}
}

// psCmd is "workspace ps SANDBOX": the processes started with exec -d (or
// Process.Start) and what became of them.
func (a *app) psCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ps SANDBOX",
		Short: "List a sandbox's background processes (started with exec -d)",
		Args:  exactArgs(1),
		RunE: a.clientRunE(func(ctx context.Context, c *workspace.Client, args []string) error {
			ps, err := c.Process.List(ctx, args[0])
			if err != nil {
				return err
			}
			return printList(a, ps, toProcessJSON, []string{"PID", "STATUS", "STARTED", "COMMAND"}, func(p *workspace.ProcessInfo) []string {
				status := "running"
				if !p.Running {
					status = "exited " + strconv.Itoa(p.ExitCode)
				}
				return []string{strconv.Itoa(p.PID), status, ago(p.StartedAt), strings.Join(append([]string{p.Command}, p.Args...), " ")}
			})
		}),
	}
}
