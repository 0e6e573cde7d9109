// Package client is a typed Go client of Tenantry's HTTP API, written on the request and
// response types of package http/api, the types the OpenAPI document (/openapi.json) is
// derived from: a field the server sends is a field of these types, so the client, the
// server and the document cannot disagree on a shape. It imports the standard library,
// google/uuid and http/api only.
//
// Every operation of the API's route table has one method, named after its operationId
// (createTenant is CreateTenant, listApiKeys is ListAPIKeys); each takes a context first and
// call options last, and returns the decoded answer, a *Response with the answer's status
// and headers, and an error. A non-2xx answer is an *Error carrying the RFC 9457 problem.
// Lists page with a cursor: the List... methods fetch one page, the plural methods
// (Members, Invitations, APIKeys, Tenants) iterate over every item of every page.
//
// The client never retries: whether a call may be repeated is the caller's decision
// (Idempotency-Key makes a POST safe to repeat; Error.RetryAfter says when).
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// MaxBody bounds what the client reads of one JSON answer (16 MiB): a longer one is an
// error, not a process that runs out of memory. Streams (ExportAuditEvents) are not read
// whole: each of their lines is bounded by MaxBody instead.
const MaxBody = 16 << 20

// maxProblem bounds what is read of an error answer: problems are small.
const maxProblem = 1 << 20

// Client calls one Tenantry API. It is safe for concurrent use; With derives a client with
// other options (another key or tenant) sharing the same HTTP client.
type Client struct {
	base      string // without a trailing slash
	hc        *http.Client
	token     string
	tenant    string
	userAgent string
}

// Option configures a Client.
type Option func(*Client)

// WithToken sends token as the bearer credential of every call: a tenant API key, or the
// operator token for CreateTenant and the admin operations.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithTenant names the tenant (its slug or id) of tenant-scoped operations, sent as the
// X-Tenant header. An API key already names its tenant, so this is needed only to make a
// call fail (404) rather than act when the key belongs to another tenant, or for an
// invitation's acceptance to name its tenant. The header, rather than the workspace path
// (/v1/workspaces/{tenant}/...), keeps every request on the path the document lists.
func WithTenant(slugOrID string) Option { return func(c *Client) { c.tenant = slugOrID } }

// WithHTTPClient sends the requests through hc (default http.DefaultClient): its transport,
// timeout and redirect policy apply.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithUserAgent sets the User-Agent header (default "tenantry-go-client").
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New is a client of the API at baseURL (e.g. "http://127.0.0.1:8080"; a path prefix is
// kept). A URL that is not absolute http or https is an error.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: want an absolute http or https URL", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: base URL %q: a query or fragment is not allowed", baseURL)
	}
	c := &Client{base: strings.TrimSuffix(u.String(), "/"), hc: http.DefaultClient, userAgent: "tenantry-go-client"}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = http.DefaultClient
	}
	return c, nil
}

// With is a copy of c with opts applied on top of c's own.
func (c *Client) With(opts ...Option) *Client {
	d := *c
	for _, o := range opts {
		o(&d)
	}
	if d.hc == nil {
		d.hc = http.DefaultClient
	}
	return &d
}

// CallOption sets something of one call.
type CallOption func(*call)

type call struct {
	idempotencyKey string
	requestID      string
	minSeq         int64
	header         http.Header
}

// WithIdempotencyKey sends Idempotency-Key: the first POST with a key runs, a repeat of
// the same request replays its answer (Response.IdempotentReplayed), for 24 hours. Use a
// new key for each new request (1 to 255 visible ASCII characters).
func WithIdempotencyKey(key string) CallOption { return func(o *call) { o.idempotencyKey = key } }

// WithRequestID sends X-Request-ID: the server logs the request under it and echoes it
// (Response.RequestID, Error.Problem.RequestID).
func WithRequestID(id string) CallOption { return func(o *call) { o.requestID = id } }

// WithMinSeq makes a read wait (a few seconds at most) until the read models it reads
// include the tenant's event seq: pass a write's answered seq to read your write. Only
// operations that document min_seq take it (others answer 400).
func WithMinSeq(seq int64) CallOption { return func(o *call) { o.minSeq = seq } }

// WithHeader sends one more request header (for headers this client does not model).
func WithHeader(key, value string) CallOption {
	return func(o *call) {
		if o.header == nil {
			o.header = http.Header{}
		}
		o.header.Add(key, value)
	}
}

// request is one call to make.
type request struct {
	method, path string
	query        url.Values
	body         any    // encoded as JSON; nil for none
	raw          []byte // sent as it is (with contentType) instead of body
	contentType  string
	scoped       bool   // tenant-scoped: X-Tenant is sent
	accept       string // default application/json
	noAuth       bool   // the credential is in the body (an invitation token) or a signature
}

// send makes the request and returns the answer when it is a 2xx; any other status is an
// *Error (its body read, bounded, and closed).
func (c *Client) send(ctx context.Context, r request, opts []CallOption) (*http.Response, *Response, error) {
	var o call
	for _, f := range opts {
		f(&o)
	}
	target := c.base + r.path
	q := r.query
	if o.minSeq > 0 {
		if q == nil {
			q = url.Values{}
		}
		q.Set("min_seq", fmt.Sprint(o.minSeq))
	}
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	var body io.Reader
	ct := ""
	switch {
	case r.raw != nil:
		body, ct = bytes.NewReader(r.raw), r.contentType
	case r.body != nil:
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, nil, fmt.Errorf("client: %s %s: encode the body: %w", r.method, r.path, err)
		}
		body, ct = bytes.NewReader(b), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return nil, nil, fmt.Errorf("client: %s %s: %w", r.method, r.path, err)
	}
	for k, vs := range o.header {
		req.Header[k] = vs
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	accept := r.accept
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept+", application/problem+json")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if c.token != "" && !r.noAuth {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.tenant != "" && r.scoped {
		req.Header.Set("X-Tenant", c.tenant)
	}
	if o.idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", o.idempotencyKey)
	}
	if o.requestID != "" {
		req.Header.Set("X-Request-ID", o.requestID)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("client: %s %s: %w", r.method, r.path, err)
	}
	meta := newResponse(res)
	if res.StatusCode < 200 || res.StatusCode > 299 {
		defer res.Body.Close()
		return nil, meta, newError(r.method, r.path, res, meta)
	}
	return res, meta, nil
}

// do makes the request and decodes a 2xx answer's JSON into out (nil: the body is
// discarded). Unknown fields are ignored, so a newer server's additions do not break an
// older client.
func (c *Client) do(ctx context.Context, r request, out any, opts []CallOption) (*Response, error) {
	res, meta, err := c.send(ctx, r, opts)
	if err != nil {
		return meta, err
	}
	defer res.Body.Close()
	b, err := readBounded(res.Body, MaxBody)
	if err != nil {
		return meta, fmt.Errorf("client: %s %s: read the %d answer: %w", r.method, r.path, res.StatusCode, err)
	}
	if out == nil {
		return meta, nil
	}
	switch out := out.(type) {
	case *[]byte:
		*out = b
		return meta, nil
	case *string:
		*out = string(b)
		return meta, nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return meta, fmt.Errorf("client: %s %s: decode the %d answer: %w", r.method, r.path, res.StatusCode, err)
	}
	return meta, nil
}

// errTooLarge is an answer longer than the client reads.
var errTooLarge = errors.New("the answer exceeds the client's limit")

// readBounded reads r to its end, failing when it holds more than limit bytes.
func readBounded(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w (%d bytes)", errTooLarge, limit)
	}
	return b, nil
}
