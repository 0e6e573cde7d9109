package httpapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
)

// Idempotency-Key: the first POST with a key runs and its answer is remembered (24 hours)
// per tenant and caller; the same key with the same request replays that answer, with a
// different request answers 422, and while the first is still running answers 409. Answers
// of 5xx are not remembered, so the client may retry them. The store holds neither the key
// nor the answer in plaintext (see idemseal.go).

func validIdempotencyKey(k string) bool {
	if len(k) == 0 || len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

func (s *Server) idempotent(c *gin.Context, cl *call, handler func(*gin.Context, *call)) {
	key := c.GetHeader("Idempotency-Key")
	if !validIdempotencyKey(key) {
		fail(c, http.StatusBadRequest, "invalid-request", "Idempotency-Key must be 1 to 255 visible ASCII characters",
			FieldError{Field: "Idempotency-Key", Message: "1 to 255 visible ASCII characters"})
		return
	}
	scope, principal := cl.tenant, cl.actor
	if principal == "anonymous" {
		principal = "anonymous:" + c.ClientIP()
	}
	secrets, err := deriveIdemSecrets(scope, principal, key)
	if err != nil {
		s.failErr(c, err)
		return
	}
	sum := secrets.requestMAC(cl.route.method, c.Request.URL.Path, cl.body)

	claimed, stored, err := s.d.Store.ClaimIdempotencyKey(c, scope, secrets.lookup, sum)
	if err != nil {
		s.failErr(c, err)
		return
	}
	if !claimed {
		switch {
		case !hmac.Equal(stored.RequestHash, sum):
			fail(c, http.StatusUnprocessableEntity, "idempotency-key-reused",
				"this Idempotency-Key was used with a different request; use a new key for a new request")
		case stored.Status == nil:
			c.Header("Retry-After", "1")
			fail(c, http.StatusConflict, "request-in-progress", "the first request with this Idempotency-Key is still being processed")
		default:
			ct, body, err := secrets.openAnswer(stored.Nonce, stored.Sealed)
			if err != nil {
				s.failErr(c, fmt.Errorf("replay idempotent answer: %w", err))
				return
			}
			if ct == "" {
				ct = "application/json"
			}
			c.Header("Idempotent-Replayed", "true")
			c.Data(*stored.Status, ct, body)
		}
		return
	}

	w := &captureWriter{ResponseWriter: c.Writer}
	c.Writer = w
	handler(c, cl)
	status := w.Status()
	ctx := context.WithoutCancel(c.Request.Context())
	if err := s.remember(ctx, scope, secrets, status, w); err != nil {
		s.logger(c).Error("could not remember the response to an idempotent request", "err", err)
	}
}

// remember stores the answer of the request that claimed the key, sealed; a 5xx answer
// releases the key instead, so the client may retry it.
func (s *Server) remember(ctx context.Context, scope uuid.UUID, secrets idemSecrets, status int, w *captureWriter) error {
	if status >= 500 {
		return s.d.Store.ReleaseIdempotencyKey(ctx, scope, secrets.lookup)
	}
	nonce, sealed, err := secrets.sealAnswer(w.Header().Get("Content-Type"), w.buf.Bytes())
	if err != nil {
		return err
	}
	return s.d.Store.RememberIdempotentAnswer(ctx, scope, secrets.lookup, status, nonce, sealed)
}

// captureWriter keeps a copy of the response body.
type captureWriter struct {
	gin.ResponseWriter
	buf bytes.Buffer
}

func (w *captureWriter) Write(b []byte) (int, error) {
	w.buf.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *captureWriter) WriteString(s string) (int, error) {
	w.buf.WriteString(s)
	return w.ResponseWriter.WriteString(s)
}

// mintNamespace versions the derivation of ids minted under an Idempotency-Key.
const mintNamespace = "tenantry/idempotent-mint/v1"

// mintID is the id of the secret-bearing object a POST creates (an API key, an invitation).
// Under an Idempotency-Key it is derived from the tenant, the caller, what is minted and the
// key, so a request run again after its first answer was lost (the process died between the
// append and storing the answer) meets the first run's object instead of minting a second
// one: the domain refuses an id already in use with 409. Without the header it is fresh.
func mintID(c *gin.Context, cl *call, what string) uuid.UUID {
	if k := c.GetHeader("Idempotency-Key"); validIdempotencyKey(k) {
		return domain.DeriveID(mintNamespace, cl.tenant, what+"\x00"+cl.actor+"\x00"+k)
	}
	return uuid.Must(uuid.NewV7())
}
