-- The tasks product's tables in one tenant's schema (unqualified names land there). Like
-- Tenantry's own tenant tables: tenant_id in every key, row-level security enabled and
-- forced, and the fail-closed tenant policy. Shipped: never edit; add 0002_... instead.

CREATE TABLE tasks_projects (
    tenant_id   uuid        NOT NULL,
    project_id  uuid        NOT NULL,
    name        text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    open_tasks  integer     NOT NULL DEFAULT 0 CHECK (open_tasks >= 0),
    done_tasks  integer     NOT NULL DEFAULT 0 CHECK (done_tasks >= 0),
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, project_id)
);

CREATE TABLE tasks_tasks (
    tenant_id    uuid        NOT NULL,
    task_id      uuid        NOT NULL,
    project_id   uuid        NOT NULL,
    title        text        NOT NULL,
    status       text        NOT NULL CHECK (status IN ('open', 'done')),
    created_at   timestamptz NOT NULL,
    completed_at timestamptz,
    PRIMARY KEY (tenant_id, task_id)
);

-- GET /v1/projects/{id}/tasks?status=: one project's tasks by id, optionally of one status.
CREATE INDEX tasks_tasks_by_project ON tasks_tasks (tenant_id, project_id, status, task_id);

ALTER TABLE tasks_projects ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tasks_projects
    USING (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid));

ALTER TABLE tasks_tasks ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tasks_tasks
    USING (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid));
