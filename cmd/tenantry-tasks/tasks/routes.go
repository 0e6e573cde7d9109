package tasks

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/module"
	"github.com/tenantry/tenantry/http/product"
)

// CreateProjectRequest is the body of POST /v1/projects.
type CreateProjectRequest struct {
	Name        string `json:"name" doc:"the project's name: 1 to 100 characters"`
	Description string `json:"description,omitempty" doc:"what the project is for: up to 2000 characters"`
}

// AddTaskRequest is the body of POST /v1/projects/{id}/tasks.
type AddTaskRequest struct {
	Title string `json:"title" doc:"the task's title: 1 to 200 characters"`
}

// ProjectView is a project as the API shows it.
type ProjectView struct {
	ID          uuid.UUID `json:"id" doc:"the project's id"`
	Name        string    `json:"name" doc:"the project's name"`
	Description string    `json:"description" doc:"what the project is for (may be empty)"`
	OpenTasks   int       `json:"open_tasks" doc:"how many of its tasks are open"`
	DoneTasks   int       `json:"done_tasks" doc:"how many of its tasks are done"`
	CreatedAt   time.Time `json:"created_at" doc:"when the project was created"`
}

// TaskView is a task as the API shows it.
type TaskView struct {
	ID          uuid.UUID  `json:"id" doc:"the task's id"`
	ProjectID   uuid.UUID  `json:"project_id" doc:"the project it belongs to"`
	Title       string     `json:"title" doc:"the task's title"`
	Status      string     `json:"status" jsonschema:"enum=open,enum=done" doc:"open or done"`
	CreatedAt   time.Time  `json:"created_at" doc:"when the task was added"`
	CompletedAt *time.Time `json:"completed_at,omitempty" doc:"when the task was done; absent while open"`
}

// ProjectList is the answer of GET /v1/projects: a page, as Tenantry's own lists.
type ProjectList struct {
	Items      []ProjectView `json:"items" doc:"the tenant's projects, by id"`
	NextCursor *string       `json:"next_cursor" jsonschema:"nullable" doc:"pass as cursor to get the next page; null on the last page"`
	HasMore    bool          `json:"has_more" doc:"whether a next page exists"`
}

// TaskList is the answer of GET /v1/projects/{id}/tasks.
type TaskList struct {
	Items      []TaskView `json:"items" doc:"the project's tasks, by id"`
	NextCursor *string    `json:"next_cursor" jsonschema:"nullable" doc:"pass as cursor to get the next page; null on the last page"`
	HasMore    bool       `json:"has_more" doc:"whether a next page exists"`
}

// Cursor list names: a cursor of one list is refused by the other.
const (
	listProjects = "projects"
	listTasks    = "project-tasks"
)

var (
	writers = []domain.Role{domain.RoleAdmin, domain.RoleEditor}
	readers = domain.Roles()
	paging  = []product.Param{
		{Name: "cursor", Description: "next_cursor of the previous page"},
		{Name: "limit", Type: "integer", Description: "page size, 1 to 1000 (default 100)"},
	}
)

func routes() []product.Route {
	return []product.Route{
		{Method: http.MethodPost, Path: "/v1/projects", Roles: writers, OperationID: "createProject",
			Summary: "Create a project", Body: CreateProjectRequest{}, Result: ProjectView{},
			Status: http.StatusCreated, Handle: createProject},
		{Method: http.MethodGet, Path: "/v1/projects", Roles: readers, OperationID: "listProjects",
			Summary: "List projects", Query: paging, Result: ProjectList{}, Handle: listProjectsHandler},
		{Method: http.MethodGet, Path: "/v1/projects/:id", Roles: readers, OperationID: "getProject",
			Summary: "Get a project", Result: ProjectView{}, Handle: getProject},
		{Method: http.MethodPost, Path: "/v1/projects/:id/tasks", Roles: writers, OperationID: "addTask",
			Summary: "Add a task to a project", Body: AddTaskRequest{}, Result: TaskView{},
			Status: http.StatusCreated, Handle: addTask},
		{Method: http.MethodPost, Path: "/v1/projects/:id/tasks/:task/complete", Roles: writers,
			OperationID: "completeTask", Summary: "Mark a task done", Result: TaskView{},
			Errors: []int{http.StatusConflict}, Handle: completeTask},
		{Method: http.MethodGet, Path: "/v1/projects/:id/tasks", Roles: readers, OperationID: "listTasks",
			Summary: "List a project's tasks", Result: TaskList{}, Handle: listTasksHandler,
			Query: append([]product.Param{{Name: "status", Description: "only tasks of this status", Enum: []string{"open", "done"}}}, paging...)},
	}
}

// run decides on project id's stream through app.Command, then waits (bounded) for the
// read model to include the write, so a read that follows sees it. A wait that times out is
// not a failure of the write: the answer comes from the decided state either way.
func run(c *gin.Context, r product.Request, id uuid.UUID, decide func(*Project) ([]domain.Event, error)) (*Project, bool) {
	cmd := app.Command[*Project]{Store: r.Events(), Tenant: r.Tenant(), Stream: Stream(id), New: NewProject, Metadata: r.Metadata()}
	p, res, err := cmd.Run(c.Request.Context(), decide)
	if err != nil {
		r.Error(err)
		return nil, false
	}
	_ = r.Settle(c.Request.Context(), res.LastSeq)
	return p, true
}

func createProject(c *gin.Context, r product.Request) {
	var body CreateProjectRequest
	if !r.Bind(&body) {
		return
	}
	id, now := uuid.Must(uuid.NewV7()), time.Now()
	if p, ok := run(c, r, id, func(p *Project) ([]domain.Event, error) { return p.Create(id, body.Name, body.Description, now) }); ok {
		r.JSON(http.StatusCreated, p.view())
	}
}

func addTask(c *gin.Context, r product.Request) {
	project, ok := pathID(c, r, "id", "project")
	var body AddTaskRequest
	if !ok || !r.Bind(&body) {
		return
	}
	id, now := uuid.Must(uuid.NewV7()), time.Now()
	if p, ok := run(c, r, project, func(p *Project) ([]domain.Event, error) { return p.AddTask(id, body.Title, now) }); ok {
		r.JSON(http.StatusCreated, p.taskView(id))
	}
}

func completeTask(c *gin.Context, r product.Request) {
	project, ok := pathID(c, r, "id", "project")
	if !ok {
		return
	}
	id, ok := pathID(c, r, "task", "task")
	if !ok {
		return
	}
	now := time.Now()
	if p, ok := run(c, r, project, func(p *Project) ([]domain.Event, error) { return p.CompleteTask(id, now) }); ok {
		r.JSON(http.StatusOK, p.taskView(id))
	}
}

func getProject(c *gin.Context, r product.Request) {
	id, ok := pathID(c, r, "id", "project")
	if !ok {
		return
	}
	var found []ProjectView
	err := r.Read(c.Request.Context(), func(tx module.Tx) (err error) {
		found, err = queryProjects(c.Request.Context(), tx, getProjectSQL, id)
		return err
	})
	switch {
	case err != nil:
		r.Error(err)
	case len(found) == 0:
		r.Fail(http.StatusNotFound, "not-found", "project not found")
	default:
		r.JSON(http.StatusOK, found[0])
	}
}

func listProjectsHandler(c *gin.Context, r product.Request) {
	pr, err := domain.ParsePageRequest(listProjects, c.Query("cursor"), c.Query("limit"))
	if err != nil {
		r.Error(err)
		return
	}
	var rows []ProjectView
	err = r.Read(c.Request.Context(), func(tx module.Tx) (err error) {
		rows, err = queryProjects(c.Request.Context(), tx, listProjectsSQL, pr.After, pr.Limit+1)
		return err
	})
	if err != nil {
		r.Error(err)
		return
	}
	page := domain.NewPage(rows, pr.Limit, func(v ProjectView) string { return domain.IDCursor(listProjects, v.ID) })
	r.JSON(http.StatusOK, ProjectList{Items: page.Items, NextCursor: page.NextCursor, HasMore: page.HasMore})
}

func listTasksHandler(c *gin.Context, r product.Request) {
	project, ok := pathID(c, r, "id", "project")
	if !ok {
		return
	}
	status := c.Query("status")
	if status != "" && status != "open" && status != "done" {
		r.Error(domain.Invalid("status", "status must be open or done"))
		return
	}
	pr, err := domain.ParsePageRequest(listTasks, c.Query("cursor"), c.Query("limit"))
	if err != nil {
		r.Error(err)
		return
	}
	var projects []ProjectView
	var rows []TaskView
	err = r.Read(c.Request.Context(), func(tx module.Tx) (err error) {
		ctx := c.Request.Context()
		if projects, err = queryProjects(ctx, tx, getProjectSQL, project); err != nil || len(projects) == 0 {
			return err
		}
		rows, err = queryTasks(ctx, tx, project, status, pr.After, pr.Limit+1)
		return err
	})
	switch {
	case err != nil:
		r.Error(err)
	case len(projects) == 0:
		r.Fail(http.StatusNotFound, "not-found", "project not found")
	default:
		page := domain.NewPage(rows, pr.Limit, func(v TaskView) string { return domain.IDCursor(listTasks, v.ID) })
		r.JSON(http.StatusOK, TaskList{Items: page.Items, NextCursor: page.NextCursor, HasMore: page.HasMore})
	}
}

// pathID parses a uuid path parameter; a malformed one is simply not found, as in Tenantry's
// own routes.
func pathID(c *gin.Context, r product.Request, param, what string) (uuid.UUID, bool) {
	s := c.Param(param)
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		r.Fail(http.StatusNotFound, "not-found", what+" not found")
		return uuid.Nil, false
	}
	return id, true
}

func (p *Project) view() ProjectView {
	return ProjectView{ID: p.id, Name: p.name, Description: p.description, OpenTasks: p.open,
		DoneTasks: len(p.tasks) - p.open, CreatedAt: p.createdAt}
}

func (p *Project) taskView(id uuid.UUID) TaskView {
	t := p.tasks[id]
	v := TaskView{ID: id, ProjectID: p.id, Title: t.title, Status: "open", CreatedAt: t.addedAt}
	if !t.completedAt.IsZero() {
		v.Status, v.CompletedAt = "done", &t.completedAt
	}
	return v
}

// The read model's queries (the read transaction sets the tenant's schema and context).
const (
	projectColumns  = `SELECT project_id, name, description, open_tasks, done_tasks, created_at FROM tasks_projects `
	getProjectSQL   = projectColumns + `WHERE project_id = $1`
	listProjectsSQL = projectColumns + `WHERE project_id > $1 ORDER BY project_id LIMIT $2`
	listTasksSQL    = `SELECT task_id, project_id, title, status, created_at, completed_at FROM tasks_tasks
WHERE project_id = $1 AND ($2 = '' OR status = $2) AND task_id > $3 ORDER BY task_id LIMIT $4`
)

func queryProjects(ctx context.Context, tx module.Tx, sql string, args ...any) ([]ProjectView, error) {
	rows, err := tx.Query(ctx, sql, args...)
	return collect(rows, err, func(v *ProjectView) error {
		err := rows.Scan(&v.ID, &v.Name, &v.Description, &v.OpenTasks, &v.DoneTasks, &v.CreatedAt)
		v.CreatedAt = v.CreatedAt.UTC()
		return err
	})
}

func queryTasks(ctx context.Context, tx module.Tx, project uuid.UUID, status string, after uuid.UUID, limit int) ([]TaskView, error) {
	rows, err := tx.Query(ctx, listTasksSQL, project, status, after, limit)
	return collect(rows, err, func(v *TaskView) error {
		err := rows.Scan(&v.ID, &v.ProjectID, &v.Title, &v.Status, &v.CreatedAt, &v.CompletedAt)
		if v.CreatedAt = v.CreatedAt.UTC(); v.CompletedAt != nil {
			*v.CompletedAt = v.CompletedAt.UTC()
		}
		return err
	})
}

// collect reads every row of a query with scan. (module.Row's "no rows" error is the
// driver's, which a module cannot name; reading lists of zero or one row avoids it.)
func collect[T any](rows module.Rows, err error, scan func(*T) error) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
