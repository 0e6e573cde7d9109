package audit

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantry/tenantry/eventstore"
)

// SignHead signs the tenant's current head and records it in tenantry.signed_heads.
func SignHead(ctx context.Context, store *eventstore.Store, signer *Signer, tenant uuid.UUID, now time.Time) (Head, error) {
	if signer == nil {
		return Head{}, errors.New("no signing key: set TENANTRY_AUDIT_SIGNING_KEY")
	}
	seq, hash, err := store.Head(ctx, tenant)
	if err != nil {
		return Head{}, err
	}
	h := signer.Sign(tenant, seq, hash, now)
	return h, Record(ctx, store, h)
}

// Record keeps a signed head in tenantry.signed_heads.
func Record(ctx context.Context, store *eventstore.Store, h Head) error {
	hash, _ := hex.DecodeString(h.Hash)
	sig, _ := hex.DecodeString(h.Signature)
	return eventstore.InTenant(ctx, store.Pool(), h.TenantID, false, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO tenantry.signed_heads (tenant_id, seq, hash, signed_at, key_id, signature)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, h.TenantID, h.Seq, hash, h.SignedAt, h.KeyID, sig)
		return err
	})
}

// signedHeadAt is the head of tenant at (seq, hash) for an export: unsigned without a
// signer; else the newest recorded head if it is that very head under the same key, so
// that exporting an unmoved history again and again (every last page of GET
// /v1/audit/events) records nothing; else a fresh one, signed now and recorded. Only
// exports racing each other on a new seq can record more than one head for it.
func signedHeadAt(ctx context.Context, store *eventstore.Store, signer *Signer, tenant uuid.UUID, seq int64, hash [32]byte, now func() time.Time) (Head, error) {
	if signer == nil {
		return signer.Sign(tenant, seq, hash, now()), nil
	}
	last, ok, err := LatestSignedHead(ctx, store, tenant)
	if err != nil {
		return Head{}, fmt.Errorf("read the latest signed head: %w", err)
	}
	if ok && last.Seq == seq && last.Hash == hex.EncodeToString(hash[:]) && last.KeyID == KeyID(signer.PublicKey()) {
		return last, nil
	}
	h := signer.Sign(tenant, seq, hash, now())
	if err := Record(ctx, store, h); err != nil {
		return Head{}, fmt.Errorf("record the signed head: %w", err)
	}
	return h, nil
}

// LatestSignedHead returns the newest head signed for the tenant, if any.
func LatestSignedHead(ctx context.Context, store *eventstore.Store, tenant uuid.UUID) (Head, bool, error) {
	var h Head
	var hash, sig []byte
	found := false
	err := eventstore.InTenant(ctx, store.Pool(), tenant, true, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT seq, hash, signed_at, key_id, signature FROM tenantry.signed_heads
			WHERE tenant_id = $1 ORDER BY signed_at DESC, seq DESC LIMIT 1`, tenant).Scan(&h.Seq, &hash, &h.SignedAt, &h.KeyID, &sig)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	})
	if err != nil || !found {
		return Head{}, false, err
	}
	h.TenantID, h.Hash, h.Signature, h.SignedAt = tenant, hex.EncodeToString(hash), hex.EncodeToString(sig), h.SignedAt.UTC()
	return h, true, nil
}

// HeadSigner signs, every Interval, the head of each tenant whose head moved since its last
// signed head, so that heads are published even when nobody exports.
type HeadSigner struct {
	Store    *eventstore.Store
	Signer   *Signer
	Interval time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
	// Claim, when set, makes the rounds run once per interval across replicas.
	Claim func(ctx context.Context, job string, period time.Time) (finish func(), ok bool, err error)

	runs, failures atomic.Int64
}

// Stats returns how many signing rounds ran and how many failed.
func (s *HeadSigner) Stats() (runs, failures int64) { return s.runs.Load(), s.failures.Load() }

// Run signs at start and every Interval until ctx ends.
func (s *HeadSigner) Run(ctx context.Context) error {
	if s.Signer == nil {
		return nil
	}
	every := s.Interval
	if s.Claim != nil && every > time.Minute {
		every = time.Minute // a period whose claimant died is taken over soon after its lease
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.round(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *HeadSigner) round(ctx context.Context) {
	if s.Claim != nil {
		finish, ok, err := s.Claim(ctx, "sign_heads", time.Now().Truncate(s.Interval))
		if err != nil || !ok {
			return // another replica signs this period (or the claim failed: next period)
		}
		defer finish()
	}
	s.runs.Add(1)
	if n, err := s.Once(ctx); err != nil && ctx.Err() == nil {
		s.failures.Add(1)
		s.Logger.Error("signing tenant heads failed", "err", err, "signed", n)
	}
}

// Once signs every tenant head that moved; it returns how many it signed.
func (s *HeadSigner) Once(ctx context.Context) (int, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	signed := 0
	err := s.Store.EachTenant(ctx, func(t eventstore.TenantEntry) error {
		seq, _, err := s.Store.Head(ctx, t.ID)
		if err != nil {
			return fmt.Errorf("tenant %s: %w", t.ID, err)
		}
		last, ok, err := LatestSignedHead(ctx, s.Store, t.ID)
		if err != nil {
			return fmt.Errorf("tenant %s: %w", t.ID, err)
		}
		if ok && last.Seq == seq {
			return nil
		}
		if _, err := SignHead(ctx, s.Store, s.Signer, t.ID, now()); err != nil {
			return fmt.Errorf("tenant %s: %w", t.ID, err)
		}
		signed++
		return nil
	})
	return signed, err
}
