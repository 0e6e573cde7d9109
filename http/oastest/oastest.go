// Package oastest checks the API's answers against its OpenAPI document (issue 17, item 2):
// tests wrap the server's handler with Handler, and every response it gives is validated
// (libopenapi-validator, which targets OpenAPI 3.1 and JSON Schema 2020-12): its status
// must be listed for the operation, its content type declared, its body valid against the
// schema and its documented headers well-formed. A response that does not validate fails
// the test that received it. For tests only.
package oastest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/http/product"
)

// maxBody bounds what is kept of one answer for validation: a longer body (a large audit
// export) is checked for its status and headers only, so that the check does not hold
// whole exports in memory.
const maxBody = 4 << 20

// Checker validates answers against the document.
type Checker struct {
	v      validator.Validator
	model  *v3.Document
	schema schema_validation.SchemaValidator
	ops    []operation
	mu     sync.Mutex // the validator's caches are shared: one check at a time
}

// operation is one path template of the document as a pattern.
type operation struct {
	pattern *regexp.Regexp
	path    string
	item    *v3.PathItem
}

var (
	once    sync.Once
	shared  *Checker
	loadErr error
)

// Shared is the checker of the API's document, built once per test binary.
func Shared() (*Checker, error) {
	once.Do(func() { shared, loadErr = New() })
	return shared, loadErr
}

// New builds a checker from the API's document (httpapi.DocumentJSON).
func New() (*Checker, error) {
	raw, err := httpapi.DocumentJSON()
	if err != nil {
		return nil, err
	}
	return FromDocument(raw)
}

var templateParam = regexp.MustCompile(`\\\{[A-Za-z_]+\\\}`)

// FromDocument builds a checker from an OpenAPI 3.1 document.
func FromDocument(raw []byte) (*Checker, error) {
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		return nil, fmt.Errorf("oastest: load the document: %w", err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("oastest: build the document's model: %w", err)
	}
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions())
	if len(errs) > 0 {
		return nil, fmt.Errorf("oastest: the validator refuses the document: %v", errs)
	}
	c := &Checker{v: v, model: &model.Model, schema: schema_validation.NewSchemaValidator(config.WithFormatAssertions())}
	for path, item := range model.Model.Paths.PathItems.FromOldest() {
		re := "^" + templateParam.ReplaceAllString(regexp.QuoteMeta(path), "[^/]+") + "$"
		c.ops = append(c.ops, operation{pattern: regexp.MustCompile(re), path: path, item: item})
	}
	return c, nil
}

// workspacePath is the workspace form of a tenant-scoped path: documented once (the
// operations' x-tenantry-workspace-path), checked as its /v1 path.
var workspacePath = regexp.MustCompile(`^/v1/workspaces/[^/]+(/.*)$`)

// find is the operation documented for method and path ("" when none).
func (c *Checker) find(method, path string) (*v3.Operation, string) {
	if m := workspacePath.FindStringSubmatch(path); m != nil {
		path = "/v1" + m[1]
	}
	for _, o := range c.ops {
		if !o.pattern.MatchString(path) {
			continue
		}
		var op *v3.Operation
		switch method {
		case http.MethodGet, http.MethodHead: // HEAD is GET without a body (the document says so once)
			op = o.item.Get
		case http.MethodPost:
			op = o.item.Post
		case http.MethodPut:
			op = o.item.Put
		case http.MethodPatch:
			op = o.item.Patch
		case http.MethodDelete:
			op = o.item.Delete
		}
		return op, o.path
	}
	return nil, ""
}

// Answer is one response as the server sent it.
type Answer struct {
	Method, Path string // the request's
	Status       int
	Header       http.Header
	Body         []byte
	Truncated    bool // Body holds only the first maxBody bytes
}

// Check reports every way a answers differently from the document (nil when it conforms).
func (c *Checker) Check(a Answer) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	op, path := c.find(a.Method, a.Path)
	if op == nil {
		// A path or method no operation has: the router's own 404 or 405, a problem.
		if a.Status != http.StatusNotFound && a.Status != http.StatusMethodNotAllowed {
			return []string{fmt.Sprintf("%s %s is not in the document, and answered %d (not 404 or 405)", a.Method, a.Path, a.Status)}
		}
		return c.problem(a)
	}
	code := strconv.Itoa(a.Status)
	resp := op.Responses.Codes.GetOrZero(code)
	if resp == nil {
		return []string{fmt.Sprintf("%s %s (%s) answered %d, which the document does not list for %s", a.Method, a.Path, path, a.Status, op.OperationId)}
	}
	var out []string
	ct := a.Header.Get("Content-Type")
	if a.Method == http.MethodHead || a.Truncated {
		// No body to check (HEAD), or not all of it: the status and headers only.
		if resp.Content != nil && resp.Content.Len() > 0 && ct != "" {
			if _, ok := mediaFor(resp, ct); !ok {
				out = append(out, fmt.Sprintf("%s %s answered %d as %q, not a declared media type", a.Method, a.Path, a.Status, ct))
			}
		}
		return out
	}
	if mt, ok := mediaFor(resp, ct); ok && strings.HasPrefix(ct, "application/x-ndjson") {
		return c.ndjson(a, mt.Schema.Schema())
	}
	req, err := http.NewRequest(a.Method, "http://127.0.0.1:8080"+templatePath(a.Path), nil)
	if err != nil {
		return []string{err.Error()}
	}
	res := &http.Response{StatusCode: a.Status, Header: a.Header, Body: io.NopCloser(bytes.NewReader(a.Body)), Request: req}
	if a.Method == http.MethodHead {
		req.Method = http.MethodGet
	}
	if ok, errs := c.v.ValidateHttpResponse(req, res); !ok {
		out = append(out, describe(a, errs)...)
	}
	return out
}

// templatePath is path with its workspace form turned into its /v1 form.
func templatePath(path string) string {
	if m := workspacePath.FindStringSubmatch(path); m != nil {
		return "/v1" + m[1]
	}
	return path
}

func mediaFor(resp *v3.Response, contentType string) (*v3.MediaType, bool) {
	if resp.Content == nil {
		return nil, false
	}
	base, _, _ := strings.Cut(contentType, ";")
	mt := resp.Content.GetOrZero(strings.TrimSpace(base))
	return mt, mt != nil
}

// problem checks a problem answer of no documented operation against the Problem schema.
func (c *Checker) problem(a Answer) []string {
	if ct := a.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		return []string{fmt.Sprintf("%s %s answered %d as %q, not application/problem+json", a.Method, a.Path, a.Status, ct)}
	}
	if a.Truncated || a.Method == http.MethodHead {
		return nil
	}
	s := c.model.Components.Schemas.GetOrZero("Problem")
	if s == nil {
		return []string{"the document has no Problem schema"}
	}
	return c.validate(a, "problem", s.Schema(), a.Body)
}

// ndjson checks every line of an NDJSON answer against the media type's (line) schema.
func (c *Checker) ndjson(a Answer, s *base.Schema) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(a.Body))
	sc.Buffer(nil, maxBody)
	for n := 1; sc.Scan(); n++ {
		out = append(out, c.validate(a, "line "+strconv.Itoa(n), s, sc.Bytes())...)
		if len(out) > 10 {
			break
		}
	}
	return out
}

func (c *Checker) validate(a Answer, what string, s *base.Schema, body []byte) []string {
	ok, errs := c.schema.ValidateSchemaBytes(s, body)
	if ok {
		return nil
	}
	return describe(Answer{Method: a.Method, Path: a.Path + " (" + what + ")", Status: a.Status, Body: body}, errs)
}

func describe(a Answer, errs []*liberrors.ValidationError) []string {
	return report(fmt.Sprintf("%s %s answered %d that the document does not allow", a.Method, a.Path, a.Status), a.Body, errs)
}

// report is one line per validation error: what was not allowed, why, and the body.
func report(what string, body []byte, errs []*liberrors.ValidationError) []string {
	out := make([]string, 0, len(errs))
	shown := string(body)
	if len(shown) > 600 {
		shown = shown[:600] + "..."
	}
	for _, e := range errs {
		msg := e.Message + ": " + e.Reason
		for _, f := range e.SchemaValidationErrors {
			msg += fmt.Sprintf("; at %s: %s", f.FieldPath, f.Reason)
		}
		out = append(out, fmt.Sprintf("%s: %s\nbody: %s", what, msg, shown))
	}
	return out
}

// Handler wraps h so that every answer it gives during t is checked against the document;
// one that does not conform fails t (reported when t's cleanups run: the checks run off
// the request path, so that they add no latency to the answers the tests time). Wrap the
// handler before the server that serves it is started, so that the server is closed
// (its requests finished) before the checks are collected.
func Handler(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	c, err := Shared()
	if err != nil {
		t.Fatalf("oastest: %v", err)
	}
	return c.Handler(t, h)
}

// ForProducts builds a checker from the document of a server with products
// (httpapi.DocumentJSONFor).
func ForProducts(products []product.Product) (*Checker, error) {
	raw, err := httpapi.DocumentJSONFor(products)
	if err != nil {
		return nil, err
	}
	return FromDocument(raw)
}

// Handler is the package's Handler with c's document.
func (c *Checker) Handler(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	var (
		mu       sync.Mutex
		failures []string
		stopped  bool
		checks   sync.WaitGroup // answers being checked
	)
	t.Cleanup(func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		checks.Wait()
		for i, f := range failures {
			if i == 20 {
				t.Errorf("oastest: %d more answers do not conform to the OpenAPI document", len(failures)-i)
				break
			}
			t.Errorf("oastest: %s", f)
		}
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if stopped { // a request after the test's end: nobody to report to
			mu.Unlock()
			h.ServeHTTP(w, r)
			return
		}
		checks.Add(1)
		mu.Unlock()
		sent, whole := keepBody(r)
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		a := Answer{Method: r.Method, Path: r.URL.Path, Status: rec.status, Header: w.Header().Clone(), Body: rec.body.Bytes(), Truncated: rec.truncated}
		accepted := Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: sent}
		go func() { // off the request path: the answer is not held up by its check
			defer checks.Done()
			errs := c.Check(a)
			if whole && a.Status >= 200 && a.Status < 300 {
				errs = append(errs, c.CheckRequest(accepted)...)
			}
			if len(errs) > 0 {
				mu.Lock()
				failures = append(failures, errs...)
				mu.Unlock()
			}
		}()
	})
}

// keepBody copies r's body (up to maxBody bytes) for CheckRequest and leaves r's body to be
// read as sent; whole is false when the body was longer.
func keepBody(r *http.Request) (body []byte, whole bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true
	}
	if r.Header.Get("Expect") != "" || r.ContentLength > maxBody {
		// Reading it now would answer 100 Continue before the handler could refuse it.
		return nil, false
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	rest := r.Body
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(buf), rest), rest}
	return buf, err == nil && len(buf) <= maxBody
}

// Request is one request as a client sent it.
type Request struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

// CheckRequest reports every way a request the server accepted (a 2xx answer) differs from
// what the document allows its operation: its query, path and header parameters and its
// JSON body. A client generated from the document must be able to send what the server
// takes. A query parameter with an empty value is left out: the server reads it as absent.
func (c *Checker) CheckRequest(r Request) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	op, _ := c.find(r.Method, r.Path)
	if op == nil {
		return nil
	}
	base, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	hasBody := len(bytes.TrimSpace(r.Body)) > 0
	if hasBody && (op.RequestBody == nil || op.RequestBody.Content == nil) {
		return []string{fmt.Sprintf("%s %s accepted a body, but the document gives the operation none", r.Method, r.Path)}
	}
	q, err := url.ParseQuery(r.RawQuery)
	if err != nil {
		return []string{fmt.Sprintf("%s %s accepted a query that is not well formed: %v", r.Method, r.Path, err)}
	}
	for k, vs := range q {
		if len(vs) == 1 && vs[0] == "" {
			delete(q, k)
		}
	}
	target := "http://127.0.0.1:8080" + templatePath(r.Path)
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	req, err := http.NewRequest(method, target, bytes.NewReader(r.Body))
	if err != nil {
		return []string{err.Error()}
	}
	req.Header = r.Header.Clone()
	if !hasBody || strings.TrimSpace(base) != "application/json" {
		// Only JSON bodies are checked (a YAML catalog is parsed by its own rules).
		req.Body, req.ContentLength = http.NoBody, 0
		req.Header.Del("Content-Type")
	}
	if ok, errs := c.v.ValidateHttpRequestSync(req); !ok {
		return report(fmt.Sprintf("%s %s?%s was accepted, but the document does not allow it", r.Method, r.Path, r.RawQuery), r.Body, errs)
	}
	return nil
}

// recorder keeps a copy of what a handler writes (up to maxBody bytes).
type recorder struct {
	http.ResponseWriter
	status    int
	body      bytes.Buffer
	truncated bool
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if !r.truncated {
		if r.body.Len()+len(b) > maxBody {
			r.truncated = true
		} else {
			r.body.Write(b)
		}
	}
	return r.ResponseWriter.Write(b)
}

// Flush and Unwrap keep streaming and http.ResponseController working through the wrapper.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
