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
	return &transport{t: t, c: c, next: next}
}

type transport struct {
	t    testing.TB
	c    *Checker
	next http.RoundTripper
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := tr.next.RoundTrip(req)
	if err != nil {
		return nil, err
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
		tr.t.Errorf("oastest: %s", e)
	}
	return res, nil
}
