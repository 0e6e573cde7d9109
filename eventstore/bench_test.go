package eventstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// BenchmarkEventStore prints the event store's figures, each next to a baseline measured in
// the same run on the same database: plain INSERT/COPY into a table with the same columns,
// partitioning and indexes but no chain, no locks, no RLS. Each pair runs in alternating
// rounds and reports medians. `make bench BENCH=append_single` selects figures by regexp;
// BENCH_SECONDS sets the length of one round (default 3).
func BenchmarkEventStore(b *testing.B) {
	if b.N > 1 {
		b.Skip("run with -benchtime 1x: the figures time themselves")
	}
	ctx := context.Background()
	db := pgtest.New(b)
	round := 3 * time.Second
	if s, err := strconv.ParseFloat(os.Getenv("BENCH_SECONDS"), 64); err == nil && s > 0 {
		round = time.Duration(s * float64(time.Second))
	}
	const rounds = 3
	setupRawTable(b, db)
	pool := pgtest.Pool(b, db.AppURL, 64)
	store := eventstore.New(pool)
	// Appends go through the group committer, as in `serve`; callers still make one append
	// per event and wait for its own commit.
	committers := 4
	if v, err := strconv.Atoi(os.Getenv("BENCH_COMMITTERS")); err == nil {
		committers = v
	}
	if committers > 0 {
		store = withGroupCommit(b, pool, 2*committers) // committers = conns/2
	}
	tenants := make([]uuid.UUID, 1000)
	for i := range tenants {
		tenants[i] = uuid.Must(uuid.NewV7())
	}
	raw := newRawWriter(pool)
	hot := []uuid.UUID{uuid.Must(uuid.NewV7())}

	pair := func(name, unit, baseName string, run, base func(time.Duration) float64) {
		var vs, bs []float64
		for r := 0; r < rounds; r++ {
			bs = append(bs, base(round))
			vs = append(vs, run(round))
		}
		pgtest.BenchLine(name, pgtest.Median(vs), unit, baseName, pgtest.Median(bs))
	}
	rawSingle := func(d time.Duration) float64 { return drive(d, 64, tenants, raw.insert) }

	if pgtest.BenchSelected("append_single") {
		pair("append_single", "events/s", "raw_insert_single",
			func(d time.Duration) float64 {
				return drive(d, 64, tenants, func(t uuid.UUID) (int, error) {
					_, err := store.Append(ctx, t, "s", eventstore.Any, benchEvent(0))
					return 1, err
				})
			}, rawSingle)
	}
	if pgtest.BenchSelected("append_batch100") {
		pair("append_batch100", "events/s", "raw_copy_batch100",
			func(d time.Duration) float64 {
				return drive(d, 16, tenants, func(t uuid.UUID) (int, error) {
					batch := make([]eventstore.NewEvent, 100)
					for i := range batch {
						batch[i] = benchEvent(i)
					}
					_, err := store.Append(ctx, t, "s", eventstore.Any, batch...)
					return 100, err
				})
			},
			func(d time.Duration) float64 { return drive(d, 16, tenants, raw.copy100) })
	}
	if pgtest.BenchSelected("append_hot_tenant") {
		pair("append_hot_tenant", "events/s", "raw_insert_single",
			func(d time.Duration) float64 {
				return drive(d, 64, hot, func(t uuid.UUID) (int, error) {
					_, err := store.Append(ctx, t, "s", eventstore.Any, benchEvent(0))
					return 1, err
				})
			}, rawSingle)
	}
	if pgtest.BenchSelected("read_tenant|verify_chain") {
		reader := uuid.Must(uuid.NewV7())
		const n = 100_000
		for i := 0; i < n/1000; i++ {
			batch := make([]eventstore.NewEvent, 1000)
			for j := range batch {
				batch[j] = benchEvent(j)
			}
			if _, err := store.Append(ctx, reader, "s", eventstore.Any, batch...); err != nil {
				b.Fatal(err)
			}
		}
		copyForRawRead(b, db, reader)
		readAll := func() float64 {
			start := time.Now()
			var after int64
			for {
				page, err := store.ReadTenant(ctx, reader, after, 1000)
				if err != nil {
					b.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				after = page[len(page)-1].Seq
			}
			return pgtest.Rate(after, time.Since(start))
		}
		rawRead := func() float64 { return rawSelect(b, pool, reader, n) }
		repeat := func(f func() float64) func(time.Duration) float64 {
			return func(d time.Duration) float64 {
				var xs []float64
				for end := time.Now().Add(d); time.Now().Before(end); {
					xs = append(xs, f())
				}
				return pgtest.Median(xs)
			}
		}
		if pgtest.BenchSelected("read_tenant") {
			pair("read_tenant", "events/s", "raw_select_tenant", repeat(readAll), repeat(rawRead))
		}
		if pgtest.BenchSelected("verify_chain") {
			// VerifyChain reads the stream in one query and hashes every event: its baseline
			// is that one query, raw (no tenant context, no hashing).
			pair("verify_chain", "events/s", "raw_select_tenant_one_query", repeat(func() float64 {
				start := time.Now()
				rep, err := store.VerifyChain(ctx, reader)
				if err != nil || !rep.OK || rep.Events != n {
					b.Fatalf("verify: %+v %v", rep, err)
				}
				return pgtest.Rate(rep.Events, time.Since(start))
			}), repeat(func() float64 { return rawSelectOneQuery(b, pool, reader, n) }))
		}
	}
}

// drive runs callers goroutines for d, each calling op on a random tenant, and returns the
// events per second they achieved together.
func drive(d time.Duration, callers int, tenants []uuid.UUID, op func(uuid.UUID) (int, error)) float64 {
	var total atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	start := time.Now()
	end := start.Add(d)
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), uint64(start.UnixNano())))
			for time.Now().Before(end) {
				n, err := op(tenants[rng.IntN(len(tenants))])
				if err != nil {
					failed.Store(err)
					return
				}
				total.Add(int64(n))
			}
		}(c)
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		panic(fmt.Sprintf("benchmark operation failed: %v", err))
	}
	return pgtest.Rate(total.Load(), time.Since(start))
}

var benchData = json.RawMessage(`{"metric":"api_calls","quantity":1,"occurred_at":"2026-11-25T10:00:00Z","idempotency_key":"k-0123456789"}`)

func benchEvent(i int) eventstore.NewEvent {
	return eventstore.NewEvent{ID: uuid.Must(uuid.NewV7()), Type: "usage.recorded", SchemaVersion: 1,
		Data: benchData, Metadata: eventstore.Metadata{Actor: "bench", RequestID: "req-0123456789abcdef"}}
}

// setupRawTable creates the baseline table: the events table's columns, partitioning and
// indexes, without triggers, RLS or the append function.
func setupRawTable(b *testing.B, db *pgtest.DB) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.SuperURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	stmts := []string{
		`CREATE TABLE tenantry.bench_raw (LIKE tenantry.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
			PRIMARY KEY (tenant_id, seq), UNIQUE (tenant_id, event_id), UNIQUE (tenant_id, stream_id, stream_version))
			PARTITION BY HASH (tenant_id)`,
		`CREATE INDEX ON tenantry.bench_raw (tx_id, position)`,
		`DO $$ BEGIN FOR i IN 0..15 LOOP
			EXECUTE format('CREATE TABLE tenantry.bench_raw_p%s PARTITION OF tenantry.bench_raw FOR VALUES WITH (MODULUS 16, REMAINDER %s)', i, i);
		END LOOP; END $$`,
		`GRANT SELECT, INSERT ON tenantry.bench_raw TO tenantry_app`,
	}
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			b.Fatalf("%s: %v", s, err)
		}
	}
}

type rawWriter struct {
	pool *pgxpool.Pool
	mu   sync.Mutex
	seqs map[uuid.UUID]*atomic.Int64
}

func newRawWriter(pool *pgxpool.Pool) *rawWriter {
	return &rawWriter{pool: pool, seqs: map[uuid.UUID]*atomic.Int64{}}
}

func (w *rawWriter) next(t uuid.UUID, n int64) int64 {
	w.mu.Lock()
	c, ok := w.seqs[t]
	if !ok {
		c = new(atomic.Int64)
		w.seqs[t] = c
	}
	w.mu.Unlock()
	return c.Add(n) - n + 1
}

var rawHash = sha256.Sum256([]byte("baseline"))

const rawInsertSQL = `INSERT INTO tenantry.bench_raw (tenant_id, seq, stream_id, stream_version, event_id, event_type,
	schema_version, data, metadata, recorded_at, tx_id, position, prev_hash, hash)
	VALUES ($1, $2, 's', $2, $3, 'usage.recorded', 1, $4, $5, now(), pg_current_xact_id(), $6, $7, $7)`

var rawMeta = []byte(`{"actor": "bench", "request_id": "req-0123456789abcdef"}`)

var rawPosition atomic.Int64

func (w *rawWriter) insert(t uuid.UUID) (int, error) {
	seq := w.next(t, 1)
	_, err := w.pool.Exec(context.Background(), rawInsertSQL, t, seq, uuid.Must(uuid.NewV7()), string(benchData), string(rawMeta), rawPosition.Add(1), rawHash[:])
	return 1, err
}

func (w *rawWriter) copy100(t uuid.UUID) (int, error) {
	first := w.next(t, 100)
	rows := make([][]any, 100)
	now := time.Now()
	for i := range rows {
		seq := first + int64(i)
		rows[i] = []any{t, seq, "s", seq, uuid.Must(uuid.NewV7()), "usage.recorded", int32(1), string(benchData), string(rawMeta), now, uint64(1), rawPosition.Add(1), rawHash[:], rawHash[:]}
	}
	_, err := w.pool.CopyFrom(context.Background(), pgx.Identifier{"tenantry", "bench_raw"},
		[]string{"tenant_id", "seq", "stream_id", "stream_version", "event_id", "event_type", "schema_version", "data", "metadata", "recorded_at", "tx_id", "position", "prev_hash", "hash"},
		pgx.CopyFromRows(rows))
	return 100, err
}

// rawSelect reads the same tenant's rows with plain keyset paging and no tenant context
// (the owner policy is not in play: it reads the baseline table, copied for the purpose).
func rawSelect(b *testing.B, pool *pgxpool.Pool, tenant uuid.UUID, n int) float64 {
	ctx := context.Background()
	start := time.Now()
	var after int64
	for {
		rows, err := pool.Query(ctx, `SELECT tenant_id, seq, stream_id, stream_version, event_id, event_type, schema_version,
			data, metadata, recorded_at, tx_id, position, prev_hash, hash FROM tenantry.bench_raw_read WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT 1000`, tenant, after)
		if err != nil {
			b.Fatal(err)
		}
		last := scanRaw(b, rows)
		if last == 0 {
			break
		}
		after = last
	}
	if after != int64(n) {
		b.Fatalf("raw read saw %d of %d", after, n)
	}
	return pgtest.Rate(after, time.Since(start))
}

// rawSelectOneQuery reads the same tenant's rows as rawSelect does, in one query ordered by
// seq, as VerifyChain reads them.
func rawSelectOneQuery(b *testing.B, pool *pgxpool.Pool, tenant uuid.UUID, n int) float64 {
	start := time.Now()
	rows, err := pool.Query(context.Background(), `SELECT tenant_id, seq, stream_id, stream_version, event_id, event_type, schema_version,
		data, metadata, recorded_at, tx_id, position, prev_hash, hash FROM tenantry.bench_raw_read WHERE tenant_id = $1 ORDER BY seq`, tenant)
	if err != nil {
		b.Fatal(err)
	}
	got := scanRaw(b, rows)
	if got != int64(n) {
		b.Fatalf("raw read saw %d of %d", got, n)
	}
	return pgtest.Rate(got, time.Since(start))
}

// scanRaw scans rows of the baseline tables into events, closes them and returns the last
// seq it saw (0 for none).
func scanRaw(b *testing.B, rows pgx.Rows) int64 {
	defer rows.Close()
	var last int64
	for rows.Next() {
		var e eventstore.Event
		var prev, hash []byte
		var v int32
		if err := rows.Scan(&e.TenantID, &e.Seq, &e.StreamID, &e.StreamVersion, &e.ID, &e.Type, &v, &e.Data, &e.Metadata, &e.RecordedAt, &e.TxID, &e.Position, &prev, &hash); err != nil {
			b.Fatal(err)
		}
		last = e.Seq
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return last
}

// copyForRawRead copies a tenant's events into a table without RLS, for the read baseline.
func copyForRawRead(b *testing.B, db *pgtest.DB, tenant uuid.UUID) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.SuperURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range []string{
		`CREATE TABLE tenantry.bench_raw_read AS SELECT * FROM tenantry.events WHERE tenant_id = '` + tenant.String() + `'`,
		`ALTER TABLE tenantry.bench_raw_read ADD PRIMARY KEY (tenant_id, seq)`,
		`GRANT SELECT ON tenantry.bench_raw_read TO tenantry_app`,
		`ANALYZE tenantry.bench_raw_read`,
		`ANALYZE tenantry.events`,
	} {
		if _, err := conn.Exec(ctx, s); err != nil {
			b.Fatalf("%s: %v", s, err)
		}
	}
}

// BenchmarkFastPath_GroupCommit weighs group commit (a GroupCommitter with 4 committers,
// as in `serve`) against direct appends (a Store without one: each append its own
// transaction). Figure: append_single's events/s, 64 writers each appending one event per
// call over 1,000 tenants; one op is 3,200 such appends. Both stores share one 64-connection
// pool, so the sub-benchmarks differ in the path alone.
func BenchmarkFastPath_GroupCommit(b *testing.B) {
	if !pgtest.BenchSelected("fastpath") { // `make bench BENCH=...` runs it only when asked
		b.Skip("fastpath not selected")
	}
	ctx := context.Background()
	pool := pgtest.Pool(b, testDB.AppURL, 64)
	tenants := make([]uuid.UUID, 1000)
	for i := range tenants {
		tenants[i] = uuid.Must(uuid.NewV7())
	}
	grouped, direct := withGroupCommit(b, pool, 8), eventstore.New(pool) // 4 committers
	const writers, perWriter = 64, 50
	for _, c := range []struct {
		name  string
		store *eventstore.Store
	}{{"fast", grouped}, {"plain", direct}} {
		b.Run(c.name, func(b *testing.B) {
			var events int64
			start := time.Now()
			for b.Loop() {
				events += appendEach(b, writers, perWriter, tenants, func(t uuid.UUID) error {
					_, err := c.store.Append(ctx, t, "s", eventstore.Any, benchEvent(0))
					return err
				})
			}
			b.ReportMetric(pgtest.Rate(events, time.Since(start)), "events/s")
		})
	}
}

// appendEach runs writers goroutines, each calling op n times on random tenants, and
// returns the number of calls; it fails b on the first error.
func appendEach(b *testing.B, writers, n int, tenants []uuid.UUID, op func(uuid.UUID) error) int64 {
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for i := 0; i < n; i++ {
				if err := op(tenants[rng.IntN(len(tenants))]); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	return int64(writers * n)
}
