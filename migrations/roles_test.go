package migrations_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// privileges is the reviewed matrix of what each runtime role may do in schema tenantry:
// every function with who may execute it, and every table privilege of either role. A new
// function or grant fails TestRoles_PrivilegesMatchTheReviewedMatrix until it is added here
// (and to the README's Roles bullet), so nobody hands the API a cross-tenant power unseen.
// The rule (the header of migrations/00001_baseline.sql): tenantry_app may run only what checks its
// tenant context or returns non-secret directory facts; the rest is tenantry_worker's.
var privileges = map[string]string{
	// Inside a tenant context (append_events refuses any other tenant; the rest are its
	// SECURITY INVOKER helpers, or row-level security scopes them).
	"fn tenantry.append_events(uuid,text,bigint,uuid[],text[],integer[],text[],text[],uuid[],integer[],integer[],integer[],bigint[],text[],date[],text[],text[],text[],text[])": "app worker",
	"fn tenantry.find_events(uuid,text,uuid[],text[],integer[],text[])": "app worker",
	// The group committer's path: across tenants, but inside a tenant context only that
	// tenant, as append_events; it scopes its writes to the tenants it locked.
	"fn tenantry.append_events_group(uuid[],text[],bigint[],integer[],integer[],integer[],integer[],uuid[],text[],integer[],text[],text[],uuid[],integer[],integer[],integer[],bigint[],text[],date[],text[],text[],text[],text[])": "app worker",
	"fn tenantry.event_hash(bytea,uuid,bigint,uuid,text,bigint,text,integer,jsonb,jsonb,timestamp with time zone)":                                                                                                                  "app worker",
	"fn tenantry.event_hash_link(bytea,bytea,bigint,bytea,bigint,bytea,bytea)":                                                                                                                                                      "app worker",
	"fn tenantry.event_hash_mid(uuid,text)":                   "app worker",
	"fn tenantry.event_hash_tail(bytea,integer,bytea,bytea)":  "app worker",
	"fn tenantry.stream_version_conflict(text,bigint,bigint)": "app worker",
	"fn tenantry.tenant_schema_name(uuid)":                    "app worker",
	// Directory facts for routing and the operator's listing (no secret).
	"fn tenantry.find_tenant(text,uuid)":        "app worker",
	"fn tenantry.find_tenant_by_customer(text)": "app worker",
	"fn tenantry.list_tenants(uuid,integer)":    "app worker",
	"fn tenantry.tenants_on_plan(text)":         "app worker", // the plan migration's candidates (ids)
	// Cross-tenant machinery.
	"fn tenantry.read_all_events(xid8,bigint,integer)": "worker",
	"fn tenantry.migrate_tenant_schema(uuid)":          "worker",
	"fn tenantry.rebuild_start(uuid)":                  "worker",
	"fn tenantry.rebuild_swap(uuid)":                   "worker",
	"fn tenantry.rebuild_cleanup(uuid)":                "worker",
	"fn tenantry.tenant_schema_list()":                 "worker",
	"fn tenantry.projection_backlog(integer,text[])":   "worker",
	"fn tenantry.projection_failures()":                "worker",
	"fn tenantry.expire_idempotency_keys(interval)":    "worker",
	// Internal: called by the owner's functions, or fired as triggers.
	"fn tenantry.apply_tenant_migrations(text,integer)": "",
	"fn tenantry.refuse_event_mutation()":               "",
	"fn tenantry.refuse_key_mutation()":                 "",
	// The usage totals' writers: only inside the append functions, and the backfill (owner).
	"fn tenantry.usage_totals_add(uuid[],bigint[],integer[],bigint[],text[],date[],text[],text[],text[],text[])":   "",
	"fn tenantry.usage_totals_merge(uuid[],bigint[],integer[],bigint[],text[],date[],text[],text[],text[],text[])": "",
	"fn tenantry.usage_quota_exceeded(text,date,numeric,numeric)":                                                  "",
	"fn tenantry.usage_last_key(bigint,bigint,integer)":                                                            "",
	"fn tenantry.usage_totals_backfill(uuid,boolean)":                                                              "",

	// Tables (row-level security scopes every tenant table to the tenant context).
	// The chain's tables are written only by append_events (SECURITY DEFINER).
	"tenantry.events SELECT":       "app worker",
	"tenantry.tenant_heads SELECT": "app worker",
	"tenantry.streams SELECT":      "app worker",
	"tenantry.event_keys SELECT":   "app worker",
	// Written only by the append functions, in the append's transaction (usage_totals_add).
	"tenantry.usage_totals SELECT":                          "app worker",
	"tenantry.settings SELECT":                              "app worker",
	"tenantry.tenant_schemas SELECT":                        "app worker",
	"tenantry.signed_heads SELECT INSERT":                   "app worker",
	"tenantry.projections SELECT":                           "app",
	"tenantry.projections SELECT INSERT UPDATE":             "worker",
	"tenantry.tenants SELECT":                               "app",
	"tenantry.tenants SELECT INSERT UPDATE":                 "worker",
	"tenantry.slug_claims SELECT INSERT DELETE":             "app",
	"tenantry.idempotency_keys SELECT INSERT UPDATE DELETE": "app",
	"tenantry.cursors SELECT INSERT UPDATE":                 "worker",
	"tenantry.job_runs SELECT INSERT UPDATE":                "worker",
	// Stripe deliveries about no tenant, recorded by the API that receives them: it can
	// add rows only, never read them back (they name other companies' Stripe customers).
	"tenantry.stripe_ignored_deliveries INSERT": "app",
	// Outbound webhooks: the API manages its owner's endpoints and reads (re-queues) their
	// deliveries under the owner's context; the worker enqueues, delivers, records failures.
	"tenantry.webhook_endpoints SELECT INSERT UPDATE DELETE": "app",
	"tenantry.webhook_endpoints SELECT UPDATE":               "worker",
	"tenantry.webhook_deliveries SELECT UPDATE":              "app",
	"tenantry.webhook_deliveries SELECT INSERT UPDATE":       "worker",
}

// privilegeMatrixSQL lists, for each function in schema tenantry, which runtime roles may
// execute it, and for each table, sequence and role, the privileges it holds.
const privilegeMatrixSQL = `
SELECT 'fn ' || p.oid::regprocedure::text,
       concat_ws(' ', CASE WHEN has_function_privilege('tenantry_app', p.oid, 'EXECUTE') THEN 'app' END,
                      CASE WHEN has_function_privilege('tenantry_worker', p.oid, 'EXECUTE') THEN 'worker' END)
  FROM pg_proc p WHERE p.pronamespace = 'tenantry'::regnamespace
UNION ALL
SELECT g.what, string_agg(g.who, ' ' ORDER BY g.who)
  FROM (SELECT c.oid::regclass::text || ' ' || string_agg(pr.priv, ' ' ORDER BY pr.ord) AS what, r.who
          FROM pg_class c
          CROSS JOIN (VALUES ('tenantry_app', 'app'), ('tenantry_worker', 'worker')) AS r(role, who)
          CROSS JOIN (VALUES (1, 'SELECT'), (2, 'INSERT'), (3, 'UPDATE'), (4, 'DELETE'), (5, 'TRUNCATE'), (6, 'USAGE')) AS pr(ord, priv)
         WHERE c.relnamespace = 'tenantry'::regnamespace AND c.relkind IN ('r', 'p', 'S', 'v')
           AND NOT c.relispartition
           AND CASE WHEN c.relkind = 'S' THEN pr.priv = 'USAGE' AND has_sequence_privilege(r.role, c.oid, 'USAGE')
                    ELSE pr.priv <> 'USAGE' AND has_table_privilege(r.role, c.oid, pr.priv) END
         GROUP BY c.oid, r.who) AS g
 GROUP BY g.what`

func TestRoles_PrivilegesMatchTheReviewedMatrix(t *testing.T) {
	db := pgtest.New(t)
	rows, err := connect(t, db.SuperURL).Query(context.Background(), privilegeMatrixSQL)
	require.NoError(t, err)
	got := map[string]string{}
	for rows.Next() {
		var what, who string
		require.NoError(t, rows.Scan(&what, &who))
		got[what] = who
	}
	require.NoError(t, rows.Err())
	require.Equal(t, privileges, got, "a runtime role's privileges changed: review them against the rule in 00001_baseline.sql, then update the matrix here and in README.md")
}

// sqlState is err's SQLSTATE, or "" when err is not a PostgreSQL error.
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// appendAs records a tenant.created event for a fresh tenant through pool.
func appendAs(t *testing.T, pool *pgxpool.Pool, id uuid.UUID) {
	t.Helper()
	_, err := eventstore.New(pool).Append(context.Background(), id, "tenant", eventstore.NoStream,
		eventstore.NewEvent{Type: "tenant.created", SchemaVersion: 1, Data: []byte(`{"email": "admin@example.com"}`)})
	require.NoError(t, err)
}

// The attack of the hardening issue, as tenantry_app without a tenant context: read every
// tenant's events through the global cursor, and wipe a tenant's read models by starting a
// rebuild and swapping the empty shadow in. Each is refused for lack of privilege, and so
// is every other cross-tenant function.
func TestAppRole_HoldsNoCrossTenantPower(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	super := pgtest.Pool(t, db.SuperURL, 2) // set-up that works the same before and after the split
	victim := uuid.Must(uuid.NewV7())
	appendAs(t, super, victim)
	_, err := super.Exec(ctx, `SELECT tenantry.migrate_tenant_schema($1)`, victim)
	require.NoError(t, err)

	app := connect(t, db.AppURL)
	for _, stmt := range []string{
		`SELECT count(*) FROM tenantry.read_all_events('0', 0, 100000)`,
		`SELECT tenantry.rebuild_start('` + victim.String() + `')`,
		`SELECT tenantry.rebuild_swap('` + victim.String() + `')`,
		`SELECT tenantry.rebuild_cleanup('` + victim.String() + `')`,
		`SELECT tenantry.migrate_tenant_schema('` + victim.String() + `')`,
		`SELECT count(*) FROM tenantry.tenant_schema_list()`,
		`SELECT count(*) FROM tenantry.projection_backlog(100000, ARRAY['auth', 'usage'])`,
		`SELECT count(*) FROM tenantry.projection_failures()`,
		`SELECT tenantry.expire_idempotency_keys(interval '1 minute')`,
		`SELECT count(*) FROM tenantry.cursors`,
		`SELECT count(*) FROM tenantry.job_runs`,
		`SELECT count(*) FROM tenantry.stripe_ignored_deliveries`,
		`INSERT INTO tenantry.tenants (tenant_id, slug, name, status, plan, schema_name, created_at, updated_at, seq)
		 VALUES (gen_random_uuid(), 'x', 'x', 'active', 'free', 'x', now(), now(), 1)`,
		`UPDATE tenantry.projections SET seq = 0`,
	} {
		t.Run(stmt[:min(len(stmt), 48)], func(t *testing.T) {
			_, err := app.Exec(ctx, stmt)
			require.Error(t, err)
			require.Equal(t, "42501", sqlState(err), "permission denied expected: %v", err)
		})
	}

	// The victim's read models are still there, and the worker's global cursor still reads.
	worker := pgtest.Pool(t, db.WorkerURL, 2)
	var n int
	require.NoError(t, worker.QueryRow(ctx, `SELECT count(*) FROM tenantry.read_all_events('0', 0, 100000) WHERE tenant_id = $1`, victim).Scan(&n))
	require.Equal(t, 1, n)
	var exists bool
	require.NoError(t, worker.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = tenantry.tenant_schema_name($1))`, victim).Scan(&exists))
	require.True(t, exists)
}

// A function that takes a tenant id, called by tenantry_app inside tenant A's context for
// tenant B, refuses or returns nothing: append_events refuses up front, naming the tenant
// context (before, only row-level security stopped its insert, after it had taken B's append
// lock), and find_events sees none of B's events. (The directory lookups return B's routing
// facts by design: the API resolves tenants with them before any context exists.)
func TestAppRole_TenantParameterFunctionsRefuseAnotherTenant(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	app := pgtest.Pool(t, db.AppURL, 2)
	a, b := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	appendAs(t, app, a)
	appendAs(t, app, b)
	var bEvent uuid.UUID
	require.NoError(t, pgtest.Pool(t, db.SuperURL, 1).QueryRow(ctx, `SELECT event_id FROM tenantry.events WHERE tenant_id = $1`, b).Scan(&bEvent))

	inA := func(t *testing.T, fn func(tx pgx.Tx) error) error {
		return pgx.BeginFunc(ctx, app, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT set_config('tenantry.tenant_id', $1, true)`, a.String()); err != nil {
				return err
			}
			return fn(tx)
		})
	}
	t.Run("AppendEventsRefusesAnotherTenant", func(t *testing.T) {
		err := inA(t, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `SELECT * FROM tenantry.append_events($1, 's', -1, ARRAY[$2::uuid], ARRAY['thing.happened'], ARRAY[1], ARRAY['{}'], ARRAY['{}'])`, b, uuid.New())
			if err == nil {
				return errors.New("append to another tenant went through")
			}
			return err
		})
		require.Equal(t, "42501", sqlState(err), "%v", err)
		require.ErrorContains(t, err, "tenant context")
	})
	t.Run("AppendEventsRefusesWithoutContext", func(t *testing.T) {
		_, err := app.Exec(ctx, `SELECT * FROM tenantry.append_events($1, 's', -1, ARRAY[$2::uuid], ARRAY['thing.happened'], ARRAY[1], ARRAY['{}'], ARRAY['{}'])`, b, uuid.New())
		require.Equal(t, "42501", sqlState(err), "%v", err)
	})
	t.Run("FindEventsSeesNothingOfTheOtherTenant", func(t *testing.T) {
		var found int
		require.NoError(t, inA(t, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(seq) FROM tenantry.find_events($1, 'tenant', ARRAY[$2::uuid], ARRAY['tenant.created'], ARRAY[1], ARRAY['{}'])`, b, bEvent).Scan(&found)
		}))
		require.Zero(t, found)
	})
}

// tenantry_worker is no superuser either: without a tenant context it sees and writes no
// tenant's rows; its cross-tenant reach is only through its SECURITY DEFINER functions.
func TestWorkerRole_CannotBypassRowLevelSecurity(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	worker := pgtest.Pool(t, db.WorkerURL, 2)
	id := uuid.Must(uuid.NewV7())
	appendAs(t, worker, id)
	_, err := worker.Exec(ctx, `SELECT tenantry.migrate_tenant_schema($1)`, id)
	require.NoError(t, err)

	for _, table := range []string{"tenantry.events", "tenantry.tenant_heads", "tenantry.streams", "tenantry.tenant_schemas",
		pgx.Identifier{"tenant_" + hexOf(id), "profile"}.Sanitize()} {
		var n int
		require.NoError(t, worker.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n), table)
		require.Zero(t, n, "%s without a tenant context", table)
	}
	_, err = worker.Exec(ctx, `INSERT INTO tenantry.tenants (tenant_id, slug, name, status, plan, schema_name, created_at, updated_at, seq)
		VALUES ($1, 'w', 'w', 'active', 'free', 'x', now(), now(), 1)`, id)
	require.Equal(t, "42501", sqlState(err), "RLS refuses a directory row outside its tenant's context: %v", err)

	var super, bypass, memberOfApp, appMemberOf bool
	require.NoError(t, worker.QueryRow(ctx, `SELECT r.rolsuper, r.rolbypassrls, pg_has_role('tenantry_worker', 'tenantry_app', 'MEMBER'),
		pg_has_role('tenantry_app', 'tenantry_worker', 'MEMBER') FROM pg_roles r WHERE r.rolname = current_user`).Scan(&super, &bypass, &memberOfApp, &appMemberOf))
	require.False(t, super || bypass || memberOfApp || appMemberOf)
}

func hexOf(id uuid.UUID) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 32)
	for _, b := range id {
		out = append(out, digits[b>>4], digits[b&15])
	}
	return string(out)
}

// The start-up check gives each pool the role of its purpose and nothing more.
func TestCheckRuntimeRoleFor_RefusesTheWrongRoleForEachPurpose(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	require.NoError(t, eventstore.CheckRuntimeRoleFor(ctx, connect(t, db.AppURL), eventstore.ForAPI))
	require.NoError(t, eventstore.CheckRuntimeRoleFor(ctx, connect(t, db.WorkerURL), eventstore.ForWorker))

	t.Run("APIPoolAsTheWorker", func(t *testing.T) {
		err := eventstore.CheckRuntimeRoleFor(ctx, connect(t, db.WorkerURL), eventstore.ForAPI)
		require.ErrorIs(t, err, eventstore.ErrUnsafeRole)
		require.ErrorContains(t, err, "cross-tenant")
	})
	t.Run("WorkerPoolAsTheAPI", func(t *testing.T) {
		err := eventstore.CheckRuntimeRoleFor(ctx, connect(t, db.AppURL), eventstore.ForWorker)
		require.ErrorContains(t, err, "TENANTRY_WORKER_DATABASE_URL")
	})

	conn := connect(t, db.SuperURL)
	role := "tenantry_probe_" + db.Name[len(db.Name)-12:]
	cases := []struct {
		name    string
		setup   []string
		purpose eventstore.Purpose
		want    string
	}{
		{"MemberOfTheWorker", []string{"CREATE ROLE %s LOGIN", "GRANT tenantry_worker TO %s"}, eventstore.ForAPI, `member of "tenantry_worker"`},
		{"MemberOfTheAPI", []string{"CREATE ROLE %s LOGIN", "GRANT tenantry_app TO %s", "GRANT tenantry_worker TO %s"}, eventstore.ForWorker, `member of "tenantry_app"`},
		{"APIRoleWithTheGlobalCursor", []string{"CREATE ROLE %s LOGIN", "GRANT USAGE ON SCHEMA tenantry TO %s",
			"GRANT EXECUTE ON FUNCTION tenantry.read_all_events(xid8, bigint, integer) TO %s"}, eventstore.ForAPI, "cross-tenant"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Cleanup(func() {
				for _, s := range []string{"DROP OWNED BY " + role, "DROP ROLE IF EXISTS " + role} {
					_, _ = conn.Exec(ctx, s)
				}
			})
			for _, s := range c.setup {
				_, err := conn.Exec(ctx, fmt.Sprintf(s, role))
				require.NoError(t, err, s)
			}
			url, err := migrations.AppURL(db.SuperURL, "")
			require.NoError(t, err)
			err = eventstore.CheckRuntimeRoleFor(ctx, connect(t, replaceUser(t, url, role)), c.purpose)
			require.ErrorIs(t, err, eventstore.ErrUnsafeRole)
			require.ErrorContains(t, err, c.want)
		})
	}
}

func TestBootstrap_CreatesASeparateWorkerRole(t *testing.T) {
	db := pgtest.New(t)
	conn := connect(t, db.SuperURL)
	ctx := context.Background()
	var super, bypass, login, createrole, createdb, replication, connectDB, ownerMember bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT rolsuper, rolbypassrls, rolcanlogin, rolcreaterole, rolcreatedb, rolreplication,
		has_database_privilege('tenantry_worker', current_database(), 'CONNECT'), pg_has_role('tenantry_worker', 'tenantry_owner', 'MEMBER')
		FROM pg_roles WHERE rolname = 'tenantry_worker'`).Scan(&super, &bypass, &login, &createrole, &createdb, &replication, &connectDB, &ownerMember))
	require.Equal(t, []bool{false, false, true, false, false, false, true, false},
		[]bool{super, bypass, login, createrole, createdb, replication, connectDB, ownerMember})

	got, err := migrations.WorkerURL("postgres://root:secret@db.example:6543/app?sslmode=require", "")
	require.NoError(t, err)
	require.Equal(t, "postgres://tenantry_worker@db.example:6543/app?sslmode=require", got)
	_, err = migrations.WorkerURL("host=localhost user=root", "")
	require.ErrorContains(t, err, "TENANTRY_WORKER_DATABASE_URL")
}

// chainWrites are direct writes to the tables that hold a tenant's chain, each for the
// tenant whose context the transaction is in (so row-level security alone would let them
// through): $1 is that tenant.
var chainWrites = []string{
	`INSERT INTO tenantry.events (tenant_id, seq, stream_id, stream_version, event_id, event_type, schema_version, data, metadata, recorded_at, tx_id, position, prev_hash, hash)
	 VALUES ($1, 99, 's', 99, gen_random_uuid(), 'thing.happened', 1, '{}', '{}', now(), pg_current_xact_id(), 99, sha256(''), sha256(''))`,
	`INSERT INTO tenantry.event_keys (tenant_id, key_id, seq) VALUES ($1, gen_random_uuid(), 1)`,
	`INSERT INTO tenantry.tenant_heads (tenant_id, seq, hash, recorded_at) VALUES ($1, 99, sha256(''), now())
	 ON CONFLICT (tenant_id) DO UPDATE SET seq = 99, hash = sha256('')`,
	`INSERT INTO tenantry.streams (tenant_id, stream_id, version) VALUES ($1, 'forged', 0)`,
	`UPDATE tenantry.tenant_heads SET hash = sha256('') WHERE tenant_id = $1`,
	`UPDATE tenantry.streams SET version = version + 1 WHERE tenant_id = $1`,
	`DELETE FROM tenantry.streams WHERE tenant_id = $1`,
	`DELETE FROM tenantry.tenant_heads WHERE tenant_id = $1`,
	`SELECT nextval('tenantry.event_position_seq') WHERE $1::uuid IS NOT NULL`,
}

// The chain is written only by append_events: a runtime role inside its own tenant's
// context is refused every direct write to events, event_keys, tenant_heads and streams
// (permission denied, not row-level security), while its appends, single and group
// committed, still go through and leave a chain that verifies.
func TestRuntimeRoles_WriteTheChainOnlyThroughAppendEvents(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	for _, role := range []struct{ name, url string }{{"App", db.AppURL}, {"Worker", db.WorkerURL}} {
		t.Run(role.name, func(t *testing.T) {
			pool := pgtest.Pool(t, role.url, 4)
			a := uuid.Must(uuid.NewV7())
			appendAs(t, pool, a)
			for _, stmt := range chainWrites {
				t.Run(stmt[:min(len(stmt), 40)], func(t *testing.T) {
					err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
						if _, err := tx.Exec(ctx, `SELECT set_config('tenantry.tenant_id', $1, true)`, a.String()); err != nil {
							return err
						}
						_, err := tx.Exec(ctx, stmt, a)
						return err
					})
					require.Equal(t, "42501", sqlState(err), "%v", err)
					require.ErrorContains(t, err, "permission denied")
				})
			}

			s, err := eventstore.NewStore(pool, eventstore.StoreConfig{GroupCommitters: 1})
			require.NoError(t, err)
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { _ = s.GroupCommitter().Run(runCtx); close(done) }()
			defer func() { stop(); <-done }()
			tenants := make([]uuid.UUID, 16)
			errs := make([]error, len(tenants))
			var wg sync.WaitGroup
			for i := range tenants {
				tenants[i] = uuid.Must(uuid.NewV7())
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					_, errs[i] = s.Append(ctx, tenants[i], "tenant", eventstore.NoStream,
						eventstore.NewEvent{Type: "tenant.created", SchemaVersion: 1, Data: []byte(`{"email": "admin@example.com"}`)})
				}(i)
			}
			wg.Wait()
			for i, err := range errs {
				require.NoError(t, err, "append %d", i)
			}
			grouped, _ := s.GroupCommitter().Stats()
			require.Positive(t, grouped, "some appends were committed as a group")
			for _, id := range append(tenants, a) {
				report, err := s.VerifyChain(ctx, id)
				require.NoError(t, err)
				require.True(t, report.OK, "%+v", report)
				require.EqualValues(t, 1, report.Events)
			}
		})
	}
}
