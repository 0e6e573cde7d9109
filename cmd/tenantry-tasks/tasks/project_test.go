package tasks_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/cmd/tenantry-tasks/tasks"
	"github.com/tenantry/tenantry/domain"
)

var (
	now       = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	projectID = uuid.MustParse("01956b7e-0000-7000-8000-0000000000a1")
	taskID    = uuid.MustParse("01956b7e-0000-7000-8000-0000000000b1")
	otherTask = uuid.MustParse("01956b7e-0000-7000-8000-0000000000b2")
	created   = tasks.ProjectCreated{ProjectID: projectID, Name: "Launch", CreatedAt: now.Add(-time.Hour)}
	added     = tasks.TaskAdded{TaskID: taskID, Title: "Write the README", AddedAt: now.Add(-time.Minute)}
	completed = tasks.TaskCompleted{TaskID: taskID, CompletedAt: now.Add(-time.Second)}
)

// given replays events into a fresh project.
func given(t testing.TB, events ...domain.Event) *tasks.Project {
	t.Helper()
	p := tasks.NewProject()
	for _, e := range events {
		require.NoError(t, p.Apply(e))
	}
	return p
}

func TestProject_DecidesFromItsHistory(t *testing.T) {
	tests := []struct {
		name   string
		given  []domain.Event
		decide func(*tasks.Project) ([]domain.Event, error)
		want   []domain.Event
		code   domain.Code
	}{
		{"CreateANewProject", nil,
			func(p *tasks.Project) ([]domain.Event, error) { return p.Create(projectID, "Launch", "Ship it", now) },
			[]domain.Event{tasks.ProjectCreated{ProjectID: projectID, Name: "Launch", Description: "Ship it", CreatedAt: now}}, ""},
		{"CreateWithAnEmptyNameIsInvalid", nil,
			func(p *tasks.Project) ([]domain.Event, error) { return p.Create(projectID, "", "", now) }, nil, domain.CodeInvalid},
		{"CreateWithABlankNameIsInvalid", nil,
			func(p *tasks.Project) ([]domain.Event, error) { return p.Create(projectID, "   ", "", now) }, nil, domain.CodeInvalid},
		{"CreateWithANameTooLongIsInvalid", nil,
			func(p *tasks.Project) ([]domain.Event, error) {
				return p.Create(projectID, strings.Repeat("é", 101), "", now)
			}, nil, domain.CodeInvalid},
		{"CreateWithAControlCharacterIsInvalid", nil,
			func(p *tasks.Project) ([]domain.Event, error) { return p.Create(projectID, "a\nb", "", now) }, nil, domain.CodeInvalid},
		{"CreateWithADescriptionTooLongIsInvalid", nil,
			func(p *tasks.Project) ([]domain.Event, error) {
				return p.Create(projectID, "Launch", strings.Repeat("x", 2001), now)
			}, nil, domain.CodeInvalid},
		{"CreateTwiceIsAConflict", []domain.Event{created},
			func(p *tasks.Project) ([]domain.Event, error) { return p.Create(projectID, "Launch", "", now) }, nil, domain.CodeConflict},
		{"AddATask", []domain.Event{created},
			func(p *tasks.Project) ([]domain.Event, error) { return p.AddTask(taskID, "Write the README", now) },
			[]domain.Event{tasks.TaskAdded{TaskID: taskID, Title: "Write the README", AddedAt: now}}, ""},
		{"AddATaskToAnUnknownProjectIsNotFound", nil,
			func(p *tasks.Project) ([]domain.Event, error) { return p.AddTask(taskID, "x", now) }, nil, domain.CodeNotFound},
		{"AddATaskWithAnEmptyTitleIsInvalid", []domain.Event{created},
			func(p *tasks.Project) ([]domain.Event, error) { return p.AddTask(taskID, "", now) }, nil, domain.CodeInvalid},
		{"AddATaskWithATitleAtTheBoundIsFine", []domain.Event{created},
			func(p *tasks.Project) ([]domain.Event, error) {
				return p.AddTask(taskID, strings.Repeat("t", 200), now)
			},
			[]domain.Event{tasks.TaskAdded{TaskID: taskID, Title: strings.Repeat("t", 200), AddedAt: now}}, ""},
		{"AddATaskWithATitleTooLongIsInvalid", []domain.Event{created},
			func(p *tasks.Project) ([]domain.Event, error) {
				return p.AddTask(taskID, strings.Repeat("t", 201), now)
			},
			nil, domain.CodeInvalid},
		{"AddATaskTwiceIsAConflict", []domain.Event{created, added},
			func(p *tasks.Project) ([]domain.Event, error) { return p.AddTask(taskID, "again", now) }, nil, domain.CodeConflict},
		{"CompleteAnOpenTask", []domain.Event{created, added},
			func(p *tasks.Project) ([]domain.Event, error) { return p.CompleteTask(taskID, now) },
			[]domain.Event{tasks.TaskCompleted{TaskID: taskID, CompletedAt: now}}, ""},
		{"CompleteAnUnknownTaskIsNotFound", []domain.Event{created, added},
			func(p *tasks.Project) ([]domain.Event, error) { return p.CompleteTask(otherTask, now) }, nil, domain.CodeNotFound},
		{"CompleteInAnUnknownProjectIsNotFound", nil,
			func(p *tasks.Project) ([]domain.Event, error) { return p.CompleteTask(taskID, now) }, nil, domain.CodeNotFound},
		{"CompleteTwiceIsAConflict", []domain.Event{created, added, completed},
			func(p *tasks.Project) ([]domain.Event, error) { return p.CompleteTask(taskID, now) }, nil, domain.CodeConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.decide(given(t, tt.given...))
			if tt.code != "" {
				require.Error(t, err)
				require.Equal(t, tt.code, domain.ErrorCode(err), "error: %v", err)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			given(t, append(tt.given, got...)...) // what a command decides folds back
		})
	}
}

func TestProject_CreateReportsEveryInvalidField(t *testing.T) {
	_, err := tasks.NewProject().Create(projectID, "", strings.Repeat("x", 2001), now)
	var bad domain.Invalids
	require.ErrorAs(t, err, &bad)
	require.Len(t, bad, 2)
	require.Equal(t, "name", bad[0].Field)
	require.Equal(t, "description", bad[1].Field)
	require.Equal(t, domain.CodeInvalid, domain.ErrorCode(err))
}

func TestProject_ApplyRefusesAStreamThatCannotBeFolded(t *testing.T) {
	tests := map[string][]domain.Event{
		"TaskBeforeTheProject":   {added},
		"CreatedTwice":           {created, created},
		"TaskAddedTwice":         {created, added, added},
		"UnknownTaskCompleted":   {created, completed},
		"TaskCompletedTwice":     {created, added, completed, completed},
		"AnotherModulesEvent":    {created, otherEvent{}},
		"DecodedPointersAreFine": nil, // checked below
	}
	for name, events := range tests {
		if events == nil {
			continue
		}
		t.Run(name, func(t *testing.T) {
			p := tasks.NewProject()
			var err error
			for _, e := range events {
				if err = p.Apply(e); err != nil {
					break
				}
			}
			require.Error(t, err)
		})
	}
	t.Run("DecodedPointersAreFine", func(t *testing.T) {
		c, a, d := created, added, completed
		given(t, &c, &a, &d)
	})
}

type otherEvent struct{}

func (otherEvent) EventType() string  { return "other.thing.happened" }
func (otherEvent) SchemaVersion() int { return 1 }
