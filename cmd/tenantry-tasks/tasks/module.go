// Package tasks is the example product built on Tenantry: projects and their tasks. It is
// what a team writes (README, "Build your product on Tenantry"): a module.Module declaring
// its events, tenant migrations, projection, metric and replay state, and the product's
// routes; cmd/tenantry-tasks passes Product() to platform.Main. It uses only the extension
// API (domain/module, http/product), the domain's shared types and app.Command.
package tasks

import (
	"embed"
	"io/fs"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/module"
	"github.com/tenantry/tenantry/http/product"
)

// Name is the module's name: the prefix of its event types, streams, checkpoints and tables.
const Name = "tasks"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the module's tenant migrations (migrations/NNNN_name.sql).
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// Module declares the product's data.
func Module() module.Module {
	return module.Module{
		Name: Name,
		Events: []module.EventType{
			module.Event[ProjectCreated](),
			module.Event[TaskAdded](),
			module.Event[TaskCompleted](),
		},
		Upcasters:   []module.Upcaster{{Type: TypeProjectCreated, FromVersion: 1, Fn: UpcastProjectCreatedV1}},
		Migrations:  Migrations(),
		Projections: []module.Projection{readProjection},
		Metrics:     []module.Metric{{Name: "tasks_created", Unit: "tasks", Description: "tasks added to projects"}},
		Roles: map[domain.Role]string{
			domain.RoleAdmin:          "creates projects, adds and completes tasks, reads them all",
			domain.RoleEditor:         "creates projects, adds and completes tasks, reads them all",
			domain.RoleViewer:         "reads projects and tasks",
			domain.RoleBillingManager: "reads projects and tasks",
			domain.RoleAuditor:        "reads projects and tasks; sees their events in the audit log and replay",
		},
		State: func() module.State { return &State{} },
	}
}

// Product is the module with its routes: what cmd/tenantry-tasks passes to platform.Main.
func Product() product.Product { return product.Product{Module: Module(), Routes: routes()} }

// State is the product's part of an auditor's as-of replay: how many projects and tasks the
// tenant had.
type State struct {
	Projects  int `json:"projects"`
	OpenTasks int `json:"open_tasks"`
	DoneTasks int `json:"done_tasks"`
}

// Apply counts one of the module's events.
func (s *State) Apply(e domain.Recorded) error {
	switch domain.Deref(e.Event).(type) {
	case ProjectCreated:
		s.Projects++
	case TaskAdded:
		s.OpenTasks++
	case TaskCompleted:
		s.OpenTasks--
		s.DoneTasks++
	}
	return nil
}
