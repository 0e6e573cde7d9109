package eventstore

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// MaxPage bounds one read so no caller pulls an unbounded result into memory.
const MaxPage = 10000

const eventColumns = `tenant_id, seq, stream_id, stream_version, event_id, event_type, schema_version,
data, metadata, recorded_at, tx_id, position, prev_hash, hash`

// Column positions of data and metadata in eventColumns.
const (
	dataColumn     = 7
	metadataColumn = 8
)

const readStreamSQL = `SELECT ` + eventColumns + ` FROM tenantry.events
WHERE tenant_id = $1 AND stream_id = $2 AND stream_version >= $3
ORDER BY stream_version LIMIT $4`

const readTenantSQL = `SELECT ` + eventColumns + ` FROM tenantry.events
WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`

const readAllSQL = `SELECT ` + eventColumns + ` FROM tenantry.read_all_events($1, $2, $3)`

// MaxPageBytes bounds the documents (data and metadata, as stored: compressed ones count
// their compressed size) of one ReadTenantBounded page. One usage batch event holds up to
// 1,000 records (about 1 MiB), so MaxPage of them would be gigabytes in memory.
const MaxPageBytes = 1 << 20

// readTenantBoundedSQL is readTenantSQL cut before the first event whose documents, added to
// those before it, pass $4 bytes as stored (pg_column_size reads no TOASTed value); the
// first event is always in. One pass: the running size is a window over the page's rows,
// which are read once (a first version read the page twice, once to size it).
const readTenantBoundedSQL = `SELECT ` + eventColumns + ` FROM (
	SELECT ` + eventColumns + `, sum(pg_column_size(data) + pg_column_size(metadata)) OVER (ORDER BY seq)
	           - pg_column_size(data) - pg_column_size(metadata) AS before
	  FROM tenantry.events WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3) AS page
WHERE before < $4
ORDER BY seq`

// ReadStream returns up to limit events of one stream from stream version fromVersion on
// (versions start at 1), in version order.
func (s *Store) ReadStream(ctx context.Context, tenant uuid.UUID, stream string, fromVersion int64, limit int) ([]Event, error) {
	if err := ValidateStreamID(stream); err != nil {
		return nil, err
	}
	events, err := s.readInTenant(ctx, tenant, readStreamSQL, tenant, stream, max(fromVersion, 1), clampPage(limit))
	if err != nil {
		return nil, fmt.Errorf("read tenant %s stream %q: %w", tenant, stream, err)
	}
	return events, nil
}

// ReadTenant returns up to limit of a tenant's events with seq > afterSeq, in seq order.
// Seq order is commit order, so paging by the last seq seen never skips an event.
func (s *Store) ReadTenant(ctx context.Context, tenant uuid.UUID, afterSeq int64, limit int) ([]Event, error) {
	events, err := s.readInTenant(ctx, tenant, readTenantSQL, tenant, max(afterSeq, 0), clampPage(limit))
	if err != nil {
		return nil, fmt.Errorf("read tenant %s after seq %d: %w", tenant, afterSeq, err)
	}
	return events, nil
}

// ReadTenantBounded is ReadTenant for readers an outsider can set going (audit exports and
// replays): a page also ends before its events' documents pass MaxPageBytes as stored (it
// holds at least one event), so a history of large events costs bounded memory per page.
// A short page is not the end of the history: read on until a page is empty.
func (s *Store) ReadTenantBounded(ctx context.Context, tenant uuid.UUID, afterSeq int64, limit int) ([]Event, error) {
	events, err := s.readInTenant(ctx, tenant, readTenantBoundedSQL, tenant, max(afterSeq, 0), clampPage(limit), MaxPageBytes)
	if err != nil {
		return nil, fmt.Errorf("read tenant %s after seq %d: %w", tenant, afterSeq, err)
	}
	return events, nil
}

// GlobalCursor is a position in the all-tenants order: (transaction id, position). The
// zero value is the beginning.
type GlobalCursor struct {
	TxID     uint64
	Position int64
}

// Less orders cursors as the global read does.
func (c GlobalCursor) Less(o GlobalCursor) bool {
	return c.TxID < o.TxID || (c.TxID == o.TxID && c.Position < o.Position)
}

// ReadAll returns up to limit events of all tenants after cursor, and the cursor to pass
// next. It reads only events of transactions older than every running transaction, so an
// event that commits later can never sort behind a cursor already handed out: following
// the cursor sees every committed event exactly once.
func (s *Store) ReadAll(ctx context.Context, after GlobalCursor, limit int) ([]Event, GlobalCursor, error) {
	return s.readAllWithin(ctx, after, limit, nil)
}

// readAllWithin is ReadAll that also ends before the events' documents pass budget (nil:
// unbounded); budget.Cut then says the page ended there, not at the end of the log.
func (s *Store) readAllWithin(ctx context.Context, after GlobalCursor, limit int, budget *BatchBudget) ([]Event, GlobalCursor, error) {
	rows, err := s.pool.Query(ctx, readAllSQL, after.TxID, after.Position, clampPage(limit))
	if err != nil {
		return nil, after, fmt.Errorf("read all after %+v: %w", after, err)
	}
	events, err := collectEventsWithin(rows, budget)
	if err != nil {
		return nil, after, fmt.Errorf("read all after %+v: %w", after, err)
	}
	next := after
	if n := len(events); n > 0 {
		next = GlobalCursor{TxID: events[n-1].TxID, Position: events[n-1].Position}
	}
	return events, next, nil
}

// readInTenant runs one query in a transaction whose tenant context is tenant: a pipelined
// batch, one round trip.
func (s *Store) readInTenant(ctx context.Context, tenant uuid.UUID, sql string, args ...any) ([]Event, error) {
	if tenant == uuid.Nil {
		return nil, ErrNoTenant
	}
	b := &pgx.Batch{}
	b.Queue(tenantOnlySQL, tenant.String())
	b.Queue(sql, args...)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	events, err := collectEvents(rows)
	if err != nil {
		return nil, err
	}
	return events, br.Close()
}

func collectEvents(rows pgx.Rows) ([]Event, error) {
	return collectEventsWithin(rows, nil)
}

// collectEventsWithin is collectEvents within budget (nil: unbounded): it stops before the
// first row that does not fit, without decoding it, and closes the rows.
func collectEventsWithin(rows pgx.Rows, budget *BatchBudget) ([]Event, error) {
	defer rows.Close()
	var events []Event
	var decode func(*Event) error
	for rows.Next() {
		if budget != nil {
			raw := rows.RawValues()
			if !budget.take(len(raw[dataColumn]) + len(raw[metadataColumn])) {
				rows.Close()
				break
			}
		}
		if decode == nil { // field descriptions are known once the first row is in
			decode = eventDecoder(rows)
		}
		var e Event
		if err := decode(&e); err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	return events, rows.Err()
}

// eventDecoder returns how to read the current row of rows (selected as eventColumns) into an
// Event: straight from the wire when the formats allow it, through pgx's Scan otherwise.
func eventDecoder(rows pgx.Rows) func(*Event) error {
	var jsonbBinary bool
	if rawBinary(rows, &jsonbBinary) {
		return func(e *Event) error { return decodeRawEvent(rows.RawValues(), jsonbBinary, e) }
	}
	return func(e *Event) error { return scanEvent(rows, e) }
}

// querier runs queries: a pool, a connection or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// readTenantIn reads like ReadTenant, inside the caller's transaction, which must already
// carry the tenant context (projectors read and apply in one transaction).
// It stops within budget (nil: unbounded).
func readTenantIn(ctx context.Context, q querier, tenant uuid.UUID, afterSeq int64, limit int, budget *BatchBudget) ([]Event, error) {
	rows, err := q.Query(ctx, readTenantSQL, tenant, max(afterSeq, 0), clampPage(limit))
	if err != nil {
		return nil, err
	}
	return collectEventsWithin(rows, budget)
}

func scanEvent(rows pgx.Rows, e *Event) error {
	var prev, hash []byte
	var version int32
	if err := rows.Scan(&e.TenantID, &e.Seq, &e.StreamID, &e.StreamVersion, &e.ID, &e.Type, &version,
		&e.Data, &e.Metadata, &e.RecordedAt, &e.TxID, &e.Position, &prev, &hash); err != nil {
		return err
	}
	e.SchemaVersion = int(version)
	copy(e.PrevHash[:], prev)
	copy(e.Hash[:], hash)
	return nil
}

func clampPage(limit int) int {
	if limit <= 0 || limit > MaxPage {
		return MaxPage
	}
	return limit
}

// StoredEventIDs returns which of ids the tenant has events for: how a caller that derives
// event ids from outside keys (usage idempotency keys, Stripe event ids) recognises what
// it has recorded before.
func (s *Store) StoredEventIDs(ctx context.Context, tenant uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	if tenant == uuid.Nil {
		return nil, ErrNoTenant
	}
	seen := make(map[uuid.UUID]bool, len(ids))
	b := &pgx.Batch{}
	b.Queue(tenantOnlySQL, tenant.String())
	b.Queue(`SELECT event_id FROM tenantry.events WHERE tenant_id = $1 AND event_id = ANY($2)`, tenant, ids).
		Query(func(rows pgx.Rows) error {
			found, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
			for _, id := range found {
				seen[id] = true
			}
			return err
		})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("look up %d event ids of tenant %s: %w", len(ids), tenant, err)
	}
	return seen, nil
}

// ClaimedKeys returns which of ids are claimed idempotency keys of tenant (NewEvent.Keys),
// mapped to the seq of the event that claimed each.
func (s *Store) ClaimedKeys(ctx context.Context, tenant uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]int64, error) {
	if tenant == uuid.Nil {
		return nil, ErrNoTenant
	}
	claimed := make(map[uuid.UUID]int64, len(ids))
	b := &pgx.Batch{}
	b.Queue(tenantOnlySQL, tenant.String())
	b.Queue(`SELECT key_id, seq FROM tenantry.event_keys WHERE tenant_id = $1 AND key_id = ANY($2)`, tenant, ids).
		Query(func(rows pgx.Rows) error {
			var id uuid.UUID
			var seq int64
			_, err := pgx.ForEachRow(rows, []any{&id, &seq}, func() error {
				claimed[id] = seq
				return nil
			})
			return err
		})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("look up %d keys of tenant %s: %w", len(ids), tenant, err)
	}
	return claimed, nil
}
