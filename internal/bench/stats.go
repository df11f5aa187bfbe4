//go:build !windows

package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// durations collects latency samples.
type durations []time.Duration

// pct returns the p-th percentile (0 < p <= 100) using nearest rank.
func (d durations) pct(p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	i = max(0, min(i, len(s)-1))
	return s[i]
}

// ms converts a duration to float milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// mbps returns MB/s (10^6 bytes per second) for n bytes moved in d.
func mbps(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / 1e6 / d.Seconds()
}

// Metric is one measured number.
type Metric struct {
	Key   string  // stable identifier, e.g. "http.rtt.p50"
	Value float64 // in Unit
	Unit  string  // "ms", "MB/s", "/s", "MiB", "s"
	Note  string  // optional detail shown in the table
}

// Number formats the value with about three significant digits.
func (m Metric) Number() string {
	switch {
	case m.Value >= 100:
		return fmt.Sprintf("%.0f", m.Value)
	case m.Value >= 10:
		return fmt.Sprintf("%.1f", m.Value)
	case m.Value >= 1:
		return fmt.Sprintf("%.2f", m.Value)
	default:
		return fmt.Sprintf("%.3f", m.Value)
	}
}

func (m Metric) String() string { return m.Number() + unitSuffix(m.Unit) }

func unitSuffix(unit string) string {
	switch unit {
	case "/s":
		return "/s"
	case "":
		return ""
	default:
		return " " + unit
	}
}

// latency turns samples into p50/p99 metrics under prefix.
func latency(prefix string, d durations) []Metric {
	return []Metric{
		{Key: prefix + ".p50", Value: ms(d.pct(50)), Unit: "ms"},
		{Key: prefix + ".p99", Value: ms(d.pct(99)), Unit: "ms"},
	}
}

// discard is io.Discard without ReadFrom, so that io.CopyBuffer uses the
// buffer it is given (io.Discard's ReadFrom reads 8 KiB at a time).
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
