package conformance

import (
	"errors"
	"fmt"

	workspace "github.com/elevo/workspace-sdk-go"
)

// wantAPIError checks that err is a *workspace.Error with code and HTTP
// status; the error it returns names route and the difference.
func wantAPIError(route string, err error, code workspace.ErrorCode, status int) error {
	if err == nil {
		return fmt.Errorf("%s: want error %d (HTTP %d), got success", route, code, status)
	}
	var ae *workspace.Error
	if !errors.As(err, &ae) {
		return fmt.Errorf("%s: want error %d (HTTP %d), got a non-API error: %v", route, code, status, err)
	}
	if ae.Code != code || ae.StatusCode != status {
		return fmt.Errorf("%s: want code %d HTTP %d, got code %d HTTP %d (%q)", route, code, status, ae.Code, ae.StatusCode, ae.Message)
	}
	return nil
}

// failed wraps an unexpected error of route.
func failed(route string, err error) error { return fmt.Errorf("%s: %w", route, err) }

// differ reports the first difference of got and want, or nil.
func differ(route, what string, got, want []byte) error {
	if string(got) == string(want) {
		return nil
	}
	n := min(len(got), len(want))
	i := 0
	for i < n && got[i] == want[i] {
		i++
	}
	if i == n {
		return fmt.Errorf("%s: %s: got %d bytes, want %d (equal up to %d)", route, what, len(got), len(want), n)
	}
	return fmt.Errorf("%s: %s: first difference at byte %d: got %#02x, want %#02x (%d vs %d bytes)", route, what, i, got[i], want[i], len(got), len(want))
}

// mismatch reports got != want for a field of an answer.
func mismatch(route, what string, got, want any) error {
	return fmt.Errorf("%s: %s: got %v, want %v", route, what, got, want)
}
