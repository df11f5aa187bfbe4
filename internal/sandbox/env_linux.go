//go:build linux

package sandbox

import (
	"sort"

	"github.com/elevo/workspace-sdk-go/internal/sandbox/agent"
)

func mergeEnv(layers ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, l := range layers {
		for k, v := range l {
			out[k] = v
		}
	}
	return out
}

func envList(env map[string]string) []string {
	l := make([]string, 0, len(env))
	for k, v := range env {
		if k == "" || k == agent.Env {
			continue
		}
		l = append(l, k+"="+v)
	}
	sort.Strings(l)
	return l
}
