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

	"github.com/tenantry/tenantry/domain"
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
	reg, err := eventstore.DomainRegistry()
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

// benchProvision times provisioning through tenantry.migrate_tenant_schema against the same
// DDL run directly, one transaction per tenant, sequentially.
func benchProvision(b *testing.B, f *fixture, super *pgxpool.Pool) {
	ctx := context.Background()
	const n = 100
	ids := createdTenants(b, f, 2*n)
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
	for r := 0; r < 2; r++ {
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
				ids[i] = f.createTenant(b)
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

// benchRebuild times a full rebuild of one tenant against COPY of the same number of rows
// in batches of 100 (the event store's raw ingest baseline).
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
	if _, err := super.Exec(ctx, `CREATE TABLE public.bench_copy (tenant_id uuid, metric text, hour timestamptz, quantity bigint, payload jsonb)`); err != nil {
		b.Fatal(err)
	}
	rows := make([][]any, 100)
	for i := range rows {
		rows[i] = []any{id, "api_calls", time.Now(), int64(1), `{"metric":"api_calls","quantity":1}`}
	}
	var vs, bs []float64
	for r := 0; r < 3; r++ {
		start := time.Now()
		for i := 0; i < n/100; i++ {
			if _, err := super.CopyFrom(ctx, pgx.Identifier{"public", "bench_copy"}, []string{"tenant_id", "metric", "hour", "quantity", "payload"}, pgx.CopyFromRows(rows)); err != nil {
				b.Fatal(err)
			}
		}
		bs = append(bs, pgtest.Rate(n, time.Since(start)))
		start = time.Now()
		if err := p.Rebuild(ctx, id, nil); err != nil {
			b.Fatal(err)
		}
		vs = append(vs, pgtest.Rate(n+2, time.Since(start)))
	}
	pgtest.BenchLine("project_rebuild", pgtest.Median(vs), "events/s", "raw_copy_batch100", pgtest.Median(bs))
}

// benchLag appends 1,000 events/s over 100 tenants for a while, with the relay, the bus and
// the projector running as in `serve`, and samples how long each event takes from its
// append's commit to read-model visibility. The baseline is the append's own latency.
func benchLag(b *testing.B, f *fixture, super *pgxpool.Pool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ids := createdTenants(b, f, 100)
	store := eventstore.New(f.pool)
	notifier := eventstore.NewNotifier(f.pool, 0, slog.New(slog.DiscardHandler))
	store.SetNotifier(notifier)
	committer := eventstore.NewGroupCommitter(store, 4) // as in serve
	store.SetGroupCommitter(committer)
	go func() { _ = committer.Run(ctx) }()
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
					ne, _ := f.reg.Encode(usageEvent(b, i), eventstore.Metadata{})
					t0 := time.Now()
					res, err := store.Append(ctx, ids[i], usage.StreamID, eventstore.Any, ne)
					if err != nil {
						return
					}
					now := time.Now()
					mu.Lock()
					if t0.After(measureFrom) {
						appendLat = append(appendLat, float64(now.Sub(t0).Microseconds())/1000)
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
	p99s := make([]float64, 3)
	for i, w := range windowLags {
		p99s[i] = percentile(w, 0.99)
	}
	fmt.Printf("projection_lag p99 per window: %.1f, %.1f, %.1f ms\n", p99s[0], p99s[1], p99s[2])
	pgtest.BenchLine("projection_lag_p99", pgtest.Median(p99s), "ms", "append_latency_p99", percentile(appendLat, 0.99))
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
		start := time.Now()
		if _, err := super.Exec(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'tenant\_%'`); err != nil {
			b.Fatal(err)
		}
		base := time.Since(start).Seconds()
		start = time.Now()
		rep, err := migrations.MigrateTenants(ctx, db.SuperURL, migrations.TenantOptions{})
		if err != nil || rep.Pending != 0 {
			b.Fatalf("noop migrate: %+v %v", rep, err)
		}
		pgtest.BenchLine("migrate_noop_10k", time.Since(start).Seconds(), "s", "catalog_count_schemas", base)
	}
	if pgtest.BenchSelected("migrate_add_column_10k") {
		// Baseline: the same ALTER, schema by schema, on one connection, no bookkeeping.
		start := time.Now()
		conn, err := super.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, id := range ids {
			schema := "tenant_" + stripDashes(id)
			if _, err := conn.Exec(ctx, `ALTER TABLE `+pgx.Identifier{schema, "members"}.Sanitize()+` ADD COLUMN bench_raw text`); err != nil {
				b.Fatal(err)
			}
		}
		conn.Release()
		base := time.Since(start).Seconds()
		fsys := withExtraTenantMigration(b, "bench_column", `ALTER TABLE members ADD COLUMN bench_note text;`)
		if _, err := migrations.Migrate(ctx, db.SuperURL, migrations.Options{TenantMigrations: fsys}); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		rep, err := migrations.MigrateTenants(ctx, db.SuperURL, migrations.TenantOptions{Concurrency: 4})
		if err != nil || rep.Migrated < n {
			b.Fatalf("migrate: %+v %v", rep, err)
		}
		pgtest.BenchLine("migrate_add_column_10k", time.Since(start).Seconds(), "s", "raw_alter_one_connection", base)
	}
}

// benchBackendMemory shows why pools must recycle connections: a PostgreSQL backend keeps
// the catalog entries of every schema it touched. It reads one runtime connection's private
// memory (RssAnon of its backend process, so the database must run on this machine) after
// reading one tenant's read models, then after reading every tenant's, against the same
// figure for a fresh connection.
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
	base := measure(ids[:1])
	if base < 0 {
		fmt.Println("backend_memory_10k: skipped (the database does not run on this machine)")
		return
	}
	pgtest.BenchLine("backend_memory_10k", measure(ids), "MB", "after_one_tenant", base)
}

// withExtraTenantMigration is the embedded tenant migrations plus one more, named name,
// numbered after the last of them.
func withExtraTenantMigration(b *testing.B, name, sql string) fstest.MapFS {
	m := fstest.MapFS{}
	base, err := migrations.LoadTenantMigrations(migrations.TenantFS())
	if err != nil {
		b.Fatal(err)
	}
	for _, tm := range base {
		m[fmt.Sprintf("%04d_%s.sql", tm.Version, tm.Name)] = &fstest.MapFile{Data: []byte(tm.SQL)}
	}
	m[fmt.Sprintf("%04d_%s.sql", base[len(base)-1].Version+1, name)] = &fstest.MapFile{Data: []byte(sql)}
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
// one replica in the same run.
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
			p := &Projector{Store: eventstore.New(pgtest.Pool(b, db.WorkerURL, 8)), Registry: f.reg, Logger: slog.New(slog.DiscardHandler),
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
	one := run(1)
	two := run(2)
	pgtest.BenchLine("project_scaleout", two, "events/s", "one_replica", one)
}
