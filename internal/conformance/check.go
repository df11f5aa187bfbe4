package conformance

import (
	"context"
	"fmt"

	workspace "github.com/elevo/workspace-sdk-go"
)

// NeedFixes is the Check.Needs value of checks of the reference server's
// Part 2 fixes: they apply to a server that lists any feature in
// GET /health (a base-mode or upstream server lists none).
const NeedFixes = "fixes"

// Check is one conformance check.
type Check struct {
	// Name identifies the check, e.g. "files/errors"; subtests use it.
	Name string
	// Needs is "" for the base protocol, NeedFixes for Part 2's fixes, or
	// a feature name (workspace.Feature*) the server must list.
	Needs string
	// Slow marks a check that moves a lot of data or waits long; it runs
	// only with Options.Slow.
	Slow bool
	// Run performs the check. It returns nil when the server conforms,
	// else an error naming the route and the difference.
	Run func(ctx context.Context, e *Env) error
}

// inWorkspace is the Run of a check that works in the run's shared
// workspace (Env.Workspace).
func inWorkspace(run func(ctx context.Context, e *Env, ws *workspace.Workspace) error) func(context.Context, *Env) error {
	return inShared((*Env).Workspace, run)
}

// inSandbox is the Run of a check that works in the run's shared running
// sandbox (Env.Sandbox).
func inSandbox(run func(ctx context.Context, e *Env, sb *workspace.Sandbox) error) func(context.Context, *Env) error {
	return inShared((*Env).Sandbox, run)
}

// inShared is the Run of a check that gets a shared resource of the run
// (get: Env.Workspace or Env.Sandbox) and then runs in it.
func inShared[T any](get func(*Env, context.Context) (T, error), run func(context.Context, *Env, T) error) func(context.Context, *Env) error {
	return func(ctx context.Context, e *Env) error {
		v, err := get(e, ctx)
		if err != nil {
			return err
		}
		return run(ctx, e, v)
	}
}

// Status is the outcome of one check.
type Status string

// The outcomes of a check.
const (
	Pass Status = "PASS"
	Fail Status = "FAIL"
	Skip Status = "SKIP"
)

// Result is the outcome of one check run by Run.
type Result struct {
	Name   string
	Status Status
	// Detail is the failure, the reason for a skip, or empty.
	Detail string
}

// String formats r as one line: "PASS|FAIL|SKIP name: detail".
func (r Result) String() string {
	if r.Detail == "" {
		return fmt.Sprintf("%s %s", r.Status, r.Name)
	}
	return fmt.Sprintf("%s %s: %s", r.Status, r.Name, r.Detail)
}

// SkipReason says why c does not apply to the server of e, or "" when it
// does.
func (c Check) SkipReason(e *Env) string {
	switch {
	case c.Slow && !e.opts.Slow:
		return "slow check: enable with the slow option (WORKSPACE_CONFORMANCE_SLOW=1, --slow)"
	case c.Needs == NeedFixes:
		if len(e.Health.Features) == 0 {
			return "the server lists no feature in /health (base protocol only): Part 2 fixes do not apply"
		}
	case c.Needs != "":
		if !e.Health.Has(c.Needs) {
			return fmt.Sprintf("the server does not list feature %q in /health", c.Needs)
		}
	}
	return ""
}
