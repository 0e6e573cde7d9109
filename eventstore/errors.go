package eventstore

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantry/tenantry/domain"
)

var (
	// ErrConcurrency is the sentinel of every *ConcurrencyError.
	ErrConcurrency = domain.ErrConcurrency
	// ErrEventIDConflict means some event ids of an append are stored with other content:
	// not a retry of the same append, so nothing was written.
	ErrEventIDConflict = domain.ErrEventIDConflict
	// ErrKeyClaimed means an idempotency key of the append (NewEvent.Keys) is claimed by an
	// event stored before: nothing was written.
	ErrKeyClaimed = domain.ErrKeyClaimed
	// ErrInvalidEvent means the append was malformed and nothing was written.
	ErrInvalidEvent = errors.New("invalid event")
	// ErrUnknownEventType means the registry has no Go type for a stored event.
	ErrUnknownEventType = errors.New("unknown event type")
	// ErrNoTenant means a tenant-scoped call got the nil tenant id.
	ErrNoTenant = errors.New("tenant id is required")
)

// ConcurrencyError reports an append whose expected version did not match the stream.
type ConcurrencyError struct {
	Stream   string
	Expected ExpectedVersion
	Actual   int64
}

func (e *ConcurrencyError) Error() string {
	return fmt.Sprintf("stream %q is at version %d, expected %s", e.Stream, e.Actual, e.Expected)
}

// Unwrap makes errors.Is(err, ErrConcurrency) true.
func (e *ConcurrencyError) Unwrap() error { return ErrConcurrency }

// SQLSTATEs raised by the migrations' functions and triggers.
const (
	stateConcurrency    = "TYC01"
	stateQuota          = "TYQ01"
	stateImmutable      = "TYM01"
	stateInvalidText    = "22P02"
	stateUntranslatable = "22P05"
	stateCheck          = "23514"
	stateUnique         = "23505"
)

// mayBeRetry reports failures that a retried append produces: its ids are taken, or its
// expected version is stale because the first attempt succeeded.
func mayBeRetry(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return pgErr.Code == stateConcurrency ||
		(pgErr.Code == stateUnique && strings.HasSuffix(pgErr.ConstraintName, "_tenant_id_event_id_key"))
}

// mapAppendError turns the database's refusals into the package's typed errors.
func mapAppendError(err error, stream string, expected ExpectedVersion) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch pgErr.Code {
	case stateConcurrency:
		actual, _ := strconv.ParseInt(pgErr.Detail, 10, 64)
		return &ConcurrencyError{Stream: stream, Expected: expected, Actual: actual}
	case stateQuota:
		return quotaExceeded(pgErr)
	case stateUnique:
		if strings.HasSuffix(pgErr.ConstraintName, "_tenant_id_event_id_key") {
			return fmt.Errorf("%w: %s", ErrEventIDConflict, pgErr.Message)
		}
		if strings.HasPrefix(pgErr.ConstraintName, "event_keys_") {
			return fmt.Errorf("%w: %s", ErrKeyClaimed, pgErr.Message)
		}
	case stateInvalidText, stateUntranslatable, stateCheck:
		return fmt.Errorf("%w: %s", ErrInvalidEvent, pgErr.Message)
	}
	return err
}

// quotaExceeded reads usage_totals_add's TYQ01 DETAIL: period, usage before the append,
// quota and metric, tab-separated (the metric last: any text).
func quotaExceeded(pgErr *pgconn.PgError) error {
	f := strings.SplitN(pgErr.Detail, "\t", 4)
	if len(f) != 4 {
		return fmt.Errorf("quota exceeded, unreadable detail %q: %w", pgErr.Detail, pgErr)
	}
	period, err := time.Parse(time.DateOnly, f[0])
	if err != nil {
		return fmt.Errorf("quota exceeded, unreadable period %q: %w", f[0], pgErr)
	}
	return &QuotaExceeded{Metric: f[3], Period: period, Used: f[1], Quota: f[2]}
}
