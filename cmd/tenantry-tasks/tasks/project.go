package tasks

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
)

// Bounds of the product's texts, in characters.
const (
	maxNameLen        = 100
	maxDescriptionLen = 2000
	maxTitleLen       = 200
)

// streamPrefix starts every project's stream: "tasks.project-<uuid>".
const streamPrefix = "tasks.project-"

// Stream is the stream of project id.
func Stream(id uuid.UUID) string { return streamPrefix + id.String() }

// projectOf reads the project id back from a stream name.
func projectOf(stream string) (uuid.UUID, error) {
	rest, ok := strings.CutPrefix(stream, streamPrefix)
	if !ok {
		return uuid.Nil, fmt.Errorf("stream %q is not a project's", stream)
	}
	return uuid.Parse(rest)
}

// Project is the state folded from one project's stream. The zero value is a project that
// has not been created: every command but Create answers not found.
type Project struct {
	id          uuid.UUID
	name        string
	description string
	createdAt   time.Time
	tasks       map[uuid.UUID]*task
	order       []uuid.UUID // task ids in the order added
	open        int
	version     int
}

type task struct {
	title       string
	addedAt     time.Time
	completedAt time.Time // zero while open
}

// NewProject returns the empty state app.Command loads a stream into.
func NewProject() *Project { return &Project{tasks: map[uuid.UUID]*task{}} }

// Apply folds one event into the state. Events are facts: Apply only refuses a stream that
// cannot be folded (an unknown event, a task event before the project, a second creation, a
// task event for a task it never saw).
func (p *Project) Apply(e domain.Event) error {
	ev := domain.Deref(e)
	if _, ok := ev.(ProjectCreated); !ok && p.version == 0 {
		return fmt.Errorf("apply %T: project not created yet", ev)
	}
	switch ev := ev.(type) {
	case ProjectCreated:
		if p.version != 0 {
			return fmt.Errorf("apply %s: project %s already created", TypeProjectCreated, p.id)
		}
		p.id, p.name, p.description, p.createdAt = ev.ProjectID, ev.Name, ev.Description, ev.CreatedAt
	case TaskAdded:
		if p.tasks[ev.TaskID] != nil {
			return fmt.Errorf("apply %s: task %s added twice", TypeTaskAdded, ev.TaskID)
		}
		p.tasks[ev.TaskID] = &task{title: ev.Title, addedAt: ev.AddedAt}
		p.order = append(p.order, ev.TaskID)
		p.open++
	case TaskCompleted:
		t := p.tasks[ev.TaskID]
		if t == nil || !t.completedAt.IsZero() {
			return fmt.Errorf("apply %s: task %s not open", TypeTaskCompleted, ev.TaskID)
		}
		t.completedAt = ev.CompletedAt
		p.open--
	default:
		return fmt.Errorf("apply to project: unknown event %T", e)
	}
	p.version++
	return nil
}

// Create starts the project id. Creating a project that exists is a conflict.
func (p *Project) Create(id uuid.UUID, name, description string, now time.Time) ([]domain.Event, error) {
	if id == uuid.Nil {
		return nil, domain.Invalid("id", "project id is required")
	}
	if p.version != 0 {
		return nil, domain.Conflict("project %s already exists", p.id)
	}
	var bad domain.Invalids
	if err := checkText("name", name, maxNameLen, true); err != nil {
		bad = append(bad, err)
	}
	if err := checkText("description", description, maxDescriptionLen, false); err != nil {
		bad = append(bad, err)
	}
	switch len(bad) {
	case 0:
	case 1:
		return nil, bad[0]
	default:
		return nil, bad
	}
	return []domain.Event{ProjectCreated{ProjectID: id, Name: name, Description: description, CreatedAt: stamp(now)}}, nil
}

// AddTask adds the open task id titled title.
func (p *Project) AddTask(id uuid.UUID, title string, now time.Time) ([]domain.Event, error) {
	if p.version == 0 {
		return nil, domain.NotFound("project not found")
	}
	if id == uuid.Nil {
		return nil, domain.Invalid("id", "task id is required")
	}
	if p.tasks[id] != nil {
		return nil, domain.Conflict("task %s already exists", id)
	}
	if err := checkText("title", title, maxTitleLen, true); err != nil {
		return nil, err
	}
	return []domain.Event{TaskAdded{TaskID: id, Title: title, AddedAt: stamp(now)}}, nil
}

// CompleteTask marks the open task id done; a task done already is a conflict (the client
// learns it lost a race instead of a silent success).
func (p *Project) CompleteTask(id uuid.UUID, now time.Time) ([]domain.Event, error) {
	if p.version == 0 {
		return nil, domain.NotFound("project not found")
	}
	t := p.tasks[id]
	if t == nil {
		return nil, domain.NotFound("task not found")
	}
	if !t.completedAt.IsZero() {
		return nil, domain.Conflict("task is already done")
	}
	return []domain.Event{TaskCompleted{TaskID: id, CompletedAt: stamp(now)}}, nil
}

// checkText accepts up to max characters of valid UTF-8 without control characters or
// surrounding spaces; required texts must not be empty.
func checkText(field, s string, max int, required bool) *domain.Error {
	switch {
	case s == "" && required:
		return domain.Invalid(field, "%s is required", field)
	case !utf8.ValidString(s) || utf8.RuneCountInString(s) > max:
		return domain.Invalid(field, "%s must be at most %d characters of text", field, max)
	case strings.TrimSpace(s) != s:
		return domain.Invalid(field, "%s must not start or end with spaces", field)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return domain.Invalid(field, "%s must not contain control characters", field)
	}
	return nil
}

// stamp is a decision's time as stored: UTC, to the microsecond (PostgreSQL's precision),
// so the read model shows exactly what the event says.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
