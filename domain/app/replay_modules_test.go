package app_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/module"
)

type replayNote struct {
	NoteID uuid.UUID `json:"note_id"`
	Text   string    `json:"text"`
}

func (replayNote) EventType() string  { return "notes.note.added" }
func (replayNote) SchemaVersion() int { return 1 }

// noteState is the notes module's replay state: how many notes, and the last one's text.
type noteState struct {
	Notes int    `json:"notes"`
	Last  string `json:"last"`
	Seqs  []int64
}

func (s *noteState) Apply(e domain.Recorded) error {
	n := domain.Deref(e.Event).(replayNote)
	s.Notes++
	s.Last = n.Text
	s.Seqs = append(s.Seqs, e.Seq)
	return nil
}

func TestReplay_ShowsEachModulesStateFromItsOwnEvents(t *testing.T) {
	t.Parallel()
	f := newAuditFixture(t)
	notes := module.Module{Name: "notes", Events: []module.EventType{module.Event[replayNote]()},
		State: func() module.State { return &noteState{} }}
	silent := module.Module{Name: "silent"} // no State: not shown
	require.NoError(t, module.Register(f.domain.Registry, notes))
	note := func(text string) {
		f.append("notes.note-"+uuid.NewString(), replayNote{NoteID: uuid.New(), Text: text})
	}
	note("first")
	f.usage(1)
	note("second")

	replay := app.Replay{History: f.domain, Modules: []module.Module{notes, silent}}
	ctx := context.Background()
	var fold app.Fold
	require.NoError(t, replay.Extend(ctx, &fold, f.id, time.Now().Add(time.Minute)))
	kept := fold.Clone()
	st, err := fold.State(fold.Last())
	require.NoError(t, err)
	require.Len(t, st.Modules, 1)
	require.JSONEq(t, `{"notes":2,"last":"second","Seqs":[2,4]}`, string(st.Modules["notes"]), "in seq order, only the module's events")

	note("third")
	require.NoError(t, replay.Extend(ctx, &fold, f.id, time.Now().Add(time.Minute)))
	extended, err := fold.State(fold.Last())
	require.NoError(t, err)
	whole, err := replay.AsOf(ctx, app.ReplayInput{Tenant: f.id, AsOf: fold.Last()})
	require.NoError(t, err)
	require.Equal(t, whole, extended, "a fold extended later equals a replay from the start")
	require.JSONEq(t, `{"notes":3,"last":"third","Seqs":[2,4,5]}`, string(extended.Modules["notes"]))

	old, err := kept.State(kept.Last())
	require.NoError(t, err)
	require.JSONEq(t, `{"notes":2,"last":"second","Seqs":[2,4]}`, string(old.Modules["notes"]), "a clone is not changed by folding the original further")

	before, err := replay.AsOf(ctx, app.ReplayInput{Tenant: f.id, AsOf: f.recordedAt(2).Add(-time.Microsecond)})
	require.NoError(t, err)
	var s noteState
	require.NoError(t, json.Unmarshal(before.Modules["notes"], &s))
	require.Zero(t, s.Notes, "as of an instant before the module's first event")

	plain, err := app.Replay{History: f.domain}.AsOf(ctx, app.ReplayInput{Tenant: f.id, AsOf: time.Now().Add(time.Minute)})
	require.NoError(t, err)
	require.Nil(t, plain.Modules, "without modules the state is as before")
}
