package oastest

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// Transport wraps next (nil: http.DefaultTransport) so that every answer a client
// receives through it during t is checked against the document, as Handler checks what a
// server sends: for tests that reach a server they did not start in-process (another
// process, or a client's own tests). An answer that does not conform fails t at once.
// The body is read whole (up to maxBody for the check) before the client sees it.
func Transport(t testing.TB, next http.RoundTripper) http.RoundTripper {
	t.Helper()
	c, err := Shared()
	if err != nil {
		t.Fatalf("oastest: %v", err)
	}
	if next == nil {
		next = http.DefaultTransport
	}
	return &transport{fail: func(e string) { t.Errorf("oastest: %s", e) }, c: c, next: next}
}

// Collecting wraps next (nil: http.DefaultTransport) as Transport does, for a whole test
// binary rather than one test: each answer that does not conform is handed to report. A
// TestMain installs it on http.DefaultClient and fails the run on any report, so answers
// from servers started as separate processes are checked too. Requests for which other
// returns true (calls to another service that share the client, Stripe's say) pass
// unchecked.
func Collecting(next http.RoundTripper, other func(*http.Request) bool, report func(string)) (http.RoundTripper, error) {
	c, err := Shared()
	if err != nil {
		return nil, err
	}
	if next == nil {
		next = http.DefaultTransport
	}
	return &transport{fail: report, other: other, c: c, next: next}, nil
}

type transport struct {
	fail  func(string)
	other func(*http.Request) bool // nil: every request is the API's
	c     *Checker
	next  http.RoundTripper
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := tr.next.RoundTrip(req)
	if err != nil || (tr.other != nil && tr.other(req)) {
		return res, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	a := Answer{Method: req.Method, Path: req.URL.Path, Status: res.StatusCode, Header: res.Header, Body: body}
	if len(body) > maxBody {
		a.Body, a.Truncated = body[:maxBody], true
	}
	for _, e := range tr.c.Check(a) {
		tr.fail(e)
	}
	return res, nil
}
