package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain/auditlog"
	"github.com/tenantry/tenantry/eventstore"
)

// SignHead signs the tenant's current head and records it in tenantry.signed_heads.
func SignHead(ctx context.Context, store *eventstore.Store, signer *auditlog.Signer, tenant uuid.UUID, now time.Time) (Head, error) {
	if signer == nil {
		return Head{}, errors.New("no signing key: set TENANTRY_AUDIT_SIGNING_KEY")
	}
	seq, hash, err := store.Head(ctx, tenant)
	if err != nil {
		return Head{}, err
	}
	h := signer.Sign(tenant, seq, hash, now)
	return h, store.RecordSignedHead(ctx, h)
}

// HeadSigner signs, every Interval, the head of each tenant whose head moved since its last
// signed head, so that heads are published even when nobody exports.
type HeadSigner struct {
	Store  *eventstore.Store
	Signer *auditlog.Signer
	// Tenants calls fn with the id of every tenant in the directory (cmd wires it).
	Tenants  func(ctx context.Context, fn func(tenant uuid.UUID) error) error
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
	if s.Tenants == nil {
		return 0, errors.New("head signer: Tenants is not set")
	}
	signed := 0
	err := s.Tenants(ctx, func(tenant uuid.UUID) error {
		seq, _, err := s.Store.Head(ctx, tenant)
		if err != nil {
			return fmt.Errorf("tenant %s: %w", tenant, err)
		}
		last, ok, err := s.Store.LatestSignedHead(ctx, tenant)
		if err != nil {
			return fmt.Errorf("tenant %s: %w", tenant, err)
		}
		if ok && last.Seq == seq {
			return nil
		}
		if _, err := SignHead(ctx, s.Store, s.Signer, tenant, now()); err != nil {
			return fmt.Errorf("tenant %s: %w", tenant, err)
		}
		signed++
		return nil
	})
	return signed, err
}
