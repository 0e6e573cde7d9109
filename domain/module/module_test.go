package module_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/module"
)

type noted struct {
	Text string `json:"text"`
}

func (noted) EventType() string  { return "notes.note.added" }
func (noted) SchemaVersion() int { return 1 }

type stolen struct{}

func (stolen) EventType() string  { return "tenant.suspended" }
func (stolen) SchemaVersion() int { return 2 }

func apply(context.Context, module.Tx, domain.Recorded) error { return nil }

func TestValidate_RefusesWhatWouldLeaveTheModulesNamespace(t *testing.T) {
	ok := module.Module{Name: "notes", Events: []module.EventType{module.Event[noted]()},
		Projections: []module.Projection{{Name: "read", Handles: []string{"notes.note.added", "member.removed"}, Apply: apply}}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid module refused: %v", err)
	}
	cases := map[string]module.Module{
		"bad name":          {Name: "Notes"},
		"one letter":        {Name: "n"},
		"core prefix":       {Name: "tenant"},
		"foreign type":      {Name: "notes", Events: []module.EventType{module.Event[stolen]()}},
		"twice":             {Name: "notes", Events: []module.EventType{module.Event[noted](), module.Event[noted]()}},
		"upcaster of other": {Name: "notes", Events: []module.EventType{module.Event[noted]()}, Upcasters: []module.Upcaster{{Type: "tenant.suspended", FromVersion: 1, Fn: func(b []byte) ([]byte, error) { return b, nil }}}},
		"projection apply":  {Name: "notes", Projections: []module.Projection{{Name: "read", Handles: []string{"notes.note.added"}}}},
		"projection types":  {Name: "notes", Projections: []module.Projection{{Name: "read", Apply: apply}}},
		"bad metric":        {Name: "notes", Metrics: []module.Metric{{Name: "Notes Added"}}},
	}
	for name, m := range cases {
		if err := m.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := module.Check([]module.Module{ok, ok}); err == nil {
		t.Error("the same module twice: accepted")
	}
	if !module.IsCoreType("member.removed") || module.IsCoreType("notes.note.added") {
		t.Error("IsCoreType")
	}
}

type fakeStore struct{ appended int }

func (f *fakeStore) ReadStream(context.Context, uuid.UUID, string, int64, int) ([]domain.Recorded, error) {
	return nil, nil
}

func (f *fakeStore) Append(context.Context, uuid.UUID, string, domain.ExpectedVersion, domain.Metadata, ...domain.Pending) (domain.Committed, error) {
	f.appended++
	return domain.Committed{}, nil
}

func (f *fakeStore) AppendStreams(context.Context, uuid.UUID, domain.Metadata, ...domain.StreamPart) ([]domain.Committed, error) {
	f.appended++
	return nil, nil
}

func TestScoped_AppendsOnlyTheModulesOwnEventsToItsOwnStreams(t *testing.T) {
	m := module.Module{Name: "notes", Events: []module.EventType{module.Event[noted]()}}
	inner := &fakeStore{}
	s := m.Scoped(inner)
	ctx, id := context.Background(), uuid.New()
	if _, err := s.Append(ctx, id, "notes.board-1", domain.NoStream, domain.Metadata{}, domain.Pending{Event: noted{}}); err != nil {
		t.Fatal(err)
	}
	for name, try := range map[string]func() error{
		"core stream": func() error {
			_, err := s.Append(ctx, id, "tenant", domain.Any, domain.Metadata{}, domain.Pending{Event: noted{}})
			return err
		},
		"core event": func() error {
			_, err := s.Append(ctx, id, "notes.board-1", domain.Any, domain.Metadata{}, domain.Pending{Event: stolen{}})
			return err
		},
		"one part out of scope": func() error {
			_, err := s.AppendStreams(ctx, id, domain.Metadata{},
				domain.StreamPart{Stream: "notes.a", Events: []domain.Pending{{Event: noted{}}}},
				domain.StreamPart{Stream: "billing", Events: []domain.Pending{{Event: noted{}}}})
			return err
		},
	} {
		if err := try(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if inner.appended != 1 {
		t.Fatalf("the store saw %d appends, want only the one in scope", inner.appended)
	}
}
