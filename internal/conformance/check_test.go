package conformance

import "testing"

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
