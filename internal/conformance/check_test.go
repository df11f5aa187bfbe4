package conformance

import (
	"testing"

	workspace "github.com/elevo/workspace-sdk-go"
)

// TestResultString: one line per check, as the command prints it.
func TestResultString(t *testing.T) {
	for _, tc := range []struct {
		r    Result
		want string
	}{
		{Result{Name: "health", Status: Pass}, "PASS health"},
		{Result{Name: "pty/session", Status: Skip, Detail: "no pty"}, "SKIP pty/session: no pty"},
		{Result{Name: "files/errors", Status: Fail, Detail: "GET x: bad"}, "FAIL files/errors: GET x: bad"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

// TestChecksNamesUnique: names identify checks and subtests.
func TestChecksNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Checks() {
		if c.Name == "" || c.Run == nil || seen[c.Name] {
			t.Errorf("check %q: empty, without Run, or a duplicate name", c.Name)
		}
		seen[c.Name] = true
	}
}

// TestSkipReason: base checks always apply; fixes need any feature;
// extensions need theirs; slow checks need the option.
func TestSkipReason(t *testing.T) {
	base := &Env{Health: &workspace.HealthInfo{Status: "healthy"}}
	full := &Env{Health: &workspace.HealthInfo{Status: "healthy", Features: []string{workspace.FeaturePTY}}}
	slow := &Env{Health: full.Health, opts: Options{Slow: true}}
	for _, tc := range []struct {
		c    Check
		e    *Env
		skip bool
	}{
		{Check{Name: "b"}, base, false},
		{Check{Name: "f", Needs: NeedFixes}, base, true},
		{Check{Name: "f", Needs: NeedFixes}, full, false},
		{Check{Name: "p", Needs: workspace.FeaturePTY}, full, false},
		{Check{Name: "a", Needs: workspace.FeatureAuth}, full, true},
		{Check{Name: "s", Needs: NeedFixes, Slow: true}, full, true},
		{Check{Name: "s", Needs: NeedFixes, Slow: true}, slow, false},
	} {
		if got := tc.c.SkipReason(tc.e); (got != "") != tc.skip {
			t.Errorf("%s (needs %q, slow %v) on %v (slow option %v): reason %q, want skip %v", tc.c.Name, tc.c.Needs, tc.c.Slow, tc.e.Health.Features, tc.e.opts.Slow, got, tc.skip)
		}
	}
}
