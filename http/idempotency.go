package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Idempotency-Key: the first POST with a key runs and its answer is remembered (24 hours)
// per tenant and caller; the same key with the same request replays that answer, with a
// different request answers 422, and while the first is still running answers 409. Answers
// of 5xx are not remembered, so the client may retry them.

const (
	idempotencyTTL   = "24 hours"
	inFlightTakeover = "1 minute" // a claim this old belongs to a crashed request
)

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
	h := sha256.New()
	h.Write([]byte(cl.route.method + " " + c.Request.URL.Path + "\n"))
	h.Write(cl.body)
	sum := h.Sum(nil)

	var claimed bool
	var stored struct {
		hash        []byte
		status      *int
		contentType *string
		body        []byte
	}
	err := s.inScope(c, scope, func(tx pgx.Tx) error {
		tag, err := tx.Exec(c, `INSERT INTO tenantry.idempotency_keys AS k (tenant_id, principal, key, request_hash)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant_id, principal, key) DO UPDATE
			SET request_hash = excluded.request_hash, status = NULL, content_type = NULL, body = NULL, created_at = now()
			WHERE k.created_at < now() - interval '`+idempotencyTTL+`'
			   OR (k.status IS NULL AND k.request_hash = excluded.request_hash AND k.created_at < now() - interval '`+inFlightTakeover+`')`,
			scope, principal, key, sum)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			claimed = true
			return nil
		}
		return tx.QueryRow(c, `SELECT request_hash, status, content_type, body FROM tenantry.idempotency_keys
			WHERE tenant_id = $1 AND principal = $2 AND key = $3`, scope, principal, key).
			Scan(&stored.hash, &stored.status, &stored.contentType, &stored.body)
	})
	if err != nil {
		s.failErr(c, err)
		return
	}
	if !claimed {
		switch {
		case !bytes.Equal(stored.hash, sum):
			fail(c, http.StatusUnprocessableEntity, "idempotency-key-reused",
				"this Idempotency-Key was used with a different request; use a new key for a new request")
		case stored.status == nil:
			c.Header("Retry-After", "1")
			fail(c, http.StatusConflict, "request-in-progress", "the first request with this Idempotency-Key is still being processed")
		default:
			c.Header("Idempotent-Replayed", "true")
			ct := "application/json"
			if stored.contentType != nil {
				ct = *stored.contentType
			}
			c.Data(*stored.status, ct, stored.body)
		}
		return
	}

	w := &captureWriter{ResponseWriter: c.Writer}
	c.Writer = w
	handler(c, cl)
	status := w.Status()
	ctx := context.WithoutCancel(c.Request.Context())
	err = s.inScope(ctx, scope, func(tx pgx.Tx) error {
		if status >= 500 {
			_, err := tx.Exec(ctx, `DELETE FROM tenantry.idempotency_keys WHERE tenant_id = $1 AND principal = $2 AND key = $3`,
				scope, principal, key)
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE tenantry.idempotency_keys SET status = $4, content_type = $5, body = $6
			WHERE tenant_id = $1 AND principal = $2 AND key = $3`, scope, principal, key, status, w.Header().Get("Content-Type"), w.buf.Bytes())
		return err
	})
	if err != nil {
		s.logger(c).Error("could not remember the response to an idempotent request", "err", err)
	}
}

// inScope runs fn in a transaction whose tenant context is scope (uuid.Nil for requests
// outside any tenant).
func (s *Server) inScope(ctx context.Context, scope uuid.UUID, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('tenantry.tenant_id', $1, true)`, scope.String()); err != nil {
			return err
		}
		return fn(tx)
	})
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

// Execer is what the janitor needs of a pool.
type Execer interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}

// ExpireIdempotencyKeys removes remembered answers older than 24 hours, across tenants.
func ExpireIdempotencyKeys(ctx context.Context, pool Execer) error {
	_, err := pool.Exec(ctx, `SELECT tenantry.expire_idempotency_keys(interval '`+idempotencyTTL+`')`)
	return err
}

// ForgetIdempotencyKeys runs ExpireIdempotencyKeys every interval until ctx ends.
func ForgetIdempotencyKeys(ctx context.Context, pool Execer, interval time.Duration, log *slog.Logger) error {
	for {
		if err := ExpireIdempotencyKeys(ctx, pool); err != nil && ctx.Err() == nil {
			log.Warn("could not expire idempotency keys", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}
