package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store appends and reads events through a pool logged in as the runtime role
// (tenantry_app); row-level security holds every call to the tenant it names.
type Store struct {
	pool     *pgxpool.Pool
	notifier *Notifier
	group    *GroupCommitter
	observe  func(events int, took time.Duration, err error)
}

// StoreConfig is what a Store does around its appends, fixed when it is built: nothing
// attaches itself to a running store.
type StoreConfig struct {
	// GroupCommitters, above 0, gives the store a GroupCommitter with that many concurrent
	// transactions: while it runs (see Store.GroupCommitter), concurrent small appends share
	// transactions. 0 sends every append on its own.
	GroupCommitters int
	// Notifier, when set, is told of every successful append (it wakes relays).
	Notifier *Notifier
	// Observe, when set, is told about every append: how many events, how long it took,
	// and its error (for metrics).
	Observe func(events int, took time.Duration, err error)
}

// NewStore returns a Store over pool that groups, announces and observes its appends as
// cfg says.
func NewStore(pool *pgxpool.Pool, cfg StoreConfig) (*Store, error) {
	if pool == nil {
		return nil, errors.New("new store: no pool")
	}
	if cfg.GroupCommitters < 0 {
		return nil, fmt.Errorf("new store: GroupCommitters is %d, want 0 (none) or more", cfg.GroupCommitters)
	}
	s := &Store{pool: pool, notifier: cfg.Notifier, observe: cfg.Observe}
	if cfg.GroupCommitters > 0 {
		s.group = newGroupCommitter(s, cfg.GroupCommitters)
	}
	return s, nil
}

// GroupCommitter is the store's group committer, or nil when StoreConfig.GroupCommitters
// was 0. Its owner must Run it: small appends wait for it to run, and go straight to the
// database again once it has stopped.
func (s *Store) GroupCommitter() *GroupCommitter { return s.group }

// New returns a Store over pool that sends each append on its own.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Pool is the pool the store runs on.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Appends set the tenant context in their own statement (tenantContextOf, tenantctx.go).
var (
	// The tenant context is set by the same statement, in the argument the function depends
	// on: arguments are evaluated before the function runs, so the context is in place for
	// all of its statements, and it ends with the statement's (implicit) transaction.
	// Parameters are passed by name, so the function's parameter order is no contract;
	// appendParams.args is the one place that lists the placeholders' values.
	appendSQL = `SELECT seq, stream_version, event_id, position, recorded_at, hash
FROM tenantry.append_events(p_tenant => ` + tenantContextOf("$1") + `::uuid, p_stream => $2, p_expected => $3,
	p_ids => $4, p_types => $5, p_versions => $6, p_data => $7, p_metadata => $8,
	p_keys => $9, p_key_events => $10,
	p_u_events => $11, p_u_idx => $12, p_u_at => $13, p_u_metrics => $14, p_u_periods => $15,
	p_u_sums => $16, p_u_maxes => $17, p_u_lasts => $18, p_u_limits => $19)`

	// groupAppendSQL is a group's appends in one statement, one transaction: the group
	// function takes every tenant's lock and runs each of its statements once for the whole
	// group (migrations/functions/append_events_group.sql), where one append_events call per
	// append would run them once per append. Each call's events are a 1-based slice of the
	// group's arrays. The transaction has no tenant context: the group spans tenants, and the
	// function scopes its writes to the tenants it locked. groupParams.args lists the
	// placeholders' values.
	groupAppendSQL = `SELECT tenant_id, seq, stream_version, event_id, position, recorded_at, hash
FROM tenantry.append_events_group(p_tenants => $1::text[]::uuid[], p_streams => $2, p_expected => $3,
	p_lo => $4, p_hi => $5, p_klo => $6, p_khi => $7,
	p_ids => $8, p_types => $9, p_versions => $10, p_data => $11, p_metadata => $12,
	p_keys => $13, p_key_events => $14,
	p_u_events => $15, p_u_idx => $16, p_u_at => $17, p_u_metrics => $18, p_u_periods => $19,
	p_u_sums => $20, p_u_maxes => $21, p_u_lasts => $22, p_u_limits => $23)`

	findEventsSQL = `SELECT f.seq, f.stream_version, f.event_id, f.position, f.recorded_at, f.hash, f.same
FROM (SELECT ` + tenantContextOf("$1") + `::uuid AS t) ctx,
LATERAL tenantry.find_events(p_tenant => ctx.t, p_stream => $2, p_ids => $3, p_types => $4,
	p_versions => $5, p_data => $6) f`
)

// appendParams is one call of tenantry.append_events: the events as parallel arrays, the
// keys they claim (Keys[i] by the event at 1-based index KeyEvents[i]), and their usage
// deltas (Usage.Events[i] the 1-based index of the event that adds row i).
type appendParams struct {
	Tenant    uuid.UUID
	Stream    string
	Expected  ExpectedVersion
	IDs       []uuid.UUID
	Types     []string
	Versions  []int32
	Data      []string
	Meta      []string
	Keys      []uuid.UUID
	KeyEvents []int32
	Usage     usageParams
}

// usageParams is the p_u_* arrays of the append functions: nil (SQL NULL) when the append
// adds no usage. Limits holds "" for no hard quota.
type usageParams struct {
	Events, Idx                []int32
	At                         []int64
	Metrics                    []string
	Periods                    []time.Time
	Sums, Maxes, Lasts, Limits []string
}

// add appends event ev's (1-based) deltas.
func (u *usageParams) add(ev int32, deltas []UsageDelta) {
	for _, d := range deltas {
		u.Events = append(u.Events, ev)
		u.Idx = append(u.Idx, d.LastIndex)
		u.At = append(u.At, d.LastAt.UnixNano())
		u.Metrics = append(u.Metrics, d.Metric)
		u.Periods = append(u.Periods, d.Period)
		u.Sums = append(u.Sums, d.Sum)
		u.Maxes = append(u.Maxes, d.Max)
		u.Lasts = append(u.Lasts, d.Last)
		u.Limits = append(u.Limits, d.Quota)
	}
}

// merge appends o's rows, whose events come after shift events of u's append.
func (u *usageParams) merge(o *usageParams, shift int32) {
	for _, ev := range o.Events {
		u.Events = append(u.Events, ev+shift)
	}
	u.Idx = append(u.Idx, o.Idx...)
	u.At = append(u.At, o.At...)
	u.Metrics = append(u.Metrics, o.Metrics...)
	u.Periods = append(u.Periods, o.Periods...)
	u.Sums = append(u.Sums, o.Sums...)
	u.Maxes = append(u.Maxes, o.Maxes...)
	u.Lasts = append(u.Lasts, o.Lasts...)
	u.Limits = append(u.Limits, o.Limits...)
}

// args are the p_u_* placeholder values.
func (u *usageParams) args() []any {
	return []any{u.Events, u.Idx, u.At, u.Metrics, u.Periods, u.Sums, u.Maxes, u.Lasts, u.Limits}
}

// args are appendSQL's placeholder values.
func (p *appendParams) args() []any {
	return append([]any{p.Tenant.String(), p.Stream, int64(p.Expected), p.IDs, p.Types, p.Versions, p.Data, p.Meta, p.Keys, p.KeyEvents},
		p.Usage.args()...)
}

// findArgs are findEventsSQL's placeholder values: where p's events are stored, if they are.
func (p *appendParams) findArgs() []any {
	return []any{p.Tenant.String(), p.Stream, p.IDs, p.Types, p.Versions, p.Data}
}

// Append writes events to one stream of one tenant, all or nothing. expected is checked
// against the stream's version under the tenant's lock; a mismatch is a *ConcurrencyError.
// Appending events whose ids are all stored with the same content is a retry: nothing is
// written and the result has Retried set, whatever expected says. Ids stored with other
// content fail with ErrEventIDConflict.
//
// One append is one statement, one round trip and one transaction, or, with a running
// GroupCommitter and fewer than directAppend events, a share of one transaction with other
// concurrent appends; callers cannot tell the difference. Recognising a retry costs a second round trip, only when the first
// one failed.
func (s *Store) Append(ctx context.Context, tenant uuid.UUID, stream string, expected ExpectedVersion, events ...NewEvent) (_ AppendResult, err error) {
	if s.observe != nil {
		start := time.Now()
		defer func() { s.observe(len(events), time.Since(start), err) }()
	}
	params, callerIDs, err := newAppendParams(tenant, stream, expected, events)
	if err != nil {
		return AppendResult{}, err
	}
	var res AppendResult
	grouped := false
	if s.group != nil && len(events) < directAppend {
		var reply appendReply
		reply, grouped = s.group.submit(&appendReq{ctx: ctx, params: params, reply: make(chan appendReply, 1)})
		res, err = reply.res, reply.err
	}
	if !grouped {
		res, err = s.send(ctx, appendSQL, params.args(), len(events), scanAppended)
	}
	if err != nil && callerIDs && mayBeRetry(err) {
		res, err = s.retried(ctx, params, err)
	}
	if err != nil {
		return AppendResult{}, fmt.Errorf("append to tenant %s stream %q: %w", tenant, stream, mapAppendError(err, stream, expected))
	}
	if s.notifier != nil && !res.Retried {
		s.notifier.appended(tenant, res.LastSeq)
	}
	feeds.appended(tenant, res.LastSeq)
	return res, nil
}

// directAppend is the size from which an append goes straight to the database even with a
// GroupCommitter: it has the commit to itself anyway, and in its own transaction it parses
// and encodes its events while another append of the tenant holds the tenant's lock
// (append_events does that work before taking the lock), instead of queueing behind it in
// the tenant's group.
const directAppend = 500

// retried asks whether a failed append's events are all stored already, with the same
// content: then the failure was a retry of an append that succeeded.
func (s *Store) retried(ctx context.Context, p *appendParams, cause error) (AppendResult, error) {
	found, n := 0, len(p.IDs)
	same := true
	res, err := s.send(ctx, findEventsSQL, p.findArgs(), n,
		func(rows pgx.Rows, a *Appended) error {
			var seq *int64
			var sv, pos *int64
			var at *time.Time
			var hash []byte
			var sameContent bool
			if err := rows.Scan(&seq, &sv, &a.ID, &pos, &at, &hash, &sameContent); err != nil {
				return err
			}
			if seq != nil {
				found++
				a.Seq, a.StreamVersion, a.Position, a.RecordedAt = *seq, *sv, *pos, *at
				copy(a.Hash[:], hash)
			}
			same = same && sameContent
			return nil
		})
	switch {
	case err != nil:
		return AppendResult{}, fmt.Errorf("%w (checking for a retry: %v)", cause, err)
	case found == 0:
		return AppendResult{}, cause
	case found < n || !same:
		return AppendResult{}, fmt.Errorf("%w: %d of %d event ids are stored, not all with this content", ErrEventIDConflict, found, n)
	}
	res.Retried = true
	return res, nil
}

// newAppendParams validates an append and builds its parameters; callerIDs is true when
// the caller chose every event id (only then can a failure be a retry).
func newAppendParams(tenant uuid.UUID, stream string, expected ExpectedVersion, events []NewEvent) (p *appendParams, callerIDs bool, err error) {
	if tenant == uuid.Nil {
		return nil, false, ErrNoTenant
	}
	if err := ValidateStreamID(stream); err != nil {
		return nil, false, err
	}
	if expected < Any {
		return nil, false, fmt.Errorf("%w: expected version %d", ErrInvalidEvent, int64(expected))
	}
	if len(events) == 0 || len(events) > MaxEventsPerAppend {
		return nil, false, fmt.Errorf("%w: an append takes 1 to %d events, got %d", ErrInvalidEvent, MaxEventsPerAppend, len(events))
	}
	callerIDs = true
	n := len(events)
	ids := make([]uuid.UUID, n)
	types := make([]string, n)
	versions := make([]int32, n)
	data := make([]string, n)
	meta := make([]string, n)
	seen := make(map[uuid.UUID]struct{}, n)
	var keys []uuid.UUID
	var keyEvents []int32
	var claimed map[uuid.UUID]struct{}
	var usage usageParams
	for i := range events {
		e := &events[i]
		if err := e.validate(); err != nil {
			return nil, false, err
		}
		id := e.ID
		if id == uuid.Nil {
			callerIDs = false
			if id, err = uuid.NewV7(); err != nil {
				return nil, false, fmt.Errorf("generate event id: %w", err)
			}
		}
		if _, dup := seen[id]; dup {
			return nil, false, fmt.Errorf("%w: event id %s appears twice in one append", ErrInvalidEvent, id)
		}
		seen[id] = struct{}{}
		if i > 0 && e.Metadata == events[i-1].Metadata {
			meta[i] = meta[i-1] // a batch's events usually share their metadata
		} else {
			m, err := json.Marshal(e.Metadata)
			if err != nil {
				return nil, false, fmt.Errorf("encode metadata: %w", err)
			}
			meta[i] = string(m)
		}
		ids[i], types[i], versions[i], data[i] = id, e.Type, int32(e.SchemaVersion), string(e.Data)
		usage.add(int32(i+1), e.Usage)
		for _, k := range e.Keys {
			if claimed == nil {
				claimed = make(map[uuid.UUID]struct{}, len(e.Keys))
			}
			if _, dup := claimed[k]; dup || k == uuid.Nil {
				return nil, false, fmt.Errorf("%w: key %s is nil or claimed twice in one append", ErrInvalidEvent, k)
			}
			claimed[k] = struct{}{}
			keys = append(keys, k)
			keyEvents = append(keyEvents, int32(i+1))
		}
	}
	return &appendParams{Tenant: tenant, Stream: stream, Expected: expected, IDs: ids, Types: types,
		Versions: versions, Data: data, Meta: meta, Keys: keys, KeyEvents: keyEvents, Usage: usage}, callerIDs, nil
}

// send runs one statement that sets the tenant context itself (its first argument is the
// tenant) and expects exactly n rows: one round trip, one transaction.
func (s *Store) send(ctx context.Context, sql string, args []any, n int, scan func(pgx.Rows, *Appended) error) (AppendResult, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return AppendResult{}, err
	}
	return readAppended(rows, n, scan)
}

func scanAppended(rows pgx.Rows, a *Appended) error {
	var hash []byte
	if err := rows.Scan(&a.Seq, &a.StreamVersion, &a.ID, &a.Position, &a.RecordedAt, &hash); err != nil {
		return err
	}
	copy(a.Hash[:], hash)
	return nil
}

func readAppended(rows pgx.Rows, n int, scan func(pgx.Rows, *Appended) error) (AppendResult, error) {
	defer rows.Close()
	events := make([]Appended, 0, n)
	for rows.Next() {
		var a Appended
		if err := scan(rows, &a); err != nil {
			return AppendResult{}, err
		}
		events = append(events, a)
	}
	if err := rows.Err(); err != nil {
		return AppendResult{}, err
	}
	return appendResult(events, n)
}

// appendResult is the result of an append of n events whose rows are events.
func appendResult(events []Appended, n int) (AppendResult, error) {
	res := AppendResult{Events: events}
	if len(res.Events) != n {
		return AppendResult{}, fmt.Errorf("append returned %d rows for %d events", len(res.Events), n)
	}
	sort.Slice(res.Events, func(i, j int) bool { return res.Events[i].Seq < res.Events[j].Seq })
	res.FirstSeq = res.Events[0].Seq
	res.LastSeq = res.Events[n-1].Seq
	res.StreamVersion = res.Events[n-1].StreamVersion
	return res, nil
}
