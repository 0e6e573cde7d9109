package projections

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/catalog"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// BenchmarkProjections prints the projection figures, each next to a baseline measured in
// the same run on the same database. BENCH selects figures by regexp; BENCH_TENANTS sets
// the schema count of the *_10k figures (default 10000).
func BenchmarkProjections(b *testing.B) {
	if b.N > 1 {
		b.Skip("run with -benchtime 1x: the figures time themselves")
	}
	want := func(names ...string) bool {
		for _, n := range names {
			if pgtest.BenchSelected(n) {
				return true
			}
		}
		return false
	}
	if !want("provision_tenant", "migrate_noop_10k", "migrate_add_column_10k", "project_rebuild", "projection_lag_p99", "backend_memory_10k", "project_scaleout") {
		b.Skip("no projection figure selected")
	}
	db := pgtest.New(b)
	app := pgtest.Pool(b, db.WorkerURL, 16)
	super := pgtest.Pool(b, db.SuperURL, 4)
	reg := eventstore.NewRegistry()
	err := catalog.Register(reg)
	if err != nil {
		b.Fatal(err)
	}
	f := &fixture{pool: app, store: eventstore.New(app), reg: reg}

	if want("provision_tenant") {
		benchProvision(b, f, super)
	}
	if want("project_rebuild") {
		benchRebuild(b, f, super)
	}
	if want("project_scaleout") {
		benchScaleout(b, f, db)
	}
	if want("projection_lag_p99") {
		benchLag(b, f, super)
	}
	if want("migrate_noop_10k", "migrate_add_column_10k", "backend_memory_10k") {
		benchTenantMigrations(b, f, db, super)
	}
}

// benchRounds is how many alternating rounds of figure and baseline each figure runs; it
// reports their medians (the machines are shared and noisy).
const benchRounds = 3

// benchProvision times provisioning through tenantry.migrate_tenant_schema against the same
// DDL run directly, one transaction per tenant, sequentially.
func benchProvision(b *testing.B, f *fixture, super *pgxpool.Pool) {
	ctx := context.Background()
	const n = 100
	ids := createdTenants(b, f, benchRounds*n)
	ms, err := migrations.LoadTenantMigrations(migrations.TenantFS())
	if err != nil {
		b.Fatal(err)
	}
	var ddl strings.Builder
	for _, m := range ms {
		ddl.WriteString(m.SQL)
		ddl.WriteString("\n")
	}
	var vs, bs []float64
	for r := 0; r < benchRounds; r++ {
		part := ids[r*n : (r+1)*n]
		start := time.Now()
		for i := 0; i < n; i++ {
			schema := fmt.Sprintf("bench_raw_%d_%d", r, i)
			err := pgx.BeginFunc(ctx, super, func(tx pgx.Tx) error {
				stmts := []string{
					"SET LOCAL ROLE tenantry_owner",
					"CREATE SCHEMA " + schema,
					"SET LOCAL search_path = " + schema,
					ddl.String(),
					"GRANT USAGE ON SCHEMA " + schema + " TO tenantry_app",
					"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA " + schema + " TO tenantry_app",
				}
				for _, s := range stmts {
					if _, err := tx.Exec(ctx, s); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		bs = append(bs, pgtest.Rate(n, time.Since(start)))
		start = time.Now()
		for _, id := range part {
			if _, err := f.pool.Exec(ctx, `SELECT tenantry.migrate_tenant_schema($1)`, id); err != nil {
				b.Fatal(err)
			}
		}
		vs = append(vs, pgtest.Rate(n, time.Since(start)))
	}
	pgtest.BenchLine("provision_tenant", pgtest.Median(vs), "tenants/s", "raw_ddl_one_tx", pgtest.Median(bs))
}

// createdTenants appends tenant.created (and a founder) for n fresh tenants.
func createdTenants(b *testing.B, f *fixture, n int) []uuid.UUID {
	ids := make([]uuid.UUID, n)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				var err error
				if ids[i], err = f.tryCreateTenant(); !assert.NoError(b, err) { // not require: not the benchmark's goroutine
					return
				}
			}
		}(w)
	}
	wg.Wait()
	return ids
}

func usageBatch(b *testing.B, n, offset int) []domain.Event {
	out := make([]domain.Event, n)
	for i := range out {
		out[i] = usageEvent(b, offset+i)
	}
	return out
}

// benchRebuild times a full rebuild of one tenant (its events read, applied to a fresh
// shadow schema, swapped in) against the raw read and write of as many rows: the same events
// read page by page and COPYed into a fresh table in batches of 100.
func benchRebuild(b *testing.B, f *fixture, super *pgxpool.Pool) {
	ctx := context.Background()
	const n = 20000
	id := f.createTenant(b)
	for i := 0; i < n/1000; i++ {
		f.append(b, id, usage.StreamID, usageBatch(b, 1000, i*1000)...)
	}
	p := f.projector()
	p.BatchSize = 1000
	f.projectAll(b, p, id)
	head, _, err := f.store.Head(ctx, id)
	if err != nil {
		b.Fatal(err)
	}
	columns := []string{"tenant_id", "seq", "stream_id", "stream_version", "event_id", "event_type", "schema_version",
		"data", "metadata", "recorded_at", "tx_id", "position", "prev_hash", "hash"}
	raw := func(r int) float64 {
		table := fmt.Sprintf("bench_rebuild_raw_%d", r)
		if _, err := super.Exec(ctx, `CREATE TABLE public.`+table+` (LIKE tenantry.events INCLUDING DEFAULTS)`); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		var read int64
		for after := int64(0); ; {
			page, err := f.store.ReadTenant(ctx, id, after, 1000)
			if err != nil {
				b.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for i := 0; i < len(page); i += 100 {
				rows := make([][]any, 0, 100)
				for _, e := range page[i:min(i+100, len(page))] {
					rows = append(rows, []any{e.TenantID, e.Seq, e.StreamID, e.StreamVersion, e.ID, e.Type, int32(e.SchemaVersion),
						string(e.Data), string(e.Metadata), e.RecordedAt, e.TxID, e.Position, e.PrevHash[:], e.Hash[:]})
				}
				if _, err := super.CopyFrom(ctx, pgx.Identifier{"public", table}, columns, pgx.CopyFromRows(rows)); err != nil {
					b.Fatal(err)
				}
			}
			read += int64(len(page))
			after = page[len(page)-1].Seq
		}
		if read != head {
			b.Fatalf("raw rebuild read %d of %d events", read, head)
		}
		return pgtest.Rate(read, time.Since(start))
	}
	var vs, bs []float64
	for r := 0; r < benchRounds; r++ {
		bs = append(bs, raw(r))
		start := time.Now()
		if err := p.Rebuild(ctx, id, nil); err != nil {
			b.Fatal(err)
		}
		vs = append(vs, pgtest.Rate(head, time.Since(start)))
	}
	pgtest.BenchLine("project_rebuild", pgtest.Median(vs), "events/s", "read_pages_copy_batch100", pgtest.Median(bs))
}

// benchLag appends 1,000 events/s over 100 tenants for a while, with the relay, the bus and
// the projector running as in `serve`, and samples how long each event takes from its
// append's commit to read-model visibility. The baseline is the append's own latency. Both
// run at once, so rounds cannot alternate: each is the median of three consecutive
// windows' p99.
func benchLag(b *testing.B, f *fixture, super *pgxpool.Pool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ids := createdTenants(b, f, 100)
	notifier := eventstore.NewNotifier(f.pool, 0, slog.New(slog.DiscardHandler))
	store, err := eventstore.NewStore(f.pool, eventstore.StoreConfig{Notifier: notifier, GroupCommitters: 4}) // as in serve
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = store.GroupCommitter().Run(ctx) }()
	bus := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 1024, BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
	msgs, err := bus.Subscribe(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	relay := &eventstore.Relay{Store: store, Publisher: bus, Topic: "bench", Name: "bench", Logger: slog.New(slog.DiscardHandler), Wake: notifier.Subscribe()}
	p := f.projector()
	p.PollInterval = time.Minute
	if w, err := strconv.Atoi(os.Getenv("BENCH_WORKERS")); err == nil {
		p.Workers = w
	}
	go func() { _ = notifier.Run(ctx) }()
	go func() { _ = relay.Run(ctx) }()
	// Note when the relay delivers each event, to split the lag into relay and projector.
	var relayedMu sync.Mutex
	relayed := map[string]time.Time{}
	fwd := make(chan *message.Message, 1024)
	go func() {
		for m := range msgs {
			first, _ := strconv.ParseInt(m.Metadata.Get(eventstore.MetaFirstSeq), 10, 64)
			last, _ := strconv.ParseInt(m.Metadata.Get(eventstore.MetaSeq), 10, 64)
			at := time.Now()
			relayedMu.Lock()
			for seq := first; seq <= last; seq++ {
				relayed[m.Metadata.Get(eventstore.MetaTenantID)+"/"+strconv.FormatInt(seq, 10)] = at
			}
			relayedMu.Unlock()
			fwd <- m
		}
	}()
	go p.Consume(ctx, fwd)
	go func() { _ = p.Run(ctx) }()
	for _, id := range ids { // provisioned and caught up before measuring
		if err := f.store.WaitFor(ctx, id, 2, time.Minute); err != nil {
			b.Fatal(err)
		}
	}

	seconds := 10.0
	if s, err := strconv.ParseFloat(os.Getenv("BENCH_SECONDS"), 64); err == nil && s > 0 {
		seconds = 3 * s
	}
	// The figure is the steady state: the load runs for a warm-up first (each connection
	// meets each tenant schema once, caches fill), whose events are not counted.
	warmup := 3 * time.Second
	measureFrom := time.Now().Add(warmup)
	var mu sync.Mutex
	var pending []sentEvent
	var appendLat []float64
	var windowAppend [3][]float64
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	rate := 1000 // events/s; BENCH_LAG_RATE changes it to see how the lag depends on load
	if r, err := strconv.Atoi(os.Getenv("BENCH_LAG_RATE")); err == nil && r > 0 {
		rate = r
	}
	go func() { // rate/100 events every 10 ms, round robin over the tenants
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		k := 0
		for !stop.Load() {
			<-tick.C
			for j := 0; j < max(1, rate/100); j++ {
				i := k % len(ids)
				k++
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					e, err := newUsageEvent(i)
					if !assert.NoError(b, err) { // not require: not the benchmark's goroutine
						return
					}
					ne, _ := f.reg.Encode(e, eventstore.Metadata{})
					t0 := time.Now()
					res, err := store.Append(ctx, ids[i], usage.StreamID, eventstore.Any, ne)
					if err != nil {
						return
					}
					now := time.Now()
					mu.Lock()
					if t0.After(measureFrom) {
						ms := float64(now.Sub(t0).Microseconds()) / 1000
						appendLat = append(appendLat, ms)
						w := min(2, int(3*now.Sub(measureFrom).Seconds()/seconds))
						windowAppend[w] = append(windowAppend[w], ms)
					}
					pending = append(pending, sentEvent{tenant: i, seq: res.LastSeq, at: now})
					mu.Unlock()
				}(i)
			}
		}
	}()
	// Sample visibility every 5 ms from the projections table (as a superuser: all tenants).
	var lags, relayLags []float64
	var windowLags [3][]float64
	projected := make([]int64, len(ids))
	deadline := measureFrom.Add(time.Duration(seconds * float64(time.Second)))
	var busy0, total0 int64
	outstanding := func() int { mu.Lock(); defer mu.Unlock(); return len(pending) }
	for time.Now().Before(deadline) || outstanding() > 0 {
		if total0 == 0 && time.Now().After(measureFrom) {
			busy0, total0 = cpuTicks()
		}
		if time.Now().After(deadline) {
			stop.Store(true)
		}
		if time.Now().After(deadline.Add(30 * time.Second)) {
			b.Fatal("projection did not catch up")
		}
		rows, err := super.Query(ctx, `SELECT tenant_id, min(seq) FROM tenantry.projections WHERE tenant_id = ANY($1) GROUP BY tenant_id`, ids)
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		index := map[uuid.UUID]int64{}
		for rows.Next() {
			var id uuid.UUID
			var seq int64
			_ = rows.Scan(&id, &seq)
			index[id] = seq
		}
		rows.Close()
		for i, id := range ids {
			projected[i] = index[id]
		}
		mu.Lock()
		keep := pending[:0]
		for _, s := range pending {
			if projected[s.tenant] >= s.seq {
				if s.at.Before(measureFrom) {
					continue // warm-up
				}
				lag := float64(now.Sub(s.at).Microseconds()) / 1000
				lags = append(lags, lag)
				// Three consecutive windows, for a median of their p99s (the host is noisy).
				w := min(2, int(3*s.at.Sub(measureFrom).Seconds()/seconds))
				windowLags[w] = append(windowLags[w], lag)
				relayedMu.Lock()
				if t, ok := relayed[ids[s.tenant].String()+"/"+strconv.FormatInt(s.seq, 10)]; ok {
					relayLags = append(relayLags, float64(t.Sub(s.at).Microseconds())/1000)
				}
				relayedMu.Unlock()
			} else {
				keep = append(keep, s)
			}
		}
		pending = keep
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	busy1, total1 := cpuTicks()
	fmt.Printf("projection_lag at %d events/s: p50 %.1f ms, p99 %.1f ms; of which relay p50 %.1f ms, p99 %.1f ms; append p50 %.1f ms; machine CPU busy %.0f%% of %d cores\n", rate,
		percentile(lags, 0.5), percentile(lags, 0.99), percentile(relayLags, 0.5), percentile(relayLags, 0.99),
		percentile(appendLat, 0.5), 100*float64(busy1-busy0)/float64(max(1, total1-total0)), runtime.NumCPU())
	p99s, appendP99s := make([]float64, 3), make([]float64, 3)
	for i := range windowLags {
		p99s[i], appendP99s[i] = percentile(windowLags[i], 0.99), percentile(windowAppend[i], 0.99)
	}
	fmt.Printf("projection_lag p99 per window: %.1f, %.1f, %.1f ms; append p99 per window: %.1f, %.1f, %.1f ms\n",
		p99s[0], p99s[1], p99s[2], appendP99s[0], appendP99s[1], appendP99s[2])
	pgtest.BenchLine("projection_lag_p99", pgtest.Median(p99s), "ms", "append_latency_p99", pgtest.Median(appendP99s))
}

// sentEvent is an appended event waiting to become visible in the read models.
type sentEvent struct {
	tenant int
	seq    int64
	at     time.Time
}

func percentile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[int(q*float64(len(s)-1))]
}

// benchTenantMigrations provisions BENCH_TENANTS schemas, then times a no-op tenant
// migration run and one that adds a column everywhere, each against its raw equivalent.
func benchTenantMigrations(b *testing.B, f *fixture, db *pgtest.DB, super *pgxpool.Pool) {
	ctx := context.Background()
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("BENCH_TENANTS")); err == nil && v > 0 {
		n = v
	}
	ids := make([]uuid.UUID, n)
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				id := uuid.Must(uuid.NewV7())
				if _, err := f.store.Append(ctx, id, "tenant", eventstore.NoStream,
					eventstore.NewEvent{Type: "tenant.created", SchemaVersion: 1, Data: []byte(`{}`)}); err != nil {
					failed.Store(err)
					return
				}
				if _, err := f.pool.Exec(ctx, `SELECT tenantry.migrate_tenant_schema($1)`, id); err != nil {
					failed.Store(err)
					return
				}
				ids[i] = id
			}
		}(w)
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	if pgtest.BenchSelected("backend_memory_10k") {
		benchBackendMemory(b, f, ids)
	}
	if pgtest.BenchSelected("migrate_noop_10k") {
		// A whole `migrate --tenants-only` run with nothing to do: it connects, checks the
		// tenant migrations and finds no schema behind. The baseline pays for the same fresh
		// connection and runs the one catalog query such a run could be reduced to.
		var vs, bs []float64
		for r := 0; r < benchRounds; r++ {
			start := time.Now()
			conn, err := pgx.Connect(ctx, db.SuperURL)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := conn.Exec(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'tenant\_%'`); err != nil {
				b.Fatal(err)
			}
			_ = conn.Close(ctx)
			bs = append(bs, time.Since(start).Seconds())
			start = time.Now()
			rep, err := migrations.MigrateTenants(ctx, db.SuperURL, migrations.TenantOptions{})
			if err != nil || rep.Pending != 0 {
				b.Fatalf("noop migrate: %+v %v", rep, err)
			}
			vs = append(vs, time.Since(start).Seconds())
		}
		pgtest.BenchLine("migrate_noop_10k", pgtest.Median(vs), "s", "connect_and_count_schemas", pgtest.Median(bs))
	}
	if pgtest.BenchSelected("migrate_add_column_10k") {
		// Each round adds a column to every schema twice: by the same ALTER run raw, schema by
		// schema over 4 connections with no bookkeeping, and by a new tenant migration that
		// MigrateTenants applies with concurrency 4.
		const conns = 4
		var vs, bs []float64
		var added []string
		for r := 0; r < benchRounds; r++ {
			start := time.Now()
			var wg sync.WaitGroup
			var failed atomic.Value
			for c := 0; c < conns; c++ {
				wg.Add(1)
				go func(c int) {
					defer wg.Done()
					conn, err := super.Acquire(ctx)
					if err != nil {
						failed.Store(err)
						return
					}
					defer conn.Release()
					for i := c; i < len(ids); i += conns {
						table := pgx.Identifier{"tenant_" + stripDashes(ids[i]), "members"}.Sanitize()
						if _, err := conn.Exec(ctx, fmt.Sprintf(`ALTER TABLE %s ADD COLUMN bench_raw_%d text`, table, r)); err != nil {
							failed.Store(err)
							return
						}
					}
				}(c)
			}
			wg.Wait()
			if err := failed.Load(); err != nil {
				b.Fatal(err)
			}
			bs = append(bs, time.Since(start).Seconds())
			added = append(added, fmt.Sprintf(`ALTER TABLE members ADD COLUMN bench_note_%d text;`, r))
			fsys := withExtraTenantMigrations(b, added...)
			if _, err := migrations.Migrate(ctx, db.SuperURL, migrations.Options{TenantMigrations: fsys}); err != nil {
				b.Fatal(err)
			}
			start = time.Now()
			rep, err := migrations.MigrateTenants(ctx, db.SuperURL, migrations.TenantOptions{Concurrency: conns, TenantMigrations: fsys})
			if err != nil || rep.Migrated < n {
				b.Fatalf("migrate: %+v %v", rep, err)
			}
			vs = append(vs, time.Since(start).Seconds())
		}
		pgtest.BenchLine("migrate_add_column_10k", pgtest.Median(vs), "s", "raw_alter_4_connections", pgtest.Median(bs))
	}
}

// benchBackendMemory shows why pools must recycle connections: a PostgreSQL backend keeps
// the catalog entries of every schema it touched. It reads one runtime connection's private
// memory (RssAnon of its backend process, so the database must run on this machine) after
// reading every tenant's read models, against the same figure for a fresh connection that
// read one tenant's; alternating rounds, medians.
func benchBackendMemory(b *testing.B, f *fixture, ids []uuid.UUID) {
	ctx := context.Background()
	measure := func(touch []uuid.UUID) float64 {
		conn, err := pgx.Connect(ctx, f.pool.Config().ConnConfig.ConnString())
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(ctx)
		for _, id := range touch {
			err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `SELECT set_config('tenantry.tenant_id', $1, true),
					set_config('search_path', tenantry.tenant_schema_name($1::uuid) || ', pg_catalog', true)`, id.String()); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `SELECT (SELECT count(*) FROM profile), (SELECT count(*) FROM members), (SELECT count(*) FROM usage_hourly)`)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		var pid int
		if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			b.Fatal(err)
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return -1
		}
		for _, line := range strings.Split(string(status), "\n") {
			if rest, ok := strings.CutPrefix(line, "RssAnon:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
				return kb / 1024
			}
		}
		return -1
	}
	var vs, bs []float64
	for r := 0; r < benchRounds; r++ {
		base := measure(ids[:1])
		if base < 0 {
			fmt.Println("backend_memory_10k: skipped (the database does not run on this machine)")
			return
		}
		bs = append(bs, base)
		vs = append(vs, measure(ids))
	}
	pgtest.BenchLine("backend_memory_10k", pgtest.Median(vs), "MB", "after_one_tenant", pgtest.Median(bs))
}

// withExtraTenantMigrations is the embedded tenant migrations plus one more per sql, named
// bench_column_<i> and numbered after the last of them.
func withExtraTenantMigrations(b *testing.B, sqls ...string) fstest.MapFS {
	m := fstest.MapFS{}
	base, err := migrations.LoadTenantMigrations(migrations.TenantFS())
	if err != nil {
		b.Fatal(err)
	}
	for _, tm := range base {
		m[fmt.Sprintf("%04d_%s.sql", tm.Version, tm.Name)] = &fstest.MapFile{Data: []byte(tm.SQL)}
	}
	for i, sql := range sqls {
		m[fmt.Sprintf("%04d_bench_column_%d.sql", base[len(base)-1].Version+1+i, i)] = &fstest.MapFile{Data: []byte(sql)}
	}
	return m
}

// cpuTicks reads the machine's busy and total CPU time from /proc/stat (zero elsewhere).
func cpuTicks() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
	for i, x := range f[1:] {
		v, _ := strconv.ParseInt(x, 10, 64)
		total += v
		if i != 3 && i != 4 {
			busy += v
		}
	}
	return busy, total
}

// benchScaleout projects a backlog of 100 provisioned tenants × 200 events with two projector replicas
// (independent Projectors on pools of their own, coordinating only through PostgreSQL's
// per-tenant locks, as separate processes do), against the same backlog size projected by
// one replica in the same run; alternating rounds, medians.
func benchScaleout(b *testing.B, f *fixture, db *pgtest.DB) {
	const tenants, events = 100, 200
	backlog := func() []uuid.UUID { // provisioned tenants (schemas exist), then their events
		ids := make([]uuid.UUID, tenants)
		p := f.projector()
		for i := range ids {
			ids[i] = f.createTenant(b)
			f.projectAll(b, p, ids[i])
		}
		for i := range ids {
			f.append(b, ids[i], usage.StreamID, usageBatch(b, events, i*events)...)
		}
		return ids
	}
	run := func(replicas int) float64 {
		ids := backlog()
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		start := time.Now()
		for r := 0; r < replicas; r++ {
			pool := pgtest.Pool(b, db.WorkerURL, 8)
			defer pool.Close() // now, not when the benchmark ends: rounds add up
			p := &Projector{Store: eventstore.New(pool), Registry: f.reg, Logger: slog.New(slog.DiscardHandler),
				PollInterval: time.Hour}
			wg.Add(1)
			go func() { defer wg.Done(); _ = p.Run(ctx) }()
		}
		for _, id := range ids {
			head, _, err := f.store.Head(context.Background(), id)
			if err != nil {
				b.Fatal(err)
			}
			if err := f.store.WaitFor(context.Background(), id, head, 5*time.Minute); err != nil {
				b.Fatal(err)
			}
		}
		rate := pgtest.Rate(tenants*events, time.Since(start))
		cancel()
		wg.Wait()
		return rate
	}
	var vs, bs []float64
	for r := 0; r < benchRounds; r++ {
		bs = append(bs, run(1))
		vs = append(vs, run(2))
	}
	pgtest.BenchLine("project_scaleout", pgtest.Median(vs), "events/s", "one_replica", pgtest.Median(bs))
}

// BenchmarkFastPath_ProjectorBatches weighs the projector's batches (BatchSize 500, the
// default: one transaction and checkpoint per batch of a tenant's events) against batches of
// one event (BatchSize 1). Figure: events/s applied by one projector (4 workers) working off
// a backlog of 10 provisioned tenants × 200 usage events; one op is one such backlog (its
// set-up untimed).
func BenchmarkFastPath_ProjectorBatches(b *testing.B) {
	if !pgtest.BenchSelected("fastpath") { // `make bench BENCH=...` runs it only when asked
		b.Skip("fastpath not selected")
	}
	reg := eventstore.NewRegistry()
	if err := catalog.Register(reg); err != nil {
		b.Fatal(err)
	}
	pool := pgtest.Pool(b, pgtest.New(b).WorkerURL, 16)
	f := &fixture{pool: pool, store: eventstore.New(pool), reg: reg}
	const tenants, events = 10, 200
	for _, c := range []struct {
		name  string
		batch int
	}{{"fast", 500}, {"plain", 1}} {
		b.Run(c.name, func(b *testing.B) {
			var applied int64
			var busy time.Duration
			for b.Loop() {
				b.StopTimer()
				ids, heads := make([]uuid.UUID, tenants), make([]int64, tenants)
				setup := f.projector()
				for i := range ids {
					ids[i] = f.createTenant(b)
					f.projectAll(b, setup, ids[i]) // provisioned: the op applies events only
					f.append(b, ids[i], usage.StreamID, usageBatch(b, events, i*events)...)
					var err error
					if heads[i], _, err = f.store.Head(context.Background(), ids[i]); err != nil {
						b.Fatal(err)
					}
				}
				p := &Projector{Store: eventstore.New(pool), Registry: reg, Logger: slog.New(slog.DiscardHandler), BatchSize: c.batch, PollInterval: time.Hour}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				b.StartTimer()
				start := time.Now()
				go func() { defer close(done); _ = p.Run(ctx) }()
				for i, id := range ids {
					if err := eventstore.New(pool).WaitFor(context.Background(), id, heads[i], 5*time.Minute); err != nil {
						b.Fatal(err)
					}
				}
				busy += time.Since(start)
				applied += tenants * events
				b.StopTimer()
				cancel()
				<-done
				b.StartTimer()
			}
			b.ReportMetric(pgtest.Rate(applied, busy), "events/s")
		})
	}
}
