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

// HeadSignerConfig is what a HeadSigner needs; NewHeadSigner defaults and checks it once.
type HeadSignerConfig struct {
	Store *eventstore.Store
	// Signer signs the heads; nil makes Run return at once (heads stay unsigned).
	Signer *auditlog.Signer
	// Tenants calls fn with the id of every tenant in the directory (cmd wires it: the
	// directory is read above this package).
	Tenants  func(ctx context.Context, fn func(tenant uuid.UUID) error) error
	Interval time.Duration
	// Logger reports failed rounds; nil discards them.
	Logger *slog.Logger
	// Now is the clock heads are signed by; nil is time.Now.
	Now func() time.Time
	// Claim, when set, makes the rounds run once per interval across replicas.
	Claim func(ctx context.Context, job string, period time.Time) (finish func(), ok bool, err error)
}

// HeadSigner signs, every Interval, the head of each tenant whose head moved since its last
// signed head, so that heads are published even when nobody exports.
type HeadSigner struct {
	cfg            HeadSignerConfig
	runs, failures atomic.Int64
}

// NewHeadSigner returns a signer of cfg, or says which setting is missing.
func NewHeadSigner(cfg HeadSignerConfig) (*HeadSigner, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("head signer: Store is not set")
	case cfg.Tenants == nil:
		return nil, errors.New("head signer: Tenants is not set")
	case cfg.Interval <= 0:
		return nil, fmt.Errorf("head signer: Interval %v is not positive", cfg.Interval)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &HeadSigner{cfg: cfg}, nil
}

// Stats returns how many signing rounds ran and how many failed.
func (s *HeadSigner) Stats() (runs, failures int64) { return s.runs.Load(), s.failures.Load() }

// Run signs at start and every Interval until ctx ends.
func (s *HeadSigner) Run(ctx context.Context) error {
	if s.cfg.Signer == nil {
		return nil
	}
	every := s.cfg.Interval
	if s.cfg.Claim != nil && every > time.Minute {
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
	if s.cfg.Claim != nil {
		finish, ok, err := s.cfg.Claim(ctx, "sign_heads", time.Now().Truncate(s.cfg.Interval))
		if err != nil || !ok {
			return // another replica signs this period (or the claim failed: next period)
		}
		defer finish()
	}
	s.runs.Add(1)
	if n, err := s.Once(ctx); err != nil && ctx.Err() == nil {
		s.failures.Add(1)
		s.cfg.Logger.Error("signing tenant heads failed", "err", err, "signed", n)
	}
}

// Once signs every tenant head that moved; it returns how many it signed.
func (s *HeadSigner) Once(ctx context.Context) (int, error) {
	signed := 0
	err := s.cfg.Tenants(ctx, func(tenant uuid.UUID) error {
		seq, _, err := s.cfg.Store.Head(ctx, tenant)
		if err != nil {
			return fmt.Errorf("tenant %s: %w", tenant, err)
		}
		last, ok, err := s.cfg.Store.LatestSignedHead(ctx, tenant)
		if err != nil {
			return fmt.Errorf("tenant %s: %w", tenant, err)
		}
		if ok && last.Seq == seq {
			return nil
		}
		if _, err := SignHead(ctx, s.cfg.Store, s.cfg.Signer, tenant, s.cfg.Now()); err != nil {
			return fmt.Errorf("tenant %s: %w", tenant, err)
		}
		signed++
		return nil
	})
	return signed, err
}
