package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/eventstore"
)

// ErrRebuildStopped means the rebuild met an event it cannot apply; the live model is untouched.
var ErrRebuildStopped = errors.New("rebuild stopped on an event that cannot be applied")

// Rebuild replays a tenant's whole stream into a fresh shadow schema, then, in one
// transaction that holds the tenant's projection lock, applies whatever arrived meanwhile
// and swaps the shadow in. Readers see the old model until that commit and the new one
// after it, never a half-built one. progress, when set, is told the seq reached and the
// stream's length as known at the start.
//
// The replay applies every projection's share of each event (Tenantry's read models and
// every module projection's tables, which the tenant migrations create in the shadow too),
// and the swap sets every projection's checkpoint (Names), clearing their failures.
func (p *Projector) Rebuild(ctx context.Context, tenant uuid.UUID, progress func(done, total int64)) error {
	if err := p.catalog().err; err != nil {
		return err
	}
	shadow, head, err := p.Store.StartRebuild(ctx, tenant)
	if err != nil {
		return fmt.Errorf("start rebuild of tenant %s: %w", tenant, err)
	}

	// Replay in batches while the live model keeps serving and updating; after batches cut
	// at BatchBytes, fewer events are asked for (see pages.go).
	var seq int64
	page := eventstore.PageLimit{Max: p.batchSize()}
	for {
		var applied int
		var cut bool
		limit := page.Limit()
		err := p.Store.InShadow(ctx, tenant, shadow, func(tx *eventstore.ProjectionTx) error {
			var err error
			applied, seq, cut, err = p.applyEvents(ctx, tx, "", seq, limit, nil, nil)
			return err
		})
		if err != nil {
			return p.rebuildError(tenant, err)
		}
		if progress != nil {
			progress(seq, max(head, seq))
		}
		page.Saw(applied, cut)
		if applied < limit && !cut {
			break
		}
	}

	// Catch up and swap, holding the locks of every projection of the tenant so the live
	// projector waits (auth first, then usage: the order projectGroup's blocking locks can
	// never invert, as it only tries the auth lock; then the modules' in name order, which
	// live transactions take one at a time).
	err = p.Store.InProjection(ctx, tenant, func(tx *eventstore.ProjectionTx) error {
		for _, name := range p.lockOrder() {
			if _, _, _, err := tx.Lock(ctx, name, ""); err != nil {
				return err
			}
		}
		if err := tx.UseShadow(ctx, shadow); err != nil {
			return err
		}
		for {
			limit := page.Limit()
			applied, next, cut, err := p.applyEvents(ctx, tx, "", seq, limit, nil, nil)
			if err != nil {
				return err
			}
			seq = next
			page.Saw(applied, cut)
			if applied < limit && !cut {
				break
			}
		}
		return tx.SwapRebuild(ctx, seq, p.catalog().rebuilt())
	})
	if err != nil {
		return p.rebuildError(tenant, err)
	}
	// The replaced model goes once its last readers are done: the drop gives way to them
	// and is retried, and a leftover is dropped by the next rebuild.
	for attempt := 0; ; attempt++ {
		err := p.Store.CleanupRebuild(ctx, tenant)
		if err == nil {
			break
		}
		if attempt == 50 || ctx.Err() != nil {
			p.Logger.Warn("rebuild: the replaced schema is still in use; the next rebuild drops it", "tenant_id", tenant, "err", err)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if progress != nil {
		progress(seq, max(head, seq))
	}
	return nil
}

// lockOrder is the order a rebuild takes the projections' locks of a tenant: auth, usage,
// then the module projections sorted by name (the same in every process of a binary).
func (p *Projector) lockOrder() []string {
	mods := make([]string, 0, len(p.catalog().modules))
	for _, m := range p.catalog().modules {
		if m.raw == nil {
			mods = append(mods, m.name)
		}
	}
	slices.Sort(mods)
	return append([]string{ProjectionAuth, ProjectionUsage}, mods...)
}

func (p *Projector) rebuildError(tenant uuid.UUID, err error) error {
	var poison *poisonError
	if errors.As(err, &poison) {
		return fmt.Errorf("rebuild tenant %s: %w: %v", tenant, ErrRebuildStopped, poison)
	}
	return fmt.Errorf("rebuild tenant %s: %w", tenant, err)
}

func (p *Projector) batchSize() int { return orDefault(p.BatchSize, 500) }

// RebuildAll rebuilds every tenant that has a schema, one after another, and returns the
// tenants that failed (the others are rebuilt).
func (p *Projector) RebuildAll(ctx context.Context, progress func(tenant uuid.UUID, i, n int)) (map[uuid.UUID]error, error) {
	ids, err := p.Store.TenantSchemas(ctx)
	if err != nil {
		return nil, err
	}
	failed := map[uuid.UUID]error{}
	for i, id := range ids {
		if progress != nil {
			progress(id, i+1, len(ids))
		}
		if err := p.Rebuild(ctx, id, nil); err != nil {
			if ctx.Err() != nil {
				return failed, ctx.Err()
			}
			failed[id] = err
		}
	}
	return failed, nil
}
