package tasks

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Stored event type names: part of the storage format, never renamed.
const (
	TypeProjectCreated = "tasks.project.created"
	TypeTaskAdded      = "tasks.task.added"
	TypeTaskCompleted  = "tasks.task.completed"
)

// ProjectCreated starts a project's stream. Version 2 added Description; version 1
// payloads are upcast by UpcastProjectCreatedV1.
type ProjectCreated struct {
	ProjectID   uuid.UUID `json:"project_id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
}

// EventType implements domain.Event.
func (ProjectCreated) EventType() string { return TypeProjectCreated }

// SchemaVersion implements domain.Event.
func (ProjectCreated) SchemaVersion() int { return 2 }

// TaskAdded records a new open task in the project.
type TaskAdded struct {
	TaskID  uuid.UUID `json:"task_id"`
	Title   string    `json:"title"`
	AddedAt time.Time `json:"added_at"`
}

// EventType implements domain.Event.
func (TaskAdded) EventType() string { return TypeTaskAdded }

// SchemaVersion implements domain.Event.
func (TaskAdded) SchemaVersion() int { return 1 }

// TaskCompleted records that an open task is done.
type TaskCompleted struct {
	TaskID      uuid.UUID `json:"task_id"`
	CompletedAt time.Time `json:"completed_at"`
}

// EventType implements domain.Event.
func (TaskCompleted) EventType() string { return TypeTaskCompleted }

// SchemaVersion implements domain.Event.
func (TaskCompleted) SchemaVersion() int { return 1 }

// UpcastProjectCreatedV1 turns a version 1 tasks.project.created payload (no description)
// into version 2 with an empty description. Every other field is kept as stored.
func UpcastProjectCreatedV1(data []byte) ([]byte, error) {
	var v map[string]json.RawMessage
	if err := json.Unmarshal(data, &v); err != nil || v == nil {
		return nil, fmt.Errorf("upcast %s v1: payload is not a JSON object", TypeProjectCreated)
	}
	if _, ok := v["description"]; !ok {
		v["description"] = json.RawMessage(`""`)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("upcast %s v1: %w", TypeProjectCreated, err)
	}
	return out, nil
}
