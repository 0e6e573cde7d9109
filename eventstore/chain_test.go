package eventstore_test

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
)

func TestChainHash_GoEncodingMatchesTheDatabase(t *testing.T) {
	t.Parallel()
	s := appStore(t, 2)
	tenant := newTenant(t)
	odd := eventstore.NewEvent{Type: "thing.happened", SchemaVersion: 3,
		// Key order, spacing, unicode and number forms all go through jsonb's normal form.
		Data:     []byte(`{"z": 1.50, "a":[1,2,{"é":"\u00e9 ☃"}], "bb": null,"n":-0.0e0}`),
		Metadata: eventstore.Metadata{Actor: "ünïcode", CorrelationID: "c"}}
	_, err := s.Append(ctx(t), tenant, "strange / stream: ü", eventstore.Any, odd)
	require.NoError(t, err)
	_, err = s.Append(ctx(t), tenant, "s", eventstore.Any, evs("thing.happened", 5)...)
	require.NoError(t, err)
	// The same odd content in a batch, whose encoding is prepared before the lock.
	odd2 := odd
	odd2.Data = []byte(`{"\u2028": "line\nbreak \"q\" \\", "big": 12345678901234567890.000, "e": 1E+2}`)
	_, err = s.Append(ctx(t), tenant, "strange / stream: ü", eventstore.Any, odd, odd2, odd)
	require.NoError(t, err)
	// And a batch whose events' metadata differ (a batch usually shares one).
	other := odd2
	other.Metadata = eventstore.Metadata{Actor: "someone else", RequestID: "r-2"}
	_, err = s.Append(ctx(t), tenant, "s", eventstore.Any, odd2, other, odd2)
	require.NoError(t, err)

	events, err := s.ReadTenant(ctx(t), tenant, 0, 0)
	require.NoError(t, err)
	require.Len(t, events, 12)
	require.Contains(t, string(events[10].Metadata), "someone else", "a batch event keeps its own metadata")
	require.Contains(t, string(events[11].Metadata), "ünïcode")
	var prev [32]byte
	for _, e := range events {
		require.Equal(t, e.Hash, eventstore.ChainHash(prev, &e), "seq %d", e.Seq)
		prev = e.Hash
	}
	rep, err := s.VerifyChain(ctx(t), tenant)
	require.NoError(t, err)
	require.True(t, rep.OK, "%+v", rep)
	require.Equal(t, int64(12), rep.Events)
	require.Equal(t, int64(12), rep.HeadSeq)
}

func TestVerifyChain_OnEmptyTenantIsOK(t *testing.T) {
	t.Parallel()
	rep, err := appStore(t, 1).VerifyChain(ctx(t), newTenant(t))
	require.NoError(t, err)
	require.True(t, rep.OK)
	require.Zero(t, rep.Events)
}

// tamper runs sql as a superuser with triggers off (session_replication_role = replica),
// the way an attacker with database access would step around the immutability guard.
// Statements are separated by ";;" and each gets the same arguments.
func tamper(t *testing.T, sql string, args ...any) {
	t.Helper()
	err := pgx.BeginFunc(context.Background(), superPool(t), func(tx pgx.Tx) error {
		if _, err := tx.Exec(context.Background(), "SET LOCAL session_replication_role = replica"); err != nil {
			return err
		}
		for _, stmt := range strings.Split(sql, ";;") {
			tag, err := tx.Exec(context.Background(), stmt, args...)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				t.Fatalf("tamper statement changed nothing: %s", stmt)
			}
		}
		return nil
	})
	require.NoError(t, err)
}

func TestVerifyChain_NamesTheFirstTamperedSeq(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		sql     string
		badSeq  int64
		problem eventstore.Problem
	}{
		{"AlteredData", `UPDATE tenantry.events SET data = '{"n": 999}' WHERE tenant_id = $1 AND seq = 4`, 4, eventstore.ProblemHash},
		{"AlteredMetadata", `UPDATE tenantry.events SET metadata = '{"actor": "mallory"}' WHERE tenant_id = $1 AND seq = 7`, 7, eventstore.ProblemHash},
		{"AlteredRecordedAt", `UPDATE tenantry.events SET recorded_at = recorded_at - interval '1 day' WHERE tenant_id = $1 AND seq = 2`, 2, eventstore.ProblemHash},
		{"AlteredDataAndRehashed", `UPDATE tenantry.events SET data = '{"n": 1}', hash = tenantry.event_hash(prev_hash, tenant_id, seq, event_id, stream_id, stream_version, event_type, schema_version, '{"n": 1}'::jsonb, metadata, recorded_at) WHERE tenant_id = $1 AND seq = 5`, 6, eventstore.ProblemLink},
		{"DeletedMiddle", `DELETE FROM tenantry.events WHERE tenant_id = $1 AND seq = 3`, 3, eventstore.ProblemNumbering},
		{"DeletedLast", `DELETE FROM tenantry.events WHERE tenant_id = $1 AND seq = 8`, 8, eventstore.ProblemNumbering},
		{"DeletedFirst", `DELETE FROM tenantry.events WHERE tenant_id = $1 AND seq = 1`, 1, eventstore.ProblemNumbering},
		{"SwappedTwo", `UPDATE tenantry.events SET seq = 1000 WHERE tenant_id = $1 AND seq = 3;; UPDATE tenantry.events SET seq = 3 WHERE tenant_id = $1 AND seq = 6;; UPDATE tenantry.events SET seq = 6 WHERE tenant_id = $1 AND seq = 1000`, 3, eventstore.ProblemLink},
		{"SwappedContent", `UPDATE tenantry.events e SET data = o.data FROM tenantry.events o WHERE e.tenant_id = $1 AND o.tenant_id = $1 AND ((e.seq = 2 AND o.seq = 5) OR (e.seq = 5 AND o.seq = 2))`, 2, eventstore.ProblemHash},
		{"RenumberedTail", `UPDATE tenantry.events SET seq = seq + 100 WHERE tenant_id = $1 AND seq >= 7;; UPDATE tenantry.events SET seq = seq - 99 WHERE tenant_id = $1 AND seq >= 100`, 7, eventstore.ProblemNumbering},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := appStore(t, 1)
			tenant := newTenant(t)
			for i := 0; i < 4; i++ {
				_, err := s.Append(ctx(t), tenant, "s", eventstore.Any, evs("thing.happened", 2)...)
				require.NoError(t, err)
			}
			before, err := s.VerifyChain(ctx(t), tenant)
			require.NoError(t, err)
			require.True(t, before.OK)

			tamper(t, c.sql, tenant)

			rep, err := s.VerifyChain(ctx(t), tenant)
			require.NoError(t, err)
			require.False(t, rep.OK)
			require.Equal(t, c.badSeq, rep.FirstBadSeq, "%+v", rep)
			require.Equal(t, c.problem, rep.Problem, "%+v", rep)
			require.NotEmpty(t, rep.Detail)
		})
	}
}

func TestVerifyChain_DetectsAForgedHead(t *testing.T) {
	t.Parallel()
	s := appStore(t, 1)
	tenant := newTenant(t)
	_, err := s.Append(ctx(t), tenant, "s", eventstore.Any, evs("thing.happened", 3)...)
	require.NoError(t, err)
	tamper(t, `UPDATE tenantry.tenant_heads SET hash = sha256('x') WHERE tenant_id = $1`, tenant)
	rep, err := s.VerifyChain(ctx(t), tenant)
	require.NoError(t, err)
	require.Equal(t, eventstore.ProblemHead, rep.Problem)
	require.Equal(t, int64(3), rep.FirstBadSeq)
}

func TestVerifyChain_RefusesNilTenant(t *testing.T) {
	_, err := appStore(t, 1).VerifyChain(ctx(t), uuid.Nil)
	require.ErrorIs(t, err, eventstore.ErrNoTenant)
}

// Extending a verification re-hashes the events after it and still names the first bad
// one among them, or a link to an event that changed under the earlier check.
func TestVerifyChainFrom_ChecksTheNewEventsAndTheirLink(t *testing.T) {
	t.Parallel()
	s := appStore(t, 1)
	tenant := newTenant(t)
	_, err := s.Append(ctx(t), tenant, "s", eventstore.Any, evs("thing.happened", 4)...)
	require.NoError(t, err)
	first, err := s.VerifyChain(ctx(t), tenant)
	require.NoError(t, err)
	require.True(t, first.OK)
	var hash [32]byte
	_, err = hex.Decode(hash[:], []byte(first.HeadHash))
	require.NoError(t, err)

	rep, err := s.VerifyChainFrom(ctx(t), tenant, first.HeadSeq, hash)
	require.NoError(t, err)
	require.Equal(t, first, rep, "nothing new: the same report")

	_, err = s.Append(ctx(t), tenant, "s", eventstore.Any, evs("thing.happened", 3)...)
	require.NoError(t, err)
	rep, err = s.VerifyChainFrom(ctx(t), tenant, first.HeadSeq, hash)
	require.NoError(t, err)
	require.True(t, rep.OK, "%+v", rep)
	require.Equal(t, int64(7), rep.Events)

	tamper(t, `UPDATE tenantry.events SET data = '{"n": 999}' WHERE tenant_id = $1 AND seq = 6`, tenant)
	rep, err = s.VerifyChainFrom(ctx(t), tenant, first.HeadSeq, hash)
	require.NoError(t, err)
	require.Equal(t, []any{false, int64(6), eventstore.ProblemHash}, []any{rep.OK, rep.FirstBadSeq, rep.Problem})

	rep, err = s.VerifyChainFrom(ctx(t), tenant, first.HeadSeq, [32]byte{1}) // seq 4 is not what was checked
	require.NoError(t, err)
	require.Equal(t, []any{false, int64(5), eventstore.ProblemLink}, []any{rep.OK, rep.FirstBadSeq, rep.Problem})
}
