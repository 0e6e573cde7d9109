package eventstore

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The store behind the API's Idempotency-Key: one row per tenant (scope) and key lookup id,
// claimed by the first request, then holding its sealed answer for 24 hours. The rows hold
// only derived values (http/idemseal.go); this file only stores them.

const (
	idempotencyTTL   = "24 hours"
	inFlightTakeover = "1 minute" // a claim this old belongs to a crashed request

	claimIdempotencyKeySQL = `INSERT INTO tenantry.idempotency_keys AS k (tenant_id, key_hash, request_hash)
		VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id, key_hash) DO UPDATE
		SET request_hash = excluded.request_hash, status = NULL, nonce = NULL, sealed = NULL, created_at = now()
		WHERE k.created_at < now() - interval '` + idempotencyTTL + `'
		   OR (k.status IS NULL AND k.request_hash = excluded.request_hash AND k.created_at < now() - interval '` + inFlightTakeover + `')`
	readIdempotencyKeySQL = `SELECT request_hash, status, nonce, sealed FROM tenantry.idempotency_keys
		WHERE tenant_id = $1 AND key_hash = $2`
	rememberAnswerSQL = `UPDATE tenantry.idempotency_keys SET status = $3, nonce = $4, sealed = $5
		WHERE tenant_id = $1 AND key_hash = $2`
	dropIdempotencyKeySQL    = `DELETE FROM tenantry.idempotency_keys WHERE tenant_id = $1 AND key_hash = $2`
	expireIdempotencyKeysSQL = `SELECT tenantry.expire_idempotency_keys(interval '` + idempotencyTTL + `')`
)

// IdempotencyRecord is what an earlier request left under a key: its fingerprint and,
// once it answered, its status and sealed answer (Status nil: still running).
type IdempotencyRecord struct {
	RequestHash []byte
	Status      *int
	Nonce       []byte
	Sealed      []byte
}

// ClaimIdempotencyKey claims key lookup id for a request with fingerprint requestHash in
// scope (a tenant, or uuid.Nil). A key is free when unknown, expired, or held by a claim of
// the same request older than a minute (its request crashed). When it is not free,
// claimed is false and rec is what holds it.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, scope uuid.UUID, lookup, requestHash []byte) (claimed bool, rec IdempotencyRecord, err error) {
	err = s.inSharedScope(ctx, scope, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, claimIdempotencyKeySQL, scope, lookup, requestHash)
		if err != nil {
			return fmt.Errorf("claim idempotency key: %w", err)
		}
		if tag.RowsAffected() == 1 {
			claimed = true
			return nil
		}
		err = tx.QueryRow(ctx, readIdempotencyKeySQL, scope, lookup).Scan(&rec.RequestHash, &rec.Status, &rec.Nonce, &rec.Sealed)
		if err != nil {
			return fmt.Errorf("read remembered answer: %w", err)
		}
		return nil
	})
	return claimed, rec, err
}

// RememberIdempotentAnswer stores the sealed answer of the request that claimed the key.
func (s *Store) RememberIdempotentAnswer(ctx context.Context, scope uuid.UUID, lookup []byte, status int, nonce, sealed []byte) error {
	return s.inSharedScope(ctx, scope, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, rememberAnswerSQL, scope, lookup, status, nonce, sealed)
		return err
	})
}

// ReleaseIdempotencyKey drops a claim whose request failed on the server's side, so the
// client may retry with the same key.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, scope uuid.UUID, lookup []byte) error {
	return s.inSharedScope(ctx, scope, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, dropIdempotencyKeySQL, scope, lookup)
		return err
	})
}

// ExpireIdempotencyKeys removes remembered answers older than 24 hours, across tenants.
func (s *Store) ExpireIdempotencyKeys(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, expireIdempotencyKeysSQL)
	return err
}

// ForgetIdempotencyKeys runs ExpireIdempotencyKeys every interval until ctx ends.
func (s *Store) ForgetIdempotencyKeys(ctx context.Context, interval time.Duration, log *slog.Logger) error {
	for {
		if err := s.ExpireIdempotencyKeys(ctx); err != nil && ctx.Err() == nil {
			log.Warn("could not expire idempotency keys", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}
