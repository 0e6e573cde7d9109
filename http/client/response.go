package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tenantry/tenantry/http/api"
)

// Response is what an answer said besides its body: its status and the headers the API
// documents. Every method returns it whenever an answer arrived (a non-2xx one included).
type Response struct {
	StatusCode int
	Header     http.Header
	// RequestID is X-Request-ID: the id the server logged the request under.
	RequestID string
	// IdempotentReplayed is true when the answer replays the first answer to the same
	// Idempotency-Key (the request did not run again).
	IdempotentReplayed bool
	// RateLimit is the tenant's rate limit (the IETF RateLimit and RateLimit-Policy
	// headers); nil when the answer carried none (operations that name no tenant).
	RateLimit *RateLimit
}

// RateLimit is what the RateLimit and RateLimit-Policy headers say of the tenant's limit.
type RateLimit struct {
	Policy    string        // the policy's name ("plan")
	Remaining int64         // requests left now (r)
	Reset     time.Duration // until the bucket is full again (t)
	Quota     int64         // the burst: requests the full bucket holds (q); 0 when not sent
	Window    time.Duration // how long the bucket takes to refill (w); 0 when not sent
}

func newResponse(res *http.Response) *Response {
	r := &Response{StatusCode: res.StatusCode, Header: res.Header, RequestID: res.Header.Get("X-Request-ID"),
		IdempotentReplayed: res.Header.Get("Idempotent-Replayed") == "true"}
	if h := res.Header.Get("RateLimit"); h != "" {
		name, params := structuredItem(h)
		rl := &RateLimit{Policy: name}
		rl.Remaining, _ = strconv.ParseInt(params["r"], 10, 64)
		t, _ := strconv.ParseInt(params["t"], 10, 64)
		rl.Reset = time.Duration(t) * time.Second
		if _, pol := structuredItem(res.Header.Get("RateLimit-Policy")); pol != nil {
			rl.Quota, _ = strconv.ParseInt(pol["q"], 10, 64)
			w, _ := strconv.ParseInt(pol["w"], 10, 64)
			rl.Window = time.Duration(w) * time.Second
		}
		r.RateLimit = rl
	}
	return r
}

// structuredItem reads the first item of a structured field list such as
// `"plan";r=5;t=1` (RFC 9651, the parts the API sends): its name and parameters.
func structuredItem(h string) (string, map[string]string) {
	if h == "" {
		return "", nil
	}
	item, _, _ := strings.Cut(h, ",")
	parts := strings.Split(item, ";")
	name := strings.Trim(strings.TrimSpace(parts[0]), `"`)
	params := map[string]string{}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		params[k] = strings.Trim(v, `"`)
	}
	return name, params
}

// Error is a non-2xx answer. Problem is its RFC 9457 problem detail (every error of the
// API is one); an answer that is not one (a proxy's page) leaves Problem's fields empty
// and keeps the start of its body in Body. Use errors.As to get it from a method's error.
type Error struct {
	Method, Path string
	StatusCode   int
	Problem      api.Problem
	// RetryAfter is the answer's Retry-After (429, 503, and 409 for a request still in
	// progress): how long to wait before trying again; 0 when absent.
	RetryAfter time.Duration
	// Body is the start (at most 4 KiB) of an answer that was not a problem.
	Body     []byte
	Response *Response
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("client: %s %s: %d", e.Method, e.Path, e.StatusCode)
	switch {
	case e.Problem.Title != "" && e.Problem.Detail != "":
		msg += " " + e.Problem.Title + ": " + e.Problem.Detail
	case e.Problem.Title != "":
		msg += " " + e.Problem.Title
	default:
		msg += " " + http.StatusText(e.StatusCode)
	}
	for i, f := range e.Problem.Errors {
		if i == 5 {
			msg += fmt.Sprintf(" (and %d more)", len(e.Problem.Errors)-i)
			break
		}
		msg += fmt.Sprintf("; %s: %s", f.Field, f.Message)
	}
	return msg
}

// Kind is the last segment of the problem's type (e.g. "tenant-suspended",
// "not-found"), "" when the answer was not a problem.
func (e *Error) Kind() string {
	t, ok := strings.CutPrefix(e.Problem.Type, api.ProblemBase)
	if !ok {
		return ""
	}
	return t
}

func newError(method, path string, res *http.Response, meta *Response) *Error {
	e := &Error{Method: method, Path: path, StatusCode: res.StatusCode, Response: meta,
		RetryAfter: parseRetryAfter(res.Header.Get("Retry-After"), time.Now())}
	b, err := readBounded(res.Body, maxProblem)
	if err != nil && !errors.Is(err, errTooLarge) {
		return e
	}
	ct := res.Header.Get("Content-Type")
	if strings.Contains(ct, "json") && json.Unmarshal(b, &e.Problem) == nil {
		return e
	}
	e.Problem = api.Problem{}
	e.Body = b[:min(len(b), 4<<10)]
	return e
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date (RFC 9110 10.2.3); 0 when
// absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// StatusOf is the HTTP status of err's answer (0 when err holds no *Error).
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}

// IsNotFound reports whether err is a 404 answer.
func IsNotFound(err error) bool { return StatusOf(err) == http.StatusNotFound }

// IsForbidden reports whether err is a 403 answer (a role or a suspended tenant).
func IsForbidden(err error) bool { return StatusOf(err) == http.StatusForbidden }

// IsRateLimited reports whether err is a 429 answer; its Error.RetryAfter says when to
// try again.
func IsRateLimited(err error) bool { return StatusOf(err) == http.StatusTooManyRequests }
