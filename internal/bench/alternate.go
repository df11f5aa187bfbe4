//go:build !windows

package main

import (
	"context"
	"fmt"
	"time"
)

// projAlternate measures the two ratios the sandbox runtime is held to
// (Run `true` within 1.5x of fork+exec, create within 2.5x of a bwrap
// start) with the floor and the project sampled alternately: one floor
// sample, then one project sample, and so on. The separate floor and
// project figures are taken seconds apart, and a shared VM's speed drifts
// by tens of percent from one second to the next. Samples side by side
// see the same machine, but the floor then runs right after the project's
// work and its after-effects (the README's Performance section says how
// to read both).
func projAlternate(ctx context.Context, cfg *config) ([]Metric, error) {
	p, err := getProject(ctx, cfg)
	if err != nil {
		return nil, err
	}
	for range 20 { // warm-up
		if err := p.runTrue(ctx); err != nil {
			return nil, err
		}
	}
	var fork, run durations
	for range min(cfg.samples, 1000) {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		t := time.Now()
		if err := forkTrue(); err != nil {
			return nil, err
		}
		fork = append(fork, time.Since(t))
		t = time.Now()
		if err := p.runTrue(ctx); err != nil {
			return nil, err
		}
		run = append(run, time.Since(t))
	}
	var bwrap, create durations
	for range createSamples(cfg) {
		t := time.Now()
		if err := bwrapTrue(ctx, cfg); err != nil {
			return nil, fmt.Errorf("bwrap: %w", err)
		}
		bwrap = append(bwrap, time.Since(t))
		el, err := p.timeCreate(ctx)
		if err != nil {
			return nil, err
		}
		create = append(create, el)
	}
	ratio := func(a, b durations) string {
		return fmt.Sprintf("%.2f× the floor", float64(a.pct(50))/float64(b.pct(50)))
	}
	return []Metric{
		{Key: "alt.run.p50", Value: ms(run.pct(50)), Unit: "ms", Note: ratio(run, fork)},
		{Key: "alt.fork.p50", Value: ms(fork.pct(50)), Unit: "ms"},
		{Key: "alt.create.p50", Value: ms(create.pct(50)), Unit: "ms", Note: ratio(create, bwrap)},
		{Key: "alt.bwrap.p50", Value: ms(bwrap.pct(50)), Unit: "ms"},
	}, nil
}
