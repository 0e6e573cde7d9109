package httpapi

import (
	"io"
	"mime"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// handle runs a route's pipeline: authenticate, resolve the tenant, authorise, limit the
// rate, read the body, honour Idempotency-Key, then the handler.
func (s *Server) handle(rt route) gin.HandlerFunc {
	name := rt.method + " " + rt.path // the route's metrics label and log field
	return func(c *gin.Context) {
		st := requestState(c)
		st.route = name
		cl := &call{route: &rt, actor: "anonymous"}
		if !s.authorize(c, cl) {
			return
		}
		if cl.tenant != uuid.Nil {
			st.setTenant(cl.tenantString())
		}
		if !s.limits.allow(c, cl, s.metrics) {
			return
		}
		if !checkQuery(c, rt) {
			return
		}
		if cl.tenant != uuid.Nil {
			slot, ok := s.fair.acquire(c.Request.Context(), cl.tenant)
			if !ok {
				return // the client went away while its tenant's earlier requests were worked on
			}
			cl.slot.Store(slot)
			defer cl.yield()
		}
		if writeVerb[c.Request.Method] && rt.access != stripe {
			if !readJSONBody(c, cl) {
				return
			}
		}
		if c.Request.Method == http.MethodPost && rt.takesIdempotencyKey() && c.GetHeader("Idempotency-Key") != "" {
			s.idempotent(c, cl, rt.handler)
			return
		}
		rt.handler(c, cl)
	}
}

// authorize decides whether the caller may call the route, and for tenant routes which
// tenant the request is about.
func (s *Server) authorize(c *gin.Context, cl *call) bool {
	rt := cl.route
	token := bearer(c)
	switch rt.access {
	case public, stripe:
		return true
	case operator:
		if token == "" {
			fail(c, http.StatusUnauthorized, "unauthenticated", "this route needs the operator token as a bearer credential")
			return false
		}
		if !s.admitCredential(c, secretSum(token)) {
			return false
		}
		if !s.isOperator(token) {
			s.refuseCredential(c, "the bearer credential is not the operator token")
			return false
		}
		cl.actor = "operator"
		return true
	case signup:
		if token != "" {
			if !s.admitCredential(c, secretSum(token)) {
				return false
			}
			if !s.isOperator(token) {
				s.refuseCredential(c, "the bearer credential is not the operator token")
				return false
			}
			cl.actor = "operator"
			return true
		}
		if !s.d.OpenSignup {
			fail(c, http.StatusUnauthorized, "unauthenticated", "creating tenants needs the operator token (signup is not open)")
			return false
		}
		return true
	case service:
		// The service token is checked by the handler (introspect), which needs the body to
		// admit a client that spent its failure budget.
		return true
	case invitee:
		// The invitation token in the body is the credential; the handler checks it and
		// that it belongs to the tenant the request names, if any.
		return true
	case member:
		if token == "" {
			fail(c, http.StatusUnauthorized, "unauthenticated", "this route needs a tenant API key as a bearer credential")
			return false
		}
		sum := secretSum(token)         // once, for the failure budget and the key's lookup
		if !s.admitCredential(c, sum) { // before the operator check too: no guessing it here
			return false
		}
		if s.isOperator(token) {
			fail(c, http.StatusForbidden, "forbidden", "the operator token does not act inside tenants; use an API key of the tenant")
			return false
		}
		if !s.authenticateKey(c, token, sum, cl) {
			return false
		}
		named, ok := s.explicitTenant(c)
		if !ok {
			return false
		}
		if named != uuid.Nil && named != cl.tenant {
			// Never tell a key holder that another tenant exists.
			fail(c, http.StatusNotFound, "not-found", "tenant not found")
			return false
		}
		if !s.checkStatus(c, cl) {
			return false
		}
		if !rt.allows(cl.role) {
			fail(c, http.StatusForbidden, "forbidden", "the "+cl.role.String()+" role may not call "+rt.method+" "+rt.path)
			return false
		}
		return true
	}
	fail(c, http.StatusInternalServerError, "internal", "route has no access rule")
	return false
}

// checkStatus refuses requests a tenant's status does not allow: everything once closed
// (410), and writes other than billing while suspended (403 tenant-suspended).
func (s *Server) checkStatus(c *gin.Context, cl *call) bool {
	switch cl.status {
	case "closed":
		fail(c, http.StatusGone, "tenant-closed", "the tenant is closed")
		return false
	case "suspended":
		if writeVerb[c.Request.Method] && !cl.route.billing && !cl.route.readOnly {
			fail(c, http.StatusForbidden, "tenant-suspended", "the tenant is suspended: reads and billing still work, other writes do not")
			return false
		}
	}
	return true
}

// readJSONBody reads a write's body (at most MaxBody) and checks its media type.
func readJSONBody(c *gin.Context, cl *call) bool {
	body, err := readBody(c.Request)
	switch {
	case isTooLarge(err):
		tooLarge(c, true)
		return false
	case err != nil:
		fail(c, http.StatusBadRequest, "invalid-request", "could not read the request body")
		return false
	}
	if len(body) > 0 {
		ct := c.GetHeader("Content-Type")
		if ct == "application/json" { // what nearly every client sends, without parsing it
			cl.body = body
			return true
		}
		mt, _, perr := mime.ParseMediaType(ct)
		if ct != "" && (perr != nil || (mt != "application/json" && mt != "application/merge-patch+json")) {
			fail(c, http.StatusUnsupportedMediaType, "unsupported-media-type", "send the body as application/json")
			return false
		}
	}
	cl.body = body
	return true
}

// maxSizedRead is the largest stated body length readBody allocates for before the body
// arrives: a client that states a length and sends nothing costs no more than this.
const maxSizedRead = 64 << 10

// readBody reads r's body (limited by limitBody's MaxBytesReader). A body that states a
// length up to maxSizedRead is read into a buffer of that size (one more byte to see its
// end), rather than io.ReadAll's growing from 512 bytes: most bodies are small.
func readBody(r *http.Request) ([]byte, error) {
	n := r.ContentLength
	if n < 0 || n > maxSizedRead {
		return io.ReadAll(r.Body)
	}
	buf := make([]byte, n+1)
	m, err := io.ReadFull(r.Body, buf)
	switch err {
	case io.EOF, io.ErrUnexpectedEOF: // the body ended: at its stated length, or short of it
		if int64(m) < n {
			return buf[:m], io.ErrUnexpectedEOF
		}
		return buf[:m], nil
	case nil: // longer than it stated (net/http does not let that through)
		rest, err := io.ReadAll(r.Body)
		return append(buf, rest...), err
	}
	return buf[:m], err
}
