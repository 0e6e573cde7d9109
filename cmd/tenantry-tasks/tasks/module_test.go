package tasks_test

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/cmd/tenantry-tasks/tasks"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/module"
	"github.com/tenantry/tenantry/http/product"
)

func TestModule_IsAValidDeclaration(t *testing.T) {
	m := tasks.Module()
	require.NoError(t, m.Validate())
	require.NoError(t, module.Check([]module.Module{m}))
	require.Equal(t, "tasks.read", m.Checkpoint(m.Projections[0]))

	reg := &registrar{}
	require.NoError(t, module.Register(reg, m))
	require.Equal(t, []string{"tasks.project.created v2", "tasks.task.added v1", "tasks.task.completed v1"}, reg.types)
	require.Equal(t, []string{"tasks.project.created v1"}, reg.upcasters)
	for _, r := range domain.Roles() {
		require.NotEmpty(t, m.Roles[r], "role %s is explained", r)
	}
	require.Equal(t, []module.Metric{{Name: "tasks_created", Unit: "tasks", Description: "tasks added to projects"}}, m.Metrics)
}

// registrar records what module.Register hands the event store's registry.
type registrar struct{ types, upcasters []string }

func (r *registrar) Register(typ string, version int, newFn func() domain.Event) error {
	if e := newFn(); e.EventType() != typ || e.SchemaVersion() != version {
		return errMismatch
	}
	r.types = append(r.types, typ+" v"+itoa(version))
	return nil
}

func (r *registrar) RegisterUpcaster(typ string, from int, fn func([]byte) ([]byte, error)) error {
	r.upcasters = append(r.upcasters, typ+" v"+itoa(from))
	return nil
}

var errMismatch = domain.Invalid("type", "constructor disagrees with the declaration")

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestUpcastProjectCreatedV1_AddsAnEmptyDescription(t *testing.T) {
	in := `{"project_id":"01956b7e-0000-7000-8000-0000000000a1","name":"Launch","created_at":"2026-03-01T11:00:00Z"}`
	out, err := tasks.UpcastProjectCreatedV1([]byte(in))
	require.NoError(t, err)
	require.JSONEq(t, `{"project_id":"01956b7e-0000-7000-8000-0000000000a1","name":"Launch","description":"","created_at":"2026-03-01T11:00:00Z"}`, string(out))

	var v2 tasks.ProjectCreated
	require.NoError(t, json.Unmarshal(out, &v2))
	require.Equal(t, created, v2)
	given(t, &v2, added)
}

func TestUpcastProjectCreatedV1_RejectsMalformedPayloads(t *testing.T) {
	for _, in := range []string{``, `not json`, `null`, `[]`, `"x"`, `{"name":"x"`, `{} trailing`} {
		t.Run(in, func(t *testing.T) {
			out, err := tasks.UpcastProjectCreatedV1([]byte(in))
			require.Error(t, err)
			require.Nil(t, out)
			require.Contains(t, err.Error(), "tasks.project.created v1")
		})
	}
}

// The module's tables get the same isolation as Tenantry's own: every table created has
// tenant_id, row-level security enabled and forced, and the fail-closed tenant policy.
func TestMigrations_ForceRowLevelSecurityOnEveryTable(t *testing.T) {
	files, err := fs.Glob(tasks.Migrations(), "*")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	policy := `(tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))`
	tableRE := regexp.MustCompile(`(?is)CREATE TABLE (\w+) \((.*?)\n\);`)
	for _, f := range files {
		require.Regexp(t, `^\d{4}_[a-z0-9_]+\.sql$`, f)
		b, err := fs.ReadFile(tasks.Migrations(), f)
		require.NoError(t, err)
		sql := string(b)
		tables := tableRE.FindAllStringSubmatch(sql, -1)
		require.Equal(t, strings.Count(strings.ToUpper(sql), "CREATE TABLE"), len(tables), "%s: every CREATE TABLE parsed", f)
		for _, m := range tables {
			name, body := m[1], m[2]
			require.True(t, strings.HasPrefix(name, tasks.Name+"_"), "%s: table %s is namespaced", f, name)
			require.Regexp(t, `(?m)^\s+tenant_id\s+uuid\s+NOT NULL,`, body, "%s: %s has tenant_id", f, name)
			require.Regexp(t, `PRIMARY KEY \(tenant_id, `, body, "%s: %s's key starts with tenant_id", f, name)
			require.Contains(t, sql, "ALTER TABLE "+name+" ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;", "%s: %s", f, name)
			require.Contains(t, sql, "CREATE POLICY tenant_isolation ON "+name+"\n    USING "+policy+"\n    WITH CHECK "+policy+";", "%s: %s", f, name)
		}
		unquoted := strings.ReplaceAll(sql, "'tenantry.tenant_id'", "")
		require.NotRegexp(t, `(?i)\b(public|tenantry|tenant_[0-9a-f]+)\.\w`, unquoted, "%s: names unqualified (they land in the tenant's schema)", f)
	}
}

func TestRoutes_WritersAreAdminAndEditorAndEveryRoleReads(t *testing.T) {
	p := tasks.Product()
	require.Equal(t, tasks.Name, p.Module.Name)
	ids := map[string]bool{}
	for _, r := range p.Routes {
		require.True(t, strings.HasPrefix(r.Path, "/v1/projects"), r.Path)
		require.Contains(t, product.Methods, r.Method)
		require.NotNil(t, r.Handle, r.Path)
		require.NotNil(t, r.Result, r.Path)
		require.False(t, ids[r.OperationID], "operation id %s unique", r.OperationID)
		ids[r.OperationID] = true
		if r.Method == http.MethodGet {
			require.ElementsMatch(t, domain.Roles(), r.Roles, r.Path)
		} else {
			require.Equal(t, []domain.Role{domain.RoleAdmin, domain.RoleEditor}, r.Roles, r.Path)
			require.False(t, r.Billing, "%s is refused while the tenant is suspended", r.Path)
		}
	}
	require.Len(t, ids, 6)
}

func TestState_CountsProjectsAndTasks(t *testing.T) {
	m := tasks.Module()
	s := m.State()
	other := uuid.New()
	for i, e := range []domain.Event{created, added, tasks.TaskAdded{TaskID: other, Title: "b", AddedAt: now}, completed} {
		require.NoError(t, s.Apply(domain.Recorded{Event: e, Seq: int64(i + 1), StreamID: tasks.Stream(projectID), RecordedAt: now}))
	}
	b, err := json.Marshal(s)
	require.NoError(t, err)
	require.JSONEq(t, `{"projects":1,"open_tasks":1,"done_tasks":1}`, string(b))
}
