package httpapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantry/tenantry/domain"
)

// Idempotency-Key: the first POST with a key runs and its answer is remembered (24 hours)
// per tenant and caller; the same key with the same request replays that answer, with a
// different request answers 422, and while the first is still running answers 409. Answers
// of 5xx are not remembered, so the client may retry them. The store holds neither the key
// nor the answer in plaintext (see idemseal.go).

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
	secrets, err := deriveIdemSecrets(scope, principal, key)
	if err != nil {
		s.failErr(c, err)
		return
	}
	sum := secrets.requestMAC(cl.route.method, c.Request.URL.Path, cl.body)

	var claimed bool
	var stored struct {
		hash          []byte
		status        *int
		nonce, sealed []byte
	}
	err = s.inScope(c, scope, func(tx pgx.Tx) error {
		tag, err := tx.Exec(c, `INSERT INTO tenantry.idempotency_keys AS k (tenant_id, key_hash, request_hash)
			VALUES ($1, $2, $3)
			ON CONFLICT (tenant_id, key_hash) DO UPDATE
			SET request_hash = excluded.request_hash, status = NULL, nonce = NULL, sealed = NULL, created_at = now()
			WHERE k.created_at < now() - interval '`+idempotencyTTL+`'
			   OR (k.status IS NULL AND k.request_hash = excluded.request_hash AND k.created_at < now() - interval '`+inFlightTakeover+`')`,
			scope, secrets.lookup, sum)
		if err != nil {
			return fmt.Errorf("claim idempotency key: %w", err)
		}
		if tag.RowsAffected() == 1 {
			claimed = true
			return nil
		}
		err = tx.QueryRow(c, `SELECT request_hash, status, nonce, sealed FROM tenantry.idempotency_keys
			WHERE tenant_id = $1 AND key_hash = $2`, scope, secrets.lookup).
			Scan(&stored.hash, &stored.status, &stored.nonce, &stored.sealed)
		if err != nil {
			return fmt.Errorf("read remembered answer: %w", err)
		}
		return nil
	})
	if err != nil {
		s.failErr(c, err)
		return
	}
	if !claimed {
		switch {
		case !hmac.Equal(stored.hash, sum):
			fail(c, http.StatusUnprocessableEntity, "idempotency-key-reused",
				"this Idempotency-Key was used with a different request; use a new key for a new request")
		case stored.status == nil:
			c.Header("Retry-After", "1")
			fail(c, http.StatusConflict, "request-in-progress", "the first request with this Idempotency-Key is still being processed")
		default:
			ct, body, err := secrets.openAnswer(stored.nonce, stored.sealed)
			if err != nil {
				s.failErr(c, fmt.Errorf("replay idempotent answer: %w", err))
				return
			}
			if ct == "" {
				ct = "application/json"
			}
			c.Header("Idempotent-Replayed", "true")
			c.Data(*stored.status, ct, body)
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
			_, err := tx.Exec(ctx, `DELETE FROM tenantry.idempotency_keys WHERE tenant_id = $1 AND key_hash = $2`, scope, secrets.lookup)
			return err
		}
		nonce, sealed, err := secrets.sealAnswer(w.Header().Get("Content-Type"), w.buf.Bytes())
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE tenantry.idempotency_keys SET status = $3, nonce = $4, sealed = $5
			WHERE tenant_id = $1 AND key_hash = $2`, scope, secrets.lookup, status, nonce, sealed)
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
