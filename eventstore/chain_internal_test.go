package eventstore

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/migrations/pgtest"
)

// The verifier's allocation-free decoder must read exactly what pgx's Scan reads.
func TestDecodeRawEvent_MatchesScan(t *testing.T) {
	db := pgtest.New(t)
	s := New(pgtest.Pool(t, db.AppURL, 2))
	tenant := uuid.Must(uuid.NewV7())
	_, err := s.Append(context.Background(), tenant, "ström", Any,
		NewEvent{Type: "a.b", SchemaVersion: 7, Data: []byte(`{"x": [1, "é"], "a": null}`), Metadata: Metadata{Actor: "a"}},
		NewEvent{Type: "a.c", SchemaVersion: 1, Data: []byte(`{}`)})
	require.NoError(t, err)

	// pgx's generic Scan is the reference.
	var scanned []Event
	err = pgx.BeginFunc(context.Background(), s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(context.Background(), tenantOnlySQL, tenant.String()); err != nil {
			return err
		}
		rows, err := tx.Query(context.Background(), verifyEventsSQL, tenant)
		require.NoError(t, err)
		defer rows.Close()
		for rows.Next() {
			var e Event
			require.NoError(t, scanEvent(rows, &e))
			scanned = append(scanned, e)
		}
		return rows.Err()
	})
	require.NoError(t, err)
	require.Len(t, scanned, 2)
	err = pgx.BeginFunc(context.Background(), s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(context.Background(), tenantOnlySQL, tenant.String()); err != nil {
			return err
		}
		rows, err := tx.Query(context.Background(), verifyEventsSQL, tenant)
		require.NoError(t, err)
		defer rows.Close()
		var jsonbBinary bool
		require.True(t, rawBinary(rows, &jsonbBinary), "the verifier's fast path is in use")
		i := 0
		for rows.Next() {
			var e Event
			require.NoError(t, decodeRawEvent(rows.RawValues(), jsonbBinary, &e))
			require.Equal(t, scanned[i], e)
			i++
		}
		require.Equal(t, len(scanned), i)
		return rows.Err()
	})
	require.NoError(t, err)
}
