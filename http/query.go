package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/gin-gonic/gin"
)

// checkQuery refuses a query string the route does not declare, as decode refuses unknown
// body fields: a misspelt parameter (?limt=10) answers 400 naming it instead of being
// ignored. The known parameters are the route's documented ones (op.query), so the
// OpenAPI document and this check read one declaration. It answers itself and reports
// false when the query is refused.
func checkQuery(c *gin.Context, rt route) bool {
	raw := c.Request.URL.RawQuery
	if raw == "" {
		return true
	}
	values, err := url.ParseQuery(raw)
	if err != nil {
		fail(c, http.StatusBadRequest, "invalid-request", "the query string is not valid URL encoding",
			FieldError{Field: "query", Message: "is not valid URL encoding"})
		return false
	}
	var errs fieldErrors
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	slices.Sort(names)
	omitted := 0
	for _, name := range names {
		if slices.ContainsFunc(rt.doc.query, func(p param) bool { return p.name == name }) {
			continue
		}
		if len(errs) == MaxFieldErrors {
			omitted++
			continue
		}
		errs = append(errs, FieldError{Field: clipName(name), Message: "is not a query parameter of this route"})
	}
	if len(errs) == 0 {
		return true
	}
	if omitted > 0 {
		errs = append(errs, FieldError{Field: "query", Message: fmt.Sprintf("%d more unknown parameters are not listed", omitted)})
	}
	known := make([]string, len(rt.doc.query))
	for i, p := range rt.doc.query {
		known[i] = p.name
	}
	detail := "this route takes no query parameters"
	if len(known) > 0 {
		detail = fmt.Sprintf("unknown query parameters; this route takes %v", known)
	}
	fail(c, http.StatusBadRequest, "invalid-request", detail, errs...)
	return false
}

// clipName shortens a client-chosen name before it is echoed in a problem.
func clipName(s string) string {
	const limit = 40
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}
