package tasks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/cmd/tenantry-tasks/tasks"
	"github.com/tenantry/tenantry/cmd/tenantry/platform"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/catalog"
	"github.com/tenantry/tenantry/domain/module"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/http/product"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// End-to-end tests of the example product: the tenantry-tasks binary's root command
// (platform.NewCommand with tasks.Product()) migrating a fresh database and serving it, the
// product's routes reached over HTTP, its tables and events checked in PostgreSQL.

const operatorToken = "op_e2e_token_0123456789abcdef"

// run runs one command of the root command built with products.
func run(t *testing.T, ctx context.Context, env map[string]string, products []product.Product, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := platform.NewCommand(func(k string) string { return env[k] }, &out, &errOut, products...)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String() + errOut.String(), err
}

// server is a serving tenantry-tasks on a fresh database.
type server struct {
	base     string
	env      map[string]string
	db       *pgtest.DB
	products []product.Product
}

func envOf(db *pgtest.DB, addr string) map[string]string {
	return map[string]string{"DATABASE_URL": db.SuperURL, "TENANTRY_ADDR": addr, "LOG_FORMAT": "json", "LOG_LEVEL": "warn",
		"TENANTRY_OPERATOR_TOKEN": operatorToken, "TENANTRY_BASE_DOMAIN": "tenantry.test"}
}

// start migrates db (a fresh one when nil) and serves it with products (default: the tasks
// product) until the test ends.
func start(t *testing.T, db *pgtest.DB, products ...product.Product) *server {
	t.Helper()
	if db == nil {
		db = pgtest.New(t)
	}
	if products == nil {
		products = []product.Product{tasks.Product()}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	s := &server{base: "http://" + addr, env: envOf(db, addr), db: db, products: products}
	out, err := run(t, context.Background(), s.env, products, "migrate")
	require.NoError(t, err, out)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := run(t, ctx, s.env, products, "serve"); done <- err }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	require.Eventually(t, func() bool {
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond)
	return s
}

// answer is one HTTP answer: status and decoded JSON body (nil when none).
type answer struct {
	status int
	body   map[string]any
	raw    string
}

func (a answer) str(k string) string { s, _ := a.body[k].(string); return s }

// call sends one request; opts are "Host: x" or "Name: value" header lines.
func (s *server) call(t *testing.T, method, path, key string, body any, headers ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, raw: string(b)}
	if len(b) > 0 && b[0] == '{' {
		require.NoError(t, json.Unmarshal(b, &a.body), string(b))
	}
	require.Less(t, a.status, 500, "%s %s: %s", method, path, b)
	return a
}

// tenantOf is a created tenant: id, slug and its admin's key.
type tenantOf struct {
	id        uuid.UUID
	slug, key string
}

func (s *server) createTenant(t *testing.T, slug string) tenantOf {
	t.Helper()
	a := s.call(t, "POST", "/v1/tenants", operatorToken, map[string]any{"name": "Tenant " + slug, "slug": slug, "plan": "pro", "admin_email": "admin@" + slug + ".test"})
	require.Equal(t, http.StatusCreated, a.status, a.raw)
	ten := a.body["tenant"].(map[string]any)
	return tenantOf{id: uuid.MustParse(ten["id"].(string)), slug: slug, key: a.body["api_key"].(map[string]any)["key"].(string)}
}

// super is a superuser connection to the test database, for what only an inspector sees.
func (s *server) super(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), s.db.SuperURL)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// dump is a tenant's product tables as text, in key order.
func dump(t *testing.T, conn *pgx.Conn, id uuid.UUID) string {
	t.Helper()
	schema := pgx.Identifier{"tenant_" + strings.ReplaceAll(id.String(), "-", "")}.Sanitize()
	var b strings.Builder
	for _, q := range []string{
		`SELECT coalesce(json_agg(p ORDER BY p.project_id)::text, '[]') FROM ` + schema + `.tasks_projects p`,
		`SELECT coalesce(json_agg(x ORDER BY x.task_id)::text, '[]') FROM ` + schema + `.tasks_tasks x`,
	} {
		var s string
		require.NoError(t, conn.QueryRow(context.Background(), q).Scan(&s))
		b.WriteString(s + "\n")
	}
	return b.String()
}

// Every route answers under the four tenant resolutions: the key alone, the workspace path,
// the subdomain and the X-Tenant header (slug and id).
func TestTasks_RoutesAnswerUnderEveryTenantResolution(t *testing.T) {
	s := start(t, nil)
	a := s.createTenant(t, "acme")
	type form struct {
		name    string
		prefix  string   // replaces "/v1"
		headers []string // extra headers
	}
	forms := []form{
		{"key", "/v1", nil},
		{"workspace", "/v1/workspaces/acme", nil},
		{"subdomain", "/v1", []string{"Host: acme.tenantry.test"}},
		{"header slug", "/v1", []string{"X-Tenant: acme"}},
		{"header id", "/v1", []string{"X-Tenant: " + a.id.String()}},
	}
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			p := s.call(t, "POST", f.prefix+"/projects", a.key, map[string]any{"name": "Launch " + f.name}, f.headers...)
			require.Equal(t, http.StatusCreated, p.status, p.raw)
			pid := p.str("id")
			got := s.call(t, "GET", f.prefix+"/projects/"+pid, a.key, nil, f.headers...)
			require.Equal(t, http.StatusOK, got.status, got.raw)
			require.Equal(t, "Launch "+f.name, got.str("name"))
			list := s.call(t, "GET", f.prefix+"/projects?limit=1000", a.key, nil, f.headers...)
			require.Equal(t, http.StatusOK, list.status, list.raw)
			require.Contains(t, list.raw, pid)
			task := s.call(t, "POST", f.prefix+"/projects/"+pid+"/tasks", a.key, map[string]any{"title": "write it"}, f.headers...)
			require.Equal(t, http.StatusCreated, task.status, task.raw)
			done := s.call(t, "POST", f.prefix+"/projects/"+pid+"/tasks/"+task.str("id")+"/complete", a.key, nil, f.headers...)
			require.Equal(t, http.StatusOK, done.status, done.raw)
			require.Equal(t, "done", done.str("status"))
			tasksDone := s.call(t, "GET", f.prefix+"/projects/"+pid+"/tasks?status=done", a.key, nil, f.headers...)
			require.Equal(t, http.StatusOK, tasksDone.status, tasksDone.raw)
			require.Contains(t, tasksDone.raw, task.str("id"))
			open := s.call(t, "GET", f.prefix+"/projects/"+pid+"/tasks?status=open", a.key, nil, f.headers...)
			require.NotContains(t, open.raw, task.str("id"))
		})
	}
}

// /openapi.json lists the product's operations, and its tag says what each role may do and
// which usage metrics the product records, as the module declares them.
func TestTasks_OpenAPIDocumentsTheRoutesRolesAndMetrics(t *testing.T) {
	s := start(t, nil)
	doc := s.call(t, "GET", "/openapi.json", "", nil)
	require.Equal(t, http.StatusOK, doc.status)
	ops := map[string]bool{}
	for _, item := range doc.body["paths"].(map[string]any) {
		for _, op := range item.(map[string]any) {
			if o, ok := op.(map[string]any); ok {
				ops[fmt.Sprint(o["operationId"])] = true
			}
		}
	}
	for _, op := range []string{"createProject", "listProjects", "getProject", "addTask", "completeTask", "listTasks"} {
		require.True(t, ops[op], op)
	}
	var tag map[string]any
	for _, tg := range doc.body["tags"].([]any) {
		if tg.(map[string]any)["name"] == "tasks" {
			tag = tg.(map[string]any)
		}
	}
	require.NotNil(t, tag)
	desc := tag["description"].(string)
	require.Contains(t, desc, "- viewer: "+tasks.Module().Roles[domain.RoleViewer])
	require.Contains(t, desc, "`tasks_created` (tasks)")
}

// A key of tenant B gets 404, never data, on every route of the product, whichever form
// names tenant A; and A's ids are not found in B's own tenant.
func TestTasks_AnotherTenantsKeyGets404OnEveryRoute(t *testing.T) {
	s := start(t, nil)
	a, b := s.createTenant(t, "alpha"), s.createTenant(t, "bravo")
	p := s.call(t, "POST", "/v1/projects", a.key, map[string]any{"name": "secret"})
	require.Equal(t, http.StatusCreated, p.status, p.raw)
	task := s.call(t, "POST", "/v1/projects/"+p.str("id")+"/tasks", a.key, map[string]any{"title": "hidden"})
	require.Equal(t, http.StatusCreated, task.status, task.raw)
	before := dump(t, s.super(t), a.id)

	bodies := map[string]any{"/v1/projects": map[string]any{"name": "x"}, "/v1/projects/:id/tasks": map[string]any{"title": "x"}}
	for _, rt := range tasks.Product().Routes {
		path := strings.NewReplacer(":id", p.str("id"), ":task", task.str("id")).Replace(rt.Path)
		var body any
		if rt.Method == "POST" {
			body = bodies[rt.Path]
		}
		for _, h := range [][]string{{"X-Tenant: alpha"}, {"Host: alpha.tenantry.test"}, nil} {
			pth := path
			if h == nil {
				pth = "/v1/workspaces/alpha" + strings.TrimPrefix(path, "/v1")
			}
			got := s.call(t, rt.Method, pth, b.key, body, h...)
			require.Equal(t, http.StatusNotFound, got.status, "%s %s %v: %s", rt.Method, pth, h, got.raw)
			require.NotContains(t, got.raw, "secret")
			require.NotContains(t, got.raw, "hidden")
		}
		if strings.Contains(rt.Path, ":id") { // in B's own tenant, A's ids do not exist
			got := s.call(t, rt.Method, path, b.key, body)
			require.Equal(t, http.StatusNotFound, got.status, "%s %s: %s", rt.Method, path, got.raw)
		}
	}
	require.Equal(t, before, dump(t, s.super(t), a.id), "A's tables are untouched")
}

// After migrate, a tenant's product tables have row-level security enabled and forced, both
// policies, tenantry_owner as owner, and the runtime roles hold DML only.
func TestTasks_TablesForceRowLevelSecurityAndRuntimeRolesOwnNone(t *testing.T) {
	s := start(t, nil)
	a := s.createTenant(t, "gamma")
	require.Equal(t, http.StatusCreated, s.call(t, "POST", "/v1/projects", a.key, map[string]any{"name": "p"}).status)
	conn := s.super(t)
	schema := "tenant_" + strings.ReplaceAll(a.id.String(), "-", "")
	rows, err := conn.Query(context.Background(), `SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner),
		(SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid),
		has_table_privilege('tenantry_app', c.oid, 'TRUNCATE') OR has_table_privilege('tenantry_app', c.oid, 'REFERENCES') OR has_table_privilege('tenantry_app', c.oid, 'TRIGGER'),
		has_table_privilege('tenantry_app', c.oid, 'SELECT,INSERT,UPDATE,DELETE')
		FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'r' AND c.relname LIKE 'tasks\_%' ORDER BY 1`, schema)
	require.NoError(t, err)
	n := 0
	for rows.Next() {
		var name, owner string
		var rls, force, extra, dml bool
		var policies int
		require.NoError(t, rows.Scan(&name, &rls, &force, &owner, &policies, &extra, &dml))
		require.True(t, rls && force, name)
		require.Equal(t, "tenantry_owner", owner, name)
		require.GreaterOrEqual(t, policies, 2, "%s: tenant_isolation and schema_owner", name)
		require.False(t, extra, "%s: the API role holds more than DML", name)
		require.True(t, dml, name)
		n++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, 2, n)

	// Without a tenant context the runtime role sees nothing, even naming the schema.
	app, err := pgx.Connect(context.Background(), s.db.AppURL)
	require.NoError(t, err)
	defer app.Close(context.Background())
	var count int
	require.NoError(t, app.QueryRow(context.Background(), `SELECT count(*) FROM `+pgx.Identifier{schema, "tasks_projects"}.Sanitize()).Scan(&count))
	require.Zero(t, count)
}

// The module's projection equals what a rebuild replays, after a random command sequence
// over several tenants (some commands refused).
func TestTasks_ProjectionEqualsRebuildAfterARandomCommandSequence(t *testing.T) {
	s := start(t, nil)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	tenants := []tenantOf{s.createTenant(t, "r-one"), s.createTenant(t, "r-two")}
	projects := map[uuid.UUID][]string{}
	tasksOf := map[string][]string{}
	for i := 0; i < 60; i++ {
		ten := tenants[rng.IntN(len(tenants))]
		ps := projects[ten.id]
		switch k := rng.IntN(10); {
		case k < 2 || len(ps) == 0:
			a := s.call(t, "POST", "/v1/projects", ten.key, map[string]any{"name": fmt.Sprintf("project %d", i)})
			require.Equal(t, http.StatusCreated, a.status, a.raw)
			projects[ten.id] = append(ps, a.str("id"))
		case k < 7:
			p := ps[rng.IntN(len(ps))]
			a := s.call(t, "POST", "/v1/projects/"+p+"/tasks", ten.key, map[string]any{"title": fmt.Sprintf("task %d", i)})
			require.Equal(t, http.StatusCreated, a.status, a.raw)
			tasksOf[p] = append(tasksOf[p], a.str("id"))
		default:
			p := ps[rng.IntN(len(ps))]
			if len(tasksOf[p]) == 0 {
				continue
			}
			a := s.call(t, "POST", "/v1/projects/"+p+"/tasks/"+tasksOf[p][rng.IntN(len(tasksOf[p]))]+"/complete", ten.key, nil)
			require.Contains(t, []int{http.StatusOK, http.StatusConflict}, a.status, a.raw) // completing twice is refused
		}
	}
	conn := s.super(t)
	for _, ten := range tenants {
		live := dump(t, conn, ten.id)
		out, err := run(t, context.Background(), s.env, s.products, "projections", "rebuild", "--tenant", ten.slug)
		require.NoError(t, err, out)
		require.Equal(t, live, dump(t, conn, ten.id), "tenant %s: rebuilt tables differ from the live ones", ten.slug)
	}
}

// A module projection that fails on one event stops only itself for that tenant: Tenantry's
// own read models and the same projection of another tenant go on.
func TestTasks_AFailingModuleProjectionIsIsolated(t *testing.T) {
	poisoned := tasks.Product()
	for i, p := range poisoned.Module.Projections {
		apply := p.Apply
		poisoned.Module.Projections[i].Apply = func(ctx context.Context, tx module.Tx, e domain.Recorded) error {
			if strings.Contains(fmt.Sprintf("%+v", e.Event), "poison") {
				return errors.New("this projection cannot apply a poison task")
			}
			return apply(ctx, tx, e)
		}
	}
	s := start(t, nil, poisoned)
	a, b := s.createTenant(t, "sick"), s.createTenant(t, "well")
	pa := s.call(t, "POST", "/v1/projects", a.key, map[string]any{"name": "pa"})
	require.Equal(t, http.StatusCreated, pa.status, pa.raw)
	// The write stands (the event is stored) even though its projection cannot apply it.
	bad := s.call(t, "POST", "/v1/projects/"+pa.str("id")+"/tasks", a.key, map[string]any{"title": "poison"})
	require.Less(t, bad.status, 500, bad.raw)

	conn := s.super(t)
	require.Eventually(t, func() bool {
		var failed bool
		err := conn.QueryRow(context.Background(), `SELECT failed_seq IS NOT NULL FROM tenantry.projections WHERE tenant_id = $1 AND projection = 'tasks.read'`, a.id).Scan(&failed)
		return err == nil && failed
	}, 30*time.Second, 50*time.Millisecond, "the module's projection of A is stopped")

	// A's own read models go on: a rename is read back.
	ren := s.call(t, "PATCH", "/v1/tenant", a.key, map[string]any{"name": "Renamed"})
	require.Equal(t, http.StatusOK, ren.status, ren.raw)
	require.Equal(t, "Renamed", s.call(t, "GET", "/v1/tenant", a.key, nil).str("name"))
	var authFailed bool
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT count(*) > 0 FROM tenantry.projections WHERE tenant_id = $1 AND projection IN ('auth', 'usage') AND failed_seq IS NOT NULL`, a.id).Scan(&authFailed))
	require.False(t, authFailed)

	// B's projection of the same module goes on.
	pb := s.call(t, "POST", "/v1/projects", b.key, map[string]any{"name": "pb"})
	require.Equal(t, http.StatusCreated, pb.status, pb.raw)
	tb := s.call(t, "POST", "/v1/projects/"+pb.str("id")+"/tasks", b.key, map[string]any{"title": "fine"})
	require.Equal(t, http.StatusCreated, tb.status, tb.raw)
	list := s.call(t, "GET", "/v1/projects/"+pb.str("id")+"/tasks", b.key, nil)
	require.Contains(t, list.raw, tb.str("id"))
}

// The module's tenant migration reaches every existing schema: 1,000 tenants provisioned by
// plain Tenantry, then `migrate` with the product gives each the product's tables, forced
// row-level security included; running it again does nothing.
func TestTasks_MigrationAppliesToEveryExistingSchema(t *testing.T) {
	db := pgtest.New(t)
	env := envOf(db, "127.0.0.1:0")
	out, err := run(t, context.Background(), env, nil, "migrate")
	require.NoError(t, err, out)

	ctx := context.Background()
	pool := pgtest.Pool(t, db.AppURL, 8)
	store, err := eventstore.NewStore(pool, eventstore.StoreConfig{})
	require.NoError(t, err)
	reg := eventstore.NewRegistry()
	require.NoError(t, catalog.Register(reg))
	const n = 1000
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7())
		slug, err := domain.ParseSlug(fmt.Sprintf("t-%04d", i))
		require.NoError(t, err)
		created, err := tenant.Create(ids[i], "Tenant", slug, domain.PlanFree, time.Now())
		require.NoError(t, err)
		ne, err := reg.Encode(created[0], eventstore.Metadata{Actor: "test"})
		require.NoError(t, err)
		_, err = store.Append(ctx, ids[i], tenant.StreamID, eventstore.NoStream, ne)
		require.NoError(t, err)
	}
	conn, err := pgx.Connect(ctx, db.SuperURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	for i := 0; i < n; i += 10 { // a few per transaction: each holds its schema's locks
		_, err = conn.Exec(ctx, `SELECT tenantry.migrate_tenant_schema(id) FROM unnest($1::uuid[]) AS id`, ids[i:i+10])
		require.NoError(t, err)
	}
	countTables := func() int {
		var c int
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
			WHERE s.nspname LIKE 'tenant\_%' AND c.relname = 'tasks_tasks' AND c.relrowsecurity AND c.relforcerowsecurity`).Scan(&c))
		return c
	}
	require.Zero(t, countTables(), "plain Tenantry has no product tables")

	products := []product.Product{tasks.Product()}
	out, err = run(t, ctx, env, products, "migrate")
	require.NoError(t, err, out)
	require.Equal(t, n, countTables())
	var behind int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM tenantry.tenant_schemas WHERE version < (SELECT max(version) FROM tenantry.tenant_migrations)`).Scan(&behind))
	require.Zero(t, behind)
	var migrated time.Time
	require.NoError(t, conn.QueryRow(ctx, `SELECT max(migrated_at) FROM tenantry.tenant_schemas`).Scan(&migrated))
	out, err = run(t, ctx, env, products, "migrate")
	require.NoError(t, err, out)
	var again time.Time
	require.NoError(t, conn.QueryRow(ctx, `SELECT max(migrated_at) FROM tenantry.tenant_schemas`).Scan(&again))
	require.Equal(t, migrated, again, "a second migrate changes no schema")
}

// A tenant's export holds the product's events in its hash chain, and both verifiers (the Go
// one of `audit verify` and eventstore/audit/verify_audit.py) accept it; an edited task title
// is refused by both.
func TestTasks_ExportedEventsPassBothVerifiers(t *testing.T) {
	s := start(t, nil)
	a := s.createTenant(t, "audited")
	p := s.call(t, "POST", "/v1/projects", a.key, map[string]any{"name": "ledger"})
	require.Equal(t, http.StatusCreated, p.status, p.raw)
	task := s.call(t, "POST", "/v1/projects/"+p.str("id")+"/tasks", a.key, map[string]any{"title": "count the beans"})
	require.Equal(t, http.StatusCreated, task.status, task.raw)
	require.Equal(t, http.StatusOK, s.call(t, "POST", "/v1/projects/"+p.str("id")+"/tasks/"+task.str("id")+"/complete", a.key, nil).status)

	dir := t.TempDir()
	file := filepath.Join(dir, "export.ndjson")
	out, err := run(t, context.Background(), s.env, s.products, "audit", "export", "--tenant", "audited", "--out", file)
	require.NoError(t, err, out)
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	for _, typ := range []string{"tasks.project.created", "tasks.task.added", "tasks.task.completed"} {
		require.Contains(t, string(b), `"`+typ+`"`)
	}
	verify := func(f string) (goCode, pyCode int) {
		_, err := run(t, context.Background(), map[string]string{"LOG_FORMAT": "json"}, nil, "audit", "verify", "--file", f)
		if err != nil {
			goCode = 1
		}
		cmd := exec.Command("python3", "../../../eventstore/audit/verify_audit.py", f)
		if err := cmd.Run(); err != nil {
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit)
			pyCode = exit.ExitCode()
		}
		return goCode, pyCode
	}
	g, py := verify(file)
	require.Zero(t, g, "the Go verifier accepts the export")
	require.Zero(t, py, "verify_audit.py accepts the export")

	edited := filepath.Join(dir, "edited.ndjson")
	require.NoError(t, os.WriteFile(edited, bytes.Replace(b, []byte("count the beans"), []byte("count the bean"), 1), 0o600))
	g, py = verify(edited)
	require.NotZero(t, g, "the Go verifier refuses an edited title")
	require.Equal(t, 1, py, "verify_audit.py refuses an edited title")
}

var _ = slog.Default
