package tasks

import (
	"context"
	"fmt"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/module"
)

// The projection's writes. The tenant's schema is on the search_path and row-level security
// admits only its rows; every value is a parameter.
const (
	insertProjectSQL = `INSERT INTO tasks_projects (tenant_id, project_id, name, description, created_at)
VALUES ($1, $2, $3, $4, $5)`
	insertTaskSQL = `INSERT INTO tasks_tasks (tenant_id, task_id, project_id, title, status, created_at)
VALUES ($1, $2, $3, $4, 'open', $5)`
	countAddedSQL   = `UPDATE tasks_projects SET open_tasks = open_tasks + 1 WHERE project_id = $1`
	completeTaskSQL = `UPDATE tasks_tasks SET status = 'done', completed_at = $3
WHERE task_id = $1 AND project_id = $2 AND status = 'open'`
	countDoneSQL = `UPDATE tasks_projects SET open_tasks = open_tasks - 1, done_tasks = done_tasks + 1
WHERE project_id = $1`
)

// readProjection keeps tasks_projects and tasks_tasks: checkpoint "tasks.read".
var readProjection = module.Projection{
	Name:    "read",
	Handles: []string{TypeProjectCreated, TypeTaskAdded, TypeTaskCompleted},
	Apply:   applyRead,
}

func applyRead(ctx context.Context, tx module.Tx, e domain.Recorded) error {
	project, err := projectOf(e.StreamID)
	if err != nil {
		return fmt.Errorf("project read model, seq %d: %w", e.Seq, err)
	}
	switch ev := domain.Deref(e.Event).(type) {
	case ProjectCreated:
		_, err = tx.Exec(ctx, insertProjectSQL, tx.Tenant(), ev.ProjectID, ev.Name, ev.Description, ev.CreatedAt)
	case TaskAdded:
		if _, err = tx.Exec(ctx, insertTaskSQL, tx.Tenant(), ev.TaskID, project, ev.Title, ev.AddedAt); err == nil {
			err = one(tx.Exec(ctx, countAddedSQL, project))
		}
	case TaskCompleted:
		if err = one(tx.Exec(ctx, completeTaskSQL, ev.TaskID, project, ev.CompletedAt)); err == nil {
			err = one(tx.Exec(ctx, countDoneSQL, project))
		}
	default:
		err = fmt.Errorf("unexpected event %T", e.Event)
	}
	if err != nil {
		return fmt.Errorf("project read model, seq %d: %w", e.Seq, err)
	}
	return nil
}

// one checks a write touched exactly one row: anything else means the read model and the
// events disagree, which must stop the projection rather than drift.
func one(n int64, err error) error {
	if err == nil && n != 1 {
		err = fmt.Errorf("%d rows changed, want 1", n)
	}
	return err
}
