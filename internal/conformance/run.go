package conformance

import (
	"context"
	"fmt"

	workspace "github.com/elevo/workspace-sdk-go"
)

// Selected returns the checks that opts.Match selects, in order.
func Selected(opts Options) []Check {
	var out []Check
	for _, c := range Checks() {
		if opts.Match == nil || opts.Match(c.Name) {
			out = append(out, c)
		}
	}
	return out
}

// RunCheck runs one check against e: Skip with the reason when it does
// not apply, Fail with the difference, or Pass. A panic in the check is a
// failure.
func RunCheck(ctx context.Context, e *Env, c Check) (res Result) {
	res.Name = c.Name
	if why := c.SkipReason(e); why != "" {
		res.Status, res.Detail = Skip, why
		return res
	}
	defer func() {
		if p := recover(); p != nil {
			res.Status, res.Detail = Fail, fmt.Sprintf("panic: %v", p)
		}
	}()
	if err := c.Run(ctx, e); err != nil {
		res.Status, res.Detail = Fail, err.Error()
		return res
	}
	res.Status = Pass
	return res
}

// Run runs the selected checks one after the other against the server of
// c and removes what they created. A server that does not answer
// GET /health gives one failed "health" result.
func Run(ctx context.Context, c *workspace.Client, opts Options) []Result {
	e, err := NewEnv(ctx, c, opts)
	if err != nil {
		return []Result{{Name: "health", Status: Fail, Detail: err.Error()}}
	}
	var out []Result
	for _, ch := range Selected(opts) {
		out = append(out, RunCheck(ctx, e, ch))
	}
	if err := e.Close(); err != nil {
		out = append(out, Result{Name: "cleanup", Status: Fail, Detail: err.Error()})
	}
	return out
}
