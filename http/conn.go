package httpapi

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// Timeouts bound how long one client may hold a connection and what it may send, so that
// slow or idle clients cannot pile up open connections (each holds a goroutine and
// buffers) until the process runs out of them.
type Timeouts struct {
	// ReadHeader bounds reading a request's headers (default 10 s).
	ReadHeader time.Duration
	// Read bounds reading a whole request, body included (default 30 s): a body dribbled
	// slower than that is cut off.
	Read time.Duration
	// Write bounds the time from the end of a request's headers to the end of its answer
	// (default 60 s). Streamed answers (the audit export) extend it for each chunk they
	// write, so a long export completes as long as the client keeps reading.
	Write time.Duration
	// Idle bounds how long a keep-alive connection waits for its next request (default
	// 120 s).
	Idle time.Duration
	// MaxHeaderBytes bounds a request's headers (default 64 KiB).
	MaxHeaderBytes int
}

// DefaultTimeouts are the limits NewHTTPServer applies when Deps.Timeouts leaves them zero.
func DefaultTimeouts() Timeouts {
	return Timeouts{ReadHeader: 10 * time.Second, Read: 30 * time.Second, Write: 60 * time.Second,
		Idle: 120 * time.Second, MaxHeaderBytes: 64 << 10}
}

func (t Timeouts) withDefaults() Timeouts {
	def := DefaultTimeouts()
	if t.ReadHeader <= 0 {
		t.ReadHeader = def.ReadHeader
	}
	if t.Read <= 0 {
		t.Read = def.Read
	}
	if t.Write <= 0 {
		t.Write = def.Write
	}
	if t.Idle <= 0 {
		t.Idle = def.Idle
	}
	if t.MaxHeaderBytes <= 0 {
		t.MaxHeaderBytes = def.MaxHeaderBytes
	}
	return t
}

// Apply sets srv's timeouts and header limit from t (defaults for zero fields).
func (t Timeouts) Apply(srv *http.Server) {
	t = t.withDefaults()
	srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout = t.ReadHeader, t.Read, t.Write, t.Idle
	srv.MaxHeaderBytes = t.MaxHeaderBytes
}

// NewHTTPServer is the http.Server of the API: New's handler with d.Timeouts applied.
func NewHTTPServer(d Deps) *http.Server {
	srv := &http.Server{Handler: New(d)}
	d.Timeouts.Apply(srv)
	return srv
}

// NewHTTPServerChecked is NewHTTPServer, or why d's products cannot be served.
func NewHTTPServerChecked(d Deps) (*http.Server, error) {
	h, err := NewChecked(d)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h}
	d.Timeouts.Apply(srv)
	return srv, nil
}

// MaxBody is the largest request body accepted (1 MiB).
const MaxBody = 1 << 20

// A request whose body is too large is answered 413 only after the rest of the body has
// been read and discarded, up to maxDiscard more bytes within discardTimeout: a server that
// answers and closes while the client is still sending makes the client's TCP stack see a
// reset, and the client reports a broken pipe instead of the 413. Beyond that bound the
// connection is closed anyway: nobody may make the server read without end.
const (
	maxDiscard     = 8 << 20
	discardTimeout = 10 * time.Second
)

// limitBody caps request bodies at MaxBody; a larger declared Content-Length is refused at
// once (after discarding the body, see tooLarge).
func limitBody(c *gin.Context) {
	requestState(c).rawBody = c.Request.Body
	if c.Request.ContentLength > MaxBody {
		// A client that waits for "100 Continue" has sent nothing yet, and never will.
		tooLarge(c, !strings.EqualFold(c.GetHeader("Expect"), "100-continue"))
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxBody)
	c.Next()
}

// tooLarge answers 413, closing the connection after it. When the client is sending (discard),
// the body's remainder is read and discarded first, within the bounds above, so that the
// client reads the answer.
func tooLarge(c *gin.Context, discard bool) {
	c.Header("Connection", "close")
	if raw := requestState(c).rawBody; raw != nil && discard {
		rc := http.NewResponseController(c.Writer)
		_ = rc.SetReadDeadline(time.Now().Add(discardTimeout))
		_, _ = io.CopyN(io.Discard, raw, maxDiscard)
	}
	fail(c, http.StatusRequestEntityTooLarge, "payload-too-large", "request bodies are limited to 1 MiB")
}

// isTooLarge reports whether err is the size limit's.
func isTooLarge(err error) bool {
	var tooBig *http.MaxBytesError
	return errors.As(err, &tooBig)
}
