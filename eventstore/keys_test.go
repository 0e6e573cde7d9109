package eventstore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
)

func keyIDs(n int) []uuid.UUID {
	out := make([]uuid.UUID, n)
	for i := range out {
		out[i] = uuid.Must(uuid.NewV7())
	}
	return out
}

func TestKeys_AKeyIsClaimedOnceForGood(t *testing.T) {
	t.Parallel()
	s := appStore(t, 2)
	tenant := newTenant(t)
	k := keyIDs(3)

	first := ev("usage.batch_recorded", 1)
	first.Keys = k[:2]
	r1, err := s.Append(ctx(t), tenant, "usage", eventstore.Any, first)
	require.NoError(t, err)
	claimed, err := s.ClaimedKeys(ctx(t), tenant, k)
	require.NoError(t, err)
	require.Equal(t, map[uuid.UUID]int64{k[0]: r1.FirstSeq, k[1]: r1.FirstSeq}, claimed)

	// A later append that claims one of them again writes nothing at all, not even its
	// unclaimed key or its event; a retry of the same event (same id) is still a retry.
	second := ev("usage.batch_recorded", 2)
	second.Keys = []uuid.UUID{k[2], k[1]}
	_, err = s.Append(ctx(t), tenant, "usage", eventstore.Any, ev("usage.recorded", 3), second)
	require.ErrorIs(t, err, eventstore.ErrKeyClaimed)
	claimed, err = s.ClaimedKeys(ctx(t), tenant, k)
	require.NoError(t, err)
	require.Len(t, claimed, 2)
	all, err := s.ReadTenant(ctx(t), tenant, 0, 0)
	require.NoError(t, err)
	require.Len(t, all, 1)

	again, err := s.Append(ctx(t), tenant, "usage", eventstore.Any, first)
	require.NoError(t, err)
	require.True(t, again.Retried)

	// Keys belong to their tenant: another tenant claims the same ids, and neither sees the
	// other's claims.
	other := newTenant(t)
	theirs := ev("usage.batch_recorded", 4)
	theirs.Keys = k
	r2, err := s.Append(ctx(t), other, "usage", eventstore.Any, theirs)
	require.NoError(t, err)
	claimed, err = s.ClaimedKeys(ctx(t), other, k)
	require.NoError(t, err)
	require.Equal(t, map[uuid.UUID]int64{k[0]: r2.FirstSeq, k[1]: r2.FirstSeq, k[2]: r2.FirstSeq}, claimed)
	err = inTenantTx(t, other, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx(t), `SELECT count(*) FROM tenantry.event_keys`).Scan(&n); err != nil {
			return err
		}
		require.Equal(t, 3, n, "row-level security shows one tenant's keys only")
		return nil
	})
	require.NoError(t, err)
}

func TestKeys_MalformedClaimsAreRefusedWithoutWriting(t *testing.T) {
	t.Parallel()
	s := appStore(t, 1)
	tenant := newTenant(t)
	k := keyIDs(1)[0]
	for name, keys := range map[string][][]uuid.UUID{
		"twice in one event":  {{k, k}},
		"twice in one append": {{k}, {k}},
		"nil":                 {{uuid.Nil}},
	} {
		events := evs("usage.batch_recorded", len(keys))
		for i := range events {
			events[i].Keys = keys[i]
		}
		_, err := s.Append(ctx(t), tenant, "usage", eventstore.Any, events...)
		require.ErrorIs(t, err, eventstore.ErrInvalidEvent, name)
	}
	all, err := s.ReadTenant(ctx(t), tenant, 0, 0)
	require.NoError(t, err)
	require.Empty(t, all)
}

func TestKeys_MergedAppendsClaimForTheirOwnEvents(t *testing.T) {
	t.Parallel()
	s := withGroupCommit(t, appStore(t, 8).Pool(), 2)
	tenant := newTenant(t)
	const writers = 40
	results := make([]eventstore.AppendResult, writers)
	errs := make([]error, writers)
	sent := make([][]eventstore.NewEvent, writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < writers; i++ {
		sent[i] = evs("usage.batch_recorded", 1+i%3)
		for j := range sent[i] {
			sent[i][j].Keys = keyIDs(j + 1) // events of 1, 2 and 3 keys, in appends of 1 to 3 events
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			results[i], errs[i] = s.Append(context.Background(), tenant, "usage", eventstore.Any, sent[i]...)
		}(i)
	}
	close(start)
	wg.Wait()
	for i := range errs {
		require.NoError(t, errs[i], "append %d", i)
	}
	// The claims below are only worth checking if appends were merged: a merged statement
	// shifts each later member's key indexes by the events before it.
	stored, err := s.ReadTenant(ctx(t), tenant, 0, 0)
	require.NoError(t, err)
	_, statements := statementsOf(t, stored, results)
	require.Less(t, statements, writers, "some appends were merged into one statement")
	for i, res := range results {
		for j, a := range res.Events {
			claimed, err := s.ClaimedKeys(ctx(t), tenant, sent[i][j].Keys)
			require.NoError(t, err)
			require.Len(t, claimed, len(sent[i][j].Keys))
			for _, seq := range claimed {
				require.Equal(t, a.Seq, seq, "a key names the seq of the event that claimed it")
			}
		}
	}
}

func TestKeys_UpdateDeleteTruncateAreRefusedForEveryone(t *testing.T) {
	t.Parallel()
	s := appStore(t, 1)
	tenant := newTenant(t)
	e := ev("usage.batch_recorded", 1)
	e.Keys = keyIDs(2)
	_, err := s.Append(ctx(t), tenant, "usage", eventstore.Any, e)
	require.NoError(t, err)
	requireRefusedForEveryone(t, tenant,
		"UPDATE tenantry.event_keys SET seq = seq + 1 WHERE tenant_id = $1",
		"DELETE FROM tenantry.event_keys WHERE tenant_id = $1",
		"TRUNCATE tenantry.event_keys",
		"TRUNCATE tenantry.event_keys_p0000")
	claimed, err := s.ClaimedKeys(ctx(t), tenant, e.Keys)
	require.NoError(t, err)
	require.Len(t, claimed, 2)
}
