package eventstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantry/tenantry/domain/auditlog"
)

// Signed heads (AUDIT.md, "Heads"): every head Tenantry signed, kept so that an auditor can
// be shown that a later history extends one published earlier.

const recordSignedHeadSQL = `INSERT INTO tenantry.signed_heads (tenant_id, seq, hash, signed_at, key_id, signature)
	VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`

const latestSignedHeadSQL = `SELECT seq, hash, signed_at, key_id, signature FROM tenantry.signed_heads
	WHERE tenant_id = $1 ORDER BY signed_at DESC, seq DESC LIMIT 1`

// RecordSignedHead keeps a signed head in tenantry.signed_heads (a head kept already is
// left as it is).
func (s *Store) RecordSignedHead(ctx context.Context, h auditlog.Head) error {
	hash, _ := hex.DecodeString(h.Hash)
	sig, _ := hex.DecodeString(h.Signature)
	err := s.InTenant(ctx, h.TenantID, false, func(tx *Tx) error {
		_, err := tx.tx.Exec(ctx, recordSignedHeadSQL, h.TenantID, h.Seq, hash, h.SignedAt, h.KeyID, sig)
		return err
	})
	if err != nil {
		return fmt.Errorf("signed heads of tenant %s, seq %d: %w", h.TenantID, h.Seq, err)
	}
	return nil
}

// LatestSignedHead returns the newest head signed for the tenant, if any.
func (s *Store) LatestSignedHead(ctx context.Context, tenant uuid.UUID) (auditlog.Head, bool, error) {
	var h auditlog.Head
	var hash, sig []byte
	found := false
	err := s.InTenant(ctx, tenant, true, func(tx *Tx) error {
		err := tx.tx.QueryRow(ctx, latestSignedHeadSQL, tenant).Scan(&h.Seq, &hash, &h.SignedAt, &h.KeyID, &sig)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	})
	if err != nil {
		return auditlog.Head{}, false, fmt.Errorf("signed heads of tenant %s: %w", tenant, err)
	}
	if !found {
		return auditlog.Head{}, false, nil
	}
	h.TenantID, h.Hash, h.Signature, h.SignedAt = tenant, hex.EncodeToString(hash), hex.EncodeToString(sig), h.SignedAt.UTC()
	return h, true, nil
}
