package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

var _ net.Error = timeoutErr{}

// IsTransient is an allow-list: what the projector's own Go code refuses (a row that must
// exist, a malformed key hash, an unknown event type) is deterministic and must not be
// retried forever. It used to answer true for every error that was not a *pgconn.PgError.
func TestIsTransient_OnlyWhatALaterAttemptCanGetPast(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"go-side missing row", fmt.Errorf("event seq 4: %w", errors.New("api key 0190 missing")), false},
		{"go-side unknown type", errors.New("no projection for thing.unknown v1"), false},
		{"nil", nil, false},
		{"check violation", &pgconn.PgError{Code: "23514"}, false},
		{"numeric out of range", &pgconn.PgError{Code: "22003"}, false},
		{"undefined table", &pgconn.PgError{Code: "42P01"}, false},
		{"malformed code", &pgconn.PgError{Code: "4"}, false},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, true},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"query canceled", &pgconn.PgError{Code: "57014"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"lock timeout", &pgconn.PgError{Code: "55P03"}, true},
		{"deadline", fmt.Errorf("read: %w", context.DeadlineExceeded), true},
		{"net timeout", fmt.Errorf("read: %w", timeoutErr{}), true},
		{"unexpected EOF", fmt.Errorf("failed to receive message: %w", io.ErrUnexpectedEOF), true},
		{"conn closed", fmt.Errorf("send: %w", pgconn.ErrConnClosed), true},
	} {
		require.Equal(t, c.want, eventstore.IsTransient(c.err), c.name)
	}
}

// The errors a real server and driver give: a refused statement is deterministic, a
// terminated backend and a cancelled statement are transient.
func TestIsTransient_RealServerErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	super := pgtest.Pool(t, testDB.SuperURL, 2)
	conn, err := pgx.Connect(ctx, testDB.AppURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(ctx) })

	_, err = conn.Exec(ctx, `SELECT 1/0`)
	require.Error(t, err)
	require.False(t, eventstore.IsTransient(err), "division by zero: %v", err)

	_, err = conn.Exec(ctx, `SET statement_timeout = 50`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `SELECT pg_sleep(5)`)
	require.True(t, eventstore.IsTransient(err), "statement timeout: %v", err)
	_, err = conn.Exec(ctx, `RESET statement_timeout`)
	require.NoError(t, err)

	var pid int
	require.NoError(t, conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid))
	done := make(chan error, 1)
	go func() { _, err := conn.Exec(ctx, `SELECT pg_sleep(10)`); done <- err }()
	time.Sleep(200 * time.Millisecond)
	_, err = super.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid)
	require.NoError(t, err)
	err = <-done
	require.Error(t, err)
	require.True(t, eventstore.IsTransient(err), "terminated backend: %v", err)
	_, err = conn.Exec(ctx, `SELECT 1`)
	require.Error(t, err)
	require.True(t, eventstore.IsTransient(err), "a statement on the closed connection: %v", err)
}
