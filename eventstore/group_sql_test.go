package eventstore_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// groupCall is one call of tenantry.append_events_group, as the group committer sends it.
type groupCall struct {
	tenant    uuid.UUID
	stream    string
	expected  int64
	n         int
	keyEvents []int32 // 1-based indexes into the call's events, one key each
}

const groupSQL = `SELECT tenant_id, seq, stream_version, event_id, hash
FROM tenantry.append_events_group(p_tenants => $1, p_streams => $2, p_expected => $3,
	p_lo => $4, p_hi => $5, p_klo => $6, p_khi => $7,
	p_ids => $8, p_types => $9, p_versions => $10, p_data => $11, p_metadata => $12,
	p_keys => $13, p_key_events => $14)`

type groupRow struct {
	tenant  uuid.UUID
	seq     int64
	version int64
	id      uuid.UUID
}

// groupAppend calls the group function in tx with calls and returns its rows and the event
// ids it sent, in call order.
func groupAppend(t *testing.T, tx pgx.Tx, calls []groupCall) ([]groupRow, []uuid.UUID, []uuid.UUID, error) {
	t.Helper()
	var (
		tenants                  []uuid.UUID
		streams, types, data, md []string
		expected                 []int64
		lo, hi, klo, khi         []int32
		versions, keyEvents      []int32
		ids, keys                []uuid.UUID
	)
	for _, c := range calls {
		tenants = append(tenants, c.tenant)
		streams = append(streams, c.stream)
		expected = append(expected, c.expected)
		lo = append(lo, int32(len(ids)+1))
		for i := 0; i < c.n; i++ {
			ids = append(ids, uuid.Must(uuid.NewV7()))
			types = append(types, "thing.happened")
			versions = append(versions, 1)
			data = append(data, `{"n": 1}`)
			md = append(md, `{"actor": "test"}`)
		}
		hi = append(hi, int32(len(ids)))
		klo = append(klo, int32(len(keys)+1))
		for _, e := range c.keyEvents {
			keys = append(keys, uuid.Must(uuid.NewV7()))
			keyEvents = append(keyEvents, e)
		}
		khi = append(khi, int32(len(keys)))
	}
	rows, err := tx.Query(context.Background(), groupSQL, tenants, streams, expected, lo, hi, klo, khi,
		ids, types, versions, data, md, keys, keyEvents)
	if err != nil {
		return nil, nil, nil, err
	}
	var out []groupRow
	for rows.Next() {
		var r groupRow
		var hash []byte
		if err := rows.Scan(&r.tenant, &r.seq, &r.version, &r.id, &hash); err != nil {
			rows.Close()
			return nil, nil, nil, err
		}
		out = append(out, r)
	}
	rows.Close()
	return out, ids, keys, rows.Err()
}

// The group function runs as its owner, across tenants: calls on one stream apply in call
// order, each tenant's events chain from its own head, keys land on their own events, and
// the owner's group write policy is closed again when it returns.
func TestGroupAppend_ManyTenantsOneStatement(t *testing.T) {
	t.Parallel()
	s := appStore(t, 4)
	a, b := newTenant(t), newTenant(t)
	_, err := s.Append(ctx(t), a, "s", eventstore.NoStream, ev("thing.happened", 0)) // a has a head already
	require.NoError(t, err)

	var rows []groupRow
	var ids, keys []uuid.UUID
	err = pgx.BeginFunc(ctx(t), s.Pool(), func(tx pgx.Tx) error {
		rows, ids, keys, err = groupAppend(t, tx, []groupCall{
			{tenant: a, stream: "s", expected: 1, n: 1},
			{tenant: b, stream: "x", expected: -1, n: 2, keyEvents: []int32{2}},
			{tenant: a, stream: "s", expected: 2, n: 2, keyEvents: []int32{1, 2}},
			{tenant: a, stream: "t", expected: 0, n: 1},
		})
		if err != nil {
			return err
		}
		var open string
		require.NoError(t, tx.QueryRow(ctx(t), `SELECT current_setting('tenantry.append_tenants', true)`).Scan(&open))
		require.Empty(t, open, "the group's write policy is closed when the function returns")
		return nil
	})
	require.NoError(t, err)
	require.Len(t, rows, 6)
	byID := map[uuid.UUID]groupRow{}
	for _, r := range rows {
		byID[r.id] = r
	}
	want := []groupRow{
		{a, 2, 2, ids[0]}, {b, 1, 1, ids[1]}, {b, 2, 2, ids[2]},
		{a, 3, 3, ids[3]}, {a, 4, 4, ids[4]}, {a, 5, 1, ids[5]},
	}
	for _, w := range want {
		require.Equal(t, w, byID[w.id])
	}
	for _, tenant := range []uuid.UUID{a, b} {
		rep, err := s.VerifyChain(ctx(t), tenant)
		require.NoError(t, err)
		require.True(t, rep.OK, "tenant %s: %+v", tenant, rep)
	}
	claimed := map[uuid.UUID]int64{}
	for _, c := range []struct {
		tenant uuid.UUID
		key    uuid.UUID
	}{{b, keys[0]}, {a, keys[1]}, {a, keys[2]}} {
		var seq int64
		err := eventstore.InTenant(ctx(t), superPool(t), c.tenant, true, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx(t), `SELECT seq FROM tenantry.event_keys WHERE tenant_id = $1 AND key_id = $2`, c.tenant, c.key).Scan(&seq)
		})
		require.NoError(t, err)
		claimed[c.key] = seq
	}
	require.Equal(t, map[uuid.UUID]int64{keys[0]: 2, keys[1]: 3, keys[2]: 4}, claimed)
}

// Inside one tenant's context (any code in InTenant), the group function appends to that
// tenant only, as append_events does; a stale expectation, bad bounds or a claimed key fail
// the whole group with nothing written.
func TestGroupAppend_RefusesWhatAppendEventsRefuses(t *testing.T) {
	t.Parallel()
	s := appStore(t, 4)
	a, b := newTenant(t), newTenant(t)
	run := func(setup string, calls []groupCall) error {
		return pgx.BeginFunc(ctx(t), s.Pool(), func(tx pgx.Tx) error {
			if setup != "" {
				if _, err := tx.Exec(ctx(t), `SELECT set_config('tenantry.tenant_id', $1, true)`, setup); err != nil {
					return err
				}
			}
			_, _, _, err := groupAppend(t, tx, calls)
			return err
		})
	}
	err := run(a.String(), []groupCall{{tenant: a, stream: "s", expected: -1, n: 1}, {tenant: b, stream: "s", expected: -1, n: 1}})
	require.Equal(t, "42501", sqlState(err), "%v", err)
	err = run("", []groupCall{{tenant: b, stream: "s", expected: -1, n: 1}, {tenant: a, stream: "s", expected: 3, n: 1}})
	require.Equal(t, "TYC01", sqlState(err), "%v", err)
	err = run("", []groupCall{{tenant: a, stream: "s", expected: -1, n: 1, keyEvents: []int32{2}}})
	require.Equal(t, "22023", sqlState(err), "%v", err)
	for _, tenant := range []uuid.UUID{a, b} {
		got, err := s.ReadTenant(ctx(t), tenant, 0, 0)
		require.NoError(t, err)
		require.Empty(t, got, "a failed group wrote nothing")
	}
	require.NoError(t, run(a.String(), []groupCall{{tenant: a, stream: "s", expected: -1, n: 2}}))

	// Bounds that do not tile the arrays.
	err = pgx.BeginFunc(ctx(t), s.Pool(), func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx(t), groupSQL, []uuid.UUID{a}, []string{"s"}, []int64{-1}, []int32{1}, []int32{1_000_000}, []int32{1}, []int32{0},
			[]uuid.UUID{uuid.Must(uuid.NewV7())}, []string{"t"}, []int32{1}, []string{`{}`}, []string{`{}`}, []uuid.UUID{}, []int32{})
		return err
	})
	require.Equal(t, "22023", sqlState(err), "%v", err)
}

// The setting that opens the owner's group write policy gives the runtime roles nothing:
// they hold no write privilege on the chain's tables at all.
func TestGroupAppend_TheGroupSettingOpensNothingToTheRuntimeRoles(t *testing.T) {
	t.Parallel()
	a := newTenant(t)
	for _, url := range []string{testDB.AppURL, testDB.WorkerURL} {
		pool := pgtest.Pool(t, url, 2)
		for _, stmt := range []string{
			`INSERT INTO tenantry.tenant_heads (tenant_id, seq, hash, recorded_at) VALUES ($1, 0, '\x00', now())`,
			`INSERT INTO tenantry.streams (tenant_id, stream_id, version) VALUES ($1, 's', 0)`,
			`UPDATE tenantry.tenant_heads SET seq = 9 WHERE tenant_id = $1`,
			`INSERT INTO tenantry.event_keys (tenant_id, key_id, seq) VALUES ($1, gen_random_uuid(), 1)`,
		} {
			err := pgx.BeginFunc(ctx(t), pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx(t), `SELECT set_config('tenantry.append_tenants', $1, true), set_config('tenantry.tenant_id', $1, true)`, a.String()); err != nil {
					return err
				}
				_, err := tx.Exec(ctx(t), stmt, a)
				return err
			})
			require.Equal(t, "42501", sqlState(err), "%s: %v", stmt, err)
		}
	}
}
