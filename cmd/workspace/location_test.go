package main

import "testing"

func TestParseLocation(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want location
	}{
		{"ws:a/b", location{remote: true, workspace: "ws", path: "a/b"}},
		{"ws:/a/./b/", location{remote: true, workspace: "ws", path: "a/b"}},
		{"ws:", location{remote: true, workspace: "ws", path: ""}},
		{"ws:../../etc", location{remote: true, workspace: "ws", path: "etc"}},
		{"./a:b", location{path: "./a:b"}},
		{"/tmp/x", location{path: "/tmp/x"}},
		{":x", location{path: ":x"}},
		{"-", location{path: "-"}},
	} {
		if got := parseLocation(tc.in); got != tc.want {
			t.Errorf("parseLocation(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestSafeName(t *testing.T) {
	for _, bad := range []string{"", ".", "..", "../x", "a/b", `a\b`, "a\x00b"} {
		if safeName(bad) == nil {
			t.Errorf("safeName(%q) accepted", bad)
		}
	}
	for _, good := range []string{"a", ".hidden", "a..b", "name with spaces"} {
		if err := safeName(good); err != nil {
			t.Errorf("safeName(%q): %v", good, err)
		}
	}
}
