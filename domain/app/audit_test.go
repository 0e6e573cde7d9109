package app_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/auditlog"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/eventstore/audit"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// auditFixture is one fresh tenant in the package's database, written through the use
// cases' event store port.
type auditFixture struct {
	t      *testing.T
	store  *eventstore.Store
	domain eventstore.DomainStore
	id     uuid.UUID
}

func newAuditFixture(t *testing.T) *auditFixture {
	t.Helper()
	reg := catalogRegistry(t)
	store := eventstore.New(pgtest.Pool(t, testDB.AppURL, 4))
	f := &auditFixture{t: t, store: store, domain: eventstore.DomainStore{Store: store, Registry: reg}, id: uuid.Must(uuid.NewV7())}
	slug, err := domain.ParseSlug("app-" + f.id.String()[24:])
	require.NoError(t, err)
	events, err := tenant.Create(f.id, "Replayed", slug, domain.PlanPro, time.Now())
	require.NoError(t, err)
	f.append(tenant.StreamID, events...)
	return f
}

func (f *auditFixture) append(stream string, events ...domain.Event) {
	f.t.Helper()
	pending := make([]domain.Pending, len(events))
	for i, e := range events {
		pending[i].Event = e
	}
	_, err := f.domain.Append(context.Background(), f.id, stream, domain.Any, domain.Metadata{Actor: "test"}, pending...)
	require.NoError(f.t, err)
}

func (f *auditFixture) usage(quantities ...int64) {
	f.t.Helper()
	m, err := usage.ParseMetric("api_calls")
	require.NoError(f.t, err)
	for _, n := range quantities {
		q, err := usage.NewQuantity(n)
		require.NoError(f.t, err)
		k, err := usage.ParseIdempotencyKey(uuid.NewString())
		require.NoError(f.t, err)
		f.append(usage.StreamID, usage.Recorded{Metric: m, Quantity: q, OccurredAt: time.Now().UTC(), IdempotencyKey: k})
	}
}

func (f *auditFixture) changePlan(plan domain.PlanName) {
	f.t.Helper()
	t, _, err := app.Load(context.Background(), f.domain, f.id, tenant.StreamID, func() *tenant.Tenant { return &tenant.Tenant{} })
	require.NoError(f.t, err)
	events, err := t.ChangePlan(plan, time.Now())
	require.NoError(f.t, err)
	f.append(tenant.StreamID, events...)
}

// recordedAt is when the event at seq was stored (the database's clock, which replay goes by).
func (f *auditFixture) recordedAt(seq int64) time.Time {
	f.t.Helper()
	page, err := f.store.ReadTenant(context.Background(), f.id, seq-1, 1)
	require.NoError(f.t, err)
	require.Len(f.t, page, 1)
	return page[0].RecordedAt
}

// tamper rewrites stored events as a superuser with the immutability trigger off, as an
// attacker with database access would.
func (f *auditFixture) tamper(sql string) {
	f.t.Helper()
	err := pgx.BeginFunc(context.Background(), pgtest.Pool(f.t, testDB.SuperURL, 1), func(tx pgx.Tx) error {
		if _, err := tx.Exec(context.Background(), "SET LOCAL session_replication_role = replica"); err != nil {
			return err
		}
		tag, err := tx.Exec(context.Background(), sql, f.id)
		if err == nil && tag.RowsAffected() == 0 {
			err = fmt.Errorf("tampering changed nothing: %s", sql)
		}
		return err
	})
	require.NoError(f.t, err)
}

func TestReplay_AsOfAnInstantSeesOnlyTheEventsRecordedByThen(t *testing.T) {
	t.Parallel()
	f := newAuditFixture(t)
	f.usage(3, 4) // seqs 2 and 3
	then := f.recordedAt(3)
	time.Sleep(5 * time.Millisecond) // the later events are recorded after then
	f.changePlan(domain.PlanEnterprise)
	f.usage(10)
	replay := app.Replay{History: f.domain}
	ctx := context.Background()

	past, err := replay.AsOf(ctx, app.ReplayInput{Tenant: f.id, AsOf: then})
	require.NoError(t, err)
	require.Equal(t, int64(3), past.Seq)
	require.NotNil(t, past.Tenant)
	require.Equal(t, "pro", past.Tenant.Plan)
	require.Equal(t, "7", past.UsageTotals["api_calls"].String())
	require.Equal(t, then.UTC(), past.AsOf)

	now, err := replay.AsOf(ctx, app.ReplayInput{Tenant: f.id, AsOf: time.Now().Add(time.Minute)})
	require.NoError(t, err)
	require.Equal(t, int64(5), now.Seq)
	require.Equal(t, "enterprise", now.Tenant.Plan)
	require.Equal(t, "17", now.UsageTotals["api_calls"].String())

	before, err := replay.AsOf(ctx, app.ReplayInput{Tenant: f.id, AsOf: f.recordedAt(1).Add(-time.Microsecond)})
	require.NoError(t, err)
	require.Zero(t, before.Seq)
	require.Nil(t, before.Tenant, "no tenant before its first event")
	require.Empty(t, before.UsageTotals)
	require.NotNil(t, before.Members)
}

func TestReplay_AFoldExtendedLaterEqualsAReplayFromTheStart(t *testing.T) {
	t.Parallel()
	f := newAuditFixture(t)
	f.usage(1, 2)
	replay := app.Replay{History: f.domain}
	ctx := context.Background()
	var fold app.Fold
	require.NoError(t, replay.Extend(ctx, &fold, f.id, time.Now().Add(time.Minute)))
	require.Equal(t, int64(3), fold.Seq())
	kept := fold.Clone()

	f.changePlan(domain.PlanFree)
	f.usage(5)
	require.NoError(t, replay.Extend(ctx, &fold, f.id, time.Now().Add(time.Minute)))
	require.Equal(t, int64(5), fold.Seq())
	at := fold.Last()
	extended, err := fold.State(at)
	require.NoError(t, err)
	whole, err := replay.AsOf(ctx, app.ReplayInput{Tenant: f.id, AsOf: at})
	require.NoError(t, err)
	require.Equal(t, whole, extended)
	require.Equal(t, "8", extended.UsageTotals["api_calls"].String())

	old, err := kept.State(at)
	require.NoError(t, err)
	require.Equal(t, int64(3), old.Seq, "a clone is not changed by folding the original further")
	require.Equal(t, "3", old.UsageTotals["api_calls"].String())
	require.Equal(t, "pro", old.Tenant.Plan)
}

func TestVerify_DetectsATamperedEventAndNamesItsSeq(t *testing.T) {
	t.Parallel()
	f := newAuditFixture(t)
	f.usage(1, 2, 3)
	verify := app.Verify{Chains: f.store}
	ctx := context.Background()

	sound, err := verify.Chain(ctx, app.VerifyInput{Tenant: f.id, Now: time.Now()})
	require.NoError(t, err)
	require.True(t, sound.Report.OK, "%+v", sound.Report)
	require.Equal(t, int64(4), sound.Report.Events)
	require.Equal(t, int64(4), sound.Rehashed)

	f.tamper(`UPDATE tenantry.events SET data = jsonb_set(data, '{quantity}', '99') WHERE tenant_id = $1 AND seq = 3`)
	got, err := verify.Chain(ctx, app.VerifyInput{Tenant: f.id, Now: time.Now()})
	require.NoError(t, err)
	require.False(t, got.Report.OK)
	require.Equal(t, auditlog.ProblemHash, got.Report.Problem)
	require.Equal(t, int64(3), got.Report.FirstBadSeq)
}

func TestVerify_ExtendsAFreshVerificationAndRehashesAllOnceItIsOld(t *testing.T) {
	t.Parallel()
	f := newAuditFixture(t)
	f.usage(1)
	verify := app.Verify{Chains: f.store}
	ctx := context.Background()
	start := time.Now()
	first, err := verify.Chain(ctx, app.VerifyInput{Tenant: f.id, Now: start})
	require.NoError(t, err)
	require.True(t, first.Report.OK)

	// Tampering with a verified event, then appending: a fresh verification is extended with
	// the new events alone (its premise: the events it checked did not change)...
	f.tamper(`UPDATE tenantry.events SET metadata = '{"actor": "mallory"}' WHERE tenant_id = $1 AND seq = 1`)
	f.usage(2, 3)
	in := app.VerifyInput{Tenant: f.id, Earlier: &first, FullEvery: time.Hour, Now: start.Add(time.Minute)}
	extended, err := verify.Chain(ctx, in)
	require.NoError(t, err)
	require.True(t, extended.Report.OK, "%+v", extended.Report)
	require.Equal(t, int64(4), extended.Report.Events)
	require.Equal(t, int64(2), extended.Rehashed)
	require.Equal(t, start, extended.FullAt)

	// ...and once it is older than FullEvery the whole stream is re-hashed, which finds it.
	in = app.VerifyInput{Tenant: f.id, Earlier: &extended, FullEvery: time.Hour, Now: start.Add(2 * time.Hour)}
	full, err := verify.Chain(ctx, in)
	require.NoError(t, err)
	require.False(t, full.Report.OK)
	require.Equal(t, auditlog.ProblemHash, full.Report.Problem)
	require.Equal(t, int64(1), full.Report.FirstBadSeq)
	require.Equal(t, in.Now, full.FullAt)

	// A failed verification is answered again while the head has not moved, re-hashing nothing.
	in = app.VerifyInput{Tenant: f.id, Earlier: &full, FullEvery: time.Hour, Now: in.Now.Add(time.Minute)}
	again, err := verify.Chain(ctx, in)
	require.NoError(t, err)
	require.Equal(t, full.Report, again.Report)
	require.Zero(t, again.Rehashed)
}

func TestExport_WritesAHistoryTheOfflineVerifierAcceptsAndSignsItsHeadOnce(t *testing.T) {
	t.Parallel()
	f := newAuditFixture(t)
	f.usage(1, 2)
	signer, err := auditlog.ParseSigningKey("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
	require.NoError(t, err)
	export := app.Export{Events: f.store, Heads: f.store, Signer: signer, Now: time.Now}
	ctx := context.Background()

	var page bytes.Buffer
	res, err := export.Write(ctx, app.ExportInput{Tenant: f.id, Limit: 2}, &page)
	require.NoError(t, err)
	require.False(t, res.Complete, "a page short of the head has no head line")
	require.Equal(t, 2, bytes.Count(page.Bytes(), []byte("\n")))

	var whole bytes.Buffer
	var progress []int64
	res, err = export.Write(ctx, app.ExportInput{Tenant: f.id, Progress: func(seq, head int64) { progress = append(progress, seq, head) }}, &whole)
	require.NoError(t, err)
	require.True(t, res.Complete)
	require.Equal(t, []int64{3, 3}, progress)
	require.True(t, bytes.HasPrefix(whole.Bytes(), page.Bytes()), "pages are the whole export cut at a seq")
	rep, err := audit.Verify(bytes.NewReader(whole.Bytes()), audit.VerifyOptions{PublicKey: signer.PublicKey()})
	require.NoError(t, err)
	require.True(t, rep.OK, "%+v", rep)
	require.True(t, rep.Signed)
	recorded, ok, err := f.store.LatestSignedHead(ctx, f.id)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, res.Head, recorded)

	again, err := export.Write(ctx, app.ExportInput{Tenant: f.id}, &bytes.Buffer{})
	require.NoError(t, err)
	require.Equal(t, res.Head, again.Head, "an unmoved history is exported with the head signed before")
}
