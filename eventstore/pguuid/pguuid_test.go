package pguuid_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore/pguuid"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.BaseURL())
	require.NoError(t, err)
	defer conn.Close(ctx)
	pguuid.Register(conn.TypeMap())

	id := uuid.MustParse("0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b")
	ids := []uuid.UUID{id, uuid.New(), uuid.Nil}

	// The server sees the same uuid, in both directions, singly and in arrays.
	var text string
	var back uuid.UUID
	require.NoError(t, conn.QueryRow(ctx, `SELECT $1::uuid::text, $1::uuid`, id).Scan(&text, &back))
	require.Equal(t, id.String(), text)
	require.Equal(t, id, back)

	var texts []string
	var backs []uuid.UUID
	require.NoError(t, conn.QueryRow(ctx, `SELECT $1::uuid[]::text[], $1::uuid[]`, ids).Scan(&texts, &backs))
	require.Equal(t, []string{ids[0].String(), ids[1].String(), ids[2].String()}, texts)
	require.Equal(t, ids, backs)

	// In text format too (the simple protocol).
	require.NoError(t, conn.QueryRow(ctx, `SELECT $1::uuid`, pgx.QueryExecModeSimpleProtocol, id).Scan(&back))
	require.Equal(t, id, back)

	// NULL: an error into a plain uuid, nil into a pointer.
	err = conn.QueryRow(ctx, `SELECT NULL::uuid`).Scan(&back)
	require.ErrorContains(t, err, "NULL")
	var ptr *uuid.UUID = &id
	require.NoError(t, conn.QueryRow(ctx, `SELECT NULL::uuid`).Scan(&ptr))
	require.Nil(t, ptr)
	require.NoError(t, conn.QueryRow(ctx, `SELECT $1::uuid`, &id).Scan(&ptr))
	require.Equal(t, id, *ptr)
}

// The codec, not the string-based driver.Valuer/sql.Scanner fallbacks, handles uuid.UUID.
func TestPlansAreDirect(t *testing.T) {
	m := pgtype.NewMap()
	pguuid.Register(m)
	for _, format := range []int16{pgtype.BinaryFormatCode, pgtype.TextFormatCode} {
		require.Equal(t, "pguuid.encodePlan", fmt.Sprintf("%T", m.PlanEncode(pgtype.UUIDOID, format, uuid.UUID{})))
		var u uuid.UUID
		require.Equal(t, "pguuid.scanPlan", fmt.Sprintf("%T", m.PlanScan(pgtype.UUIDOID, format, &u)))
	}
}

// Through PgBouncer in transaction mode pgx cannot rely on server-side prepared
// statements, so it runs in exec or simple-protocol mode, where it must pick each
// parameter's type from its Go type alone: uuid.UUID and []uuid.UUID must work in every
// mode (a []uuid.UUID once made POST /v1/tenants answer 500 through PgBouncer).
func TestUUIDParameters_WorkInEveryQueryExecMode(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.BaseURL())
	require.NoError(t, err)
	defer conn.Close(ctx)
	pguuid.Register(conn.TypeMap())

	id := uuid.MustParse("0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b")
	ids := []uuid.UUID{id, uuid.New(), uuid.Nil}
	modes := map[string]pgx.QueryExecMode{
		"CacheStatement": pgx.QueryExecModeCacheStatement, "CacheDescribe": pgx.QueryExecModeCacheDescribe,
		"DescribeExec": pgx.QueryExecModeDescribeExec, "Exec": pgx.QueryExecModeExec,
		"SimpleProtocol": pgx.QueryExecModeSimpleProtocol,
	}
	for name, mode := range modes {
		t.Run(name, func(t *testing.T) {
			// Untyped parameters, as in `WHERE id = ANY($1)`: the server infers the type.
			var n int
			require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM unnest('{0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b}'::uuid[]) u
				WHERE u = ANY($1) AND u = $2`, mode, ids, id).Scan(&n))
			require.Equal(t, 1, n)
			var backs []uuid.UUID
			var back uuid.UUID
			require.NoError(t, conn.QueryRow(ctx, `SELECT $1::uuid[], $2::uuid`, mode, ids, id).Scan(&backs, &back))
			require.Equal(t, ids, backs)
			require.Equal(t, id, back)
			var none *uuid.UUID
			require.NoError(t, conn.QueryRow(ctx, `SELECT $1::uuid, $2::uuid IS NULL`, mode, &id, none).Scan(&back, new(bool)))
			require.Equal(t, id, back)
			var empty []uuid.UUID
			require.NoError(t, conn.QueryRow(ctx, `SELECT cardinality($1::uuid[])`, mode, []uuid.UUID{}).Scan(&n))
			require.Equal(t, 0, n)
			require.NoError(t, conn.QueryRow(ctx, `SELECT $1::uuid[]`, mode, empty).Scan(&backs))
			require.Nil(t, backs)
		})
	}
}
