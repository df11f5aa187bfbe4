package workspace

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy says how idempotent calls (GET, and the deletes) are retried
// after a connection error or an HTTP 429, 502, 503 or 504. POST and PUT
// calls are never resent. Waits use jittered exponential backoff, or the
// server's Retry-After when it sends one (clamped to MaxRetryAfter), and
// never go past the ctx's deadline.
type RetryPolicy struct {
	// MaxAttempts is the total number of attempts, the first included;
	// 1 or less disables retries.
	MaxAttempts int
	// BaseBackoff is the wait before the first retry; it doubles each time
	// (default 100 ms when zero).
	BaseBackoff time.Duration
	// MaxBackoff caps the backoff (default 2 s when zero).
	MaxBackoff time.Duration
	// MaxRetryAfter caps a server-sent Retry-After (default 10 s when zero).
	MaxRetryAfter time.Duration
}

// DefaultRetryPolicy is the retry policy of a Client without WithRetry:
// 3 attempts, 100 ms base backoff, 2 s max backoff, Retry-After up to 10 s.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 3, BaseBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second, MaxRetryAfter: 10 * time.Second}

// NoRetry disables retries: every call is sent once.
var NoRetry = RetryPolicy{MaxAttempts: 1}

// retried reports whether a request with method may be sent again: only
// GET and DELETE are; POST and PUT never are.
func retried(method string) bool {
	return method == http.MethodGet || method == http.MethodDelete
}

// retryableStatus reports whether a response status is worth a retry.
func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// backoff returns the wait before retry number attempt (1-based): the
// clamped Retry-After when the server sent one, else jittered exponential
// backoff (uniform in [d/2, d]).
func (p RetryPolicy) backoff(attempt int, retryAfter time.Duration) time.Duration {
	base, maxB, maxRA := p.BaseBackoff, p.MaxBackoff, p.MaxRetryAfter
	if base <= 0 {
		base = 100 * time.Millisecond
	}
	if maxB <= 0 {
		maxB = 2 * time.Second
	}
	if maxRA <= 0 {
		maxRA = 10 * time.Second
	}
	if retryAfter > 0 {
		return min(retryAfter, maxRA)
	}
	d := base
	for i := 1; i < attempt && d < maxB; i++ {
		d *= 2
	}
	d = min(d, maxB)
	half := d / 2
	return half + rand.N(d-half+1)
}

// parseRetryAfter parses a Retry-After value in seconds or as an HTTP date;
// 0 when absent or invalid.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > 1<<31 {
			n = 1 << 31
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
