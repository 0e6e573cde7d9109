package migrations_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// BenchmarkMigrations prints the product-module migration figures, each next to a baseline
// measured in the same run. BENCH selects figures by regexp; BENCH_TENANTS sets the schema
// count of module_migrate_10k (default 10000).
func BenchmarkMigrations(b *testing.B) {
	if b.N > 1 {
		b.Skip("run with -benchtime 1x: the figures time themselves")
	}
	if pgtest.BenchSelected("module_provision") {
		benchModuleProvision(b)
	}
	if pgtest.BenchSelected("module_migrate_10k") {
		benchModuleMigrate(b)
	}
	if pgtest.BenchSelected("usage_totals_one_row") {
		benchUsageTotalsOneRow(b)
	}
}

// benchUsageTotalsOneRow weighs usage_totals_add's one-row fast path (one plain upsert:
// ingestion's common case, an append of one event of one metric in one period) against
// the general statement it would otherwise run, usage_totals_merge, given the same row:
// calls per second, each figure 5,000 calls in one statement (so that no round trip
// dilutes the difference), alternating rounds. Both add to one total under a quota it never
// reaches, as a tenant with a hard quota does.
func benchUsageTotalsOneRow(b *testing.B) {
	ctx := context.Background()
	pool := pgtest.Pool(b, pgtest.New(b).SuperURL, 1)
	const n = 5000
	call := func(fn string) float64 {
		tenant := uuid.New()
		start := time.Now()
		if _, err := pool.Exec(ctx, `SELECT count(tenantry.`+fn+`(ARRAY[$1::uuid], ARRAY[i::bigint], ARRAY[0], ARRAY[i::bigint],
			ARRAY['api_calls'], ARRAY[current_date - extract(day FROM current_date)::int + 1], ARRAY['1'], ARRAY['1'], ARRAY['1'],
			ARRAY['1000000000'])) FROM generate_series(1, $2::int) AS i`, tenant, n); err != nil {
			b.Fatal(err)
		}
		return pgtest.Rate(n, time.Since(start))
	}
	vs, bs := pgtest.Alternate(benchRounds, func() float64 { return call("usage_totals_add") },
		func() float64 { return call("usage_totals_merge") })
	pgtest.BenchLine("usage_totals_one_row", pgtest.Median(vs), "calls/s", "usage_totals_merge_one_row", pgtest.Median(bs))
}

// benchRounds is how many alternating rounds of figure and baseline each figure runs; it
// reports their medians (the machines are shared and noisy).
const benchRounds = 3

// benchModuleProvision times provisioning new tenants' schemas through
// tenantry.migrate_tenant_schema, as the projector does, one transaction per tenant,
// sequentially: in a database where a projects/tasks module's migrations are recorded,
// against one where only Tenantry's own are, alternating.
func benchModuleProvision(b *testing.B) {
	ctx := context.Background()
	const n = 100
	plain, withModule := pgtest.New(b), pgtest.New(b)
	if _, err := migrations.Migrate(ctx, withModule.SuperURL, migrations.Options{Modules: projectsModule()}); err != nil {
		b.Fatal(err)
	}
	plainPool, modulePool := pgtest.Pool(b, plain.WorkerURL, 2), pgtest.Pool(b, withModule.WorkerURL, 2)
	plainIDs, moduleIDs := createdTenants(b, plainPool, benchRounds*n), createdTenants(b, modulePool, benchRounds*n)
	provision := func(pool *pgxpool.Pool, ids []uuid.UUID) float64 {
		start := time.Now()
		for _, id := range ids {
			if _, err := pool.Exec(ctx, `SELECT tenantry.migrate_tenant_schema($1)`, id); err != nil {
				b.Fatal(err)
			}
		}
		return pgtest.Rate(int64(len(ids)), time.Since(start))
	}
	var vs, bs []float64
	for r := 0; r < benchRounds; r++ {
		bs = append(bs, provision(plainPool, plainIDs[r*n:(r+1)*n]))
		vs = append(vs, provision(modulePool, moduleIDs[r*n:(r+1)*n]))
	}
	pgtest.BenchLine("module_provision", pgtest.Median(vs), "tenants/s", "without_module", pgtest.Median(bs))
}

// benchModuleMigrate provisions BENCH_TENANTS schemas with the projects module, then times
// `migrate --tenants-only` (MigrateTenants, concurrency 4) bringing them all over a module
// migration that adds a column to the module's table, against the same run over a core
// tenant migration that does nothing: the machinery's fixed cost per schema.
func benchModuleMigrate(b *testing.B) {
	ctx := context.Background()
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("BENCH_TENANTS")); err == nil && v > 0 {
		n = v
	}
	db := pgtest.New(b)
	if _, err := migrations.Migrate(ctx, db.SuperURL, migrations.Options{Modules: projectsModule()}); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	provisionTenants(b, db.WorkerURL, n)
	b.Logf("provisioned %d tenant schemas in %v", n, time.Since(start).Round(time.Millisecond))

	core, err := migrations.LoadTenantMigrations(migrations.TenantFS())
	if err != nil {
		b.Fatal(err)
	}
	coreFS, moduleFS := fstest.MapFS{}, projectsFiles()
	for _, m := range core {
		coreFS[fmt.Sprintf("%04d_%s.sql", m.Version, m.Name)] = &fstest.MapFile{Data: []byte(m.SQL)}
	}
	run := func() float64 {
		mods := []migrations.ModuleMigrations{{Module: "projects", FS: moduleFS}}
		if _, err := migrations.Migrate(ctx, db.SuperURL, migrations.Options{TenantMigrations: coreFS, Modules: mods}); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		rep, err := migrations.MigrateTenants(ctx, db.SuperURL, migrations.TenantOptions{Concurrency: 4, TenantMigrations: coreFS, Modules: mods})
		if err != nil || rep.Migrated != n {
			b.Fatalf("migrate: %+v %v", rep, err)
		}
		return time.Since(start).Seconds()
	}
	var vs, bs []float64
	for r := 0; r < benchRounds; r++ {
		coreFS[fmt.Sprintf("%04d_bench_noop_%d.sql", core[len(core)-1].Version+1+r, r)] = &fstest.MapFile{Data: []byte(`SELECT 1;`)}
		bs = append(bs, run())
		moduleFS[fmt.Sprintf("%04d_bench_column_%d.sql", 3+r, r)] = &fstest.MapFile{Data: []byte(fmt.Sprintf(`ALTER TABLE projects_tasks ADD COLUMN bench_%d text;`, r))}
		vs = append(vs, run())
	}
	pgtest.BenchLine("module_migrate_10k", pgtest.Median(vs), "s", "noop_core_migration", pgtest.Median(bs))
}

// createdTenants records tenant.created for n fresh tenants (no schema yet).
func createdTenants(b *testing.B, pool *pgxpool.Pool, n int) []uuid.UUID {
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7())
		if _, err := eventstore.New(pool).Append(context.Background(), ids[i], "tenant", eventstore.NoStream,
			eventstore.NewEvent{Type: "tenant.created", SchemaVersion: 1, Data: []byte(`{}`)}); err != nil {
			b.Fatal(err)
		}
	}
	return ids
}
