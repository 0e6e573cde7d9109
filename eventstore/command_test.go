package eventstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/catalog"
	"github.com/tenantry/tenantry/domain/membership"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/eventstore"
)

func registry(t testing.TB) *eventstore.Registry {
	r := eventstore.NewRegistry()
	require.NoError(t, catalog.Register(r))
	return r
}

func TestCommand_CreatesAndEvolvesATenant(t *testing.T) {
	t.Parallel()
	s, reg := appStore(t, 4), registry(t)
	id := newTenant(t)
	now := time.Now().UTC()
	cmd := app.Command[*tenant.Tenant]{Store: eventstore.DomainStore{Store: s, Registry: reg}, Tenant: id, Stream: "tenant",
		New: func() *tenant.Tenant { return &tenant.Tenant{} }, Metadata: eventstore.Metadata{Actor: "operator"}}
	slug, err := domain.ParseSlug("acme-" + id.String()[:8])
	require.NoError(t, err)

	_, res, err := cmd.Run(ctx(t), func(*tenant.Tenant) ([]domain.Event, error) {
		return tenant.Create(id, "Acme", slug, domain.PlanFree, now)
	})
	require.NoError(t, err)
	require.Equal(t, int64(1), res.StreamVersion)

	state, _, err := cmd.Run(ctx(t), func(tn *tenant.Tenant) ([]domain.Event, error) {
		return tn.Suspend(tenant.ReasonOperator, "late", now)
	})
	require.NoError(t, err)
	require.Equal(t, tenant.StatusSuspended, state.Status())

	// A refused transition writes nothing and returns the domain error.
	_, _, err = cmd.Run(ctx(t), func(tn *tenant.Tenant) ([]domain.Event, error) {
		return tn.Suspend(tenant.ReasonOperator, "again", now)
	})
	require.Equal(t, domain.CodeConflict, domain.ErrorCode(err))

	state, _, err = cmd.Run(ctx(t), func(tn *tenant.Tenant) ([]domain.Event, error) { return nil, nil })
	require.NoError(t, err)
	require.Equal(t, tenant.StatusSuspended, state.Status())
	require.Equal(t, 2, state.Version())
}

// Optimistic concurrency keeps invariants that span the whole aggregate: ten concurrent
// invitations against a three-seat plan (one seat taken by the founder) admit exactly two.
func TestCommand_ConcurrentInvitesNeverExceedTheSeatLimit(t *testing.T) {
	t.Parallel()
	s, reg := appStore(t, 10), registry(t)
	id := newTenant(t)
	now := time.Now().UTC()
	cmd := app.Command[*membership.Membership]{Store: eventstore.DomainStore{Store: s, Registry: reg}, Tenant: id, Stream: "membership",
		New: func() *membership.Membership { return &membership.Membership{} }}
	founder := uuid.New()
	email, err := domain.ParseEmail("founder@example.com")
	require.NoError(t, err)
	_, _, err = cmd.Run(ctx(t), func(m *membership.Membership) ([]domain.Event, error) {
		return m.AddFounder(founder, email, now)
	})
	require.NoError(t, err)

	seats := domain.DefaultPlans().Limits(domain.PlanFree).Seats
	require.Equal(t, 3, seats)
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			invitee, _ := domain.ParseEmail(fmt.Sprintf("user%d@example.com", i))
			_, _, errs[i] = cmd.Run(context.Background(), func(m *membership.Membership) ([]domain.Event, error) {
				return m.Invite(uuid.New(), invitee, domain.RoleEditor, founder, strings.Repeat("ab", 32), now.Add(time.Hour), seats, now)
			})
		}(i)
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		require.Equal(t, domain.CodeLimit, domain.ErrorCode(err), "%v", err)
	}
	require.Equal(t, 2, ok)
	state, _, err := cmd.Run(ctx(t), func(*membership.Membership) ([]domain.Event, error) { return nil, nil })
	require.NoError(t, err)
	require.Equal(t, 3, state.SeatsUsed(now))
}

func TestRegistry_UpcastsOldVersionsOnRead(t *testing.T) {
	t.Parallel()
	s, reg := appStore(t, 2), registry(t)
	id := newTenant(t)
	// A v1 tenant.suspended, as an older release wrote it.
	_, err := s.Append(ctx(t), id, "tenant", eventstore.Any, eventstore.NewEvent{
		Type: tenant.TypeSuspended, SchemaVersion: 1, Data: json.RawMessage(`{"reason": "payment failed"}`)})
	require.NoError(t, err)
	events, err := s.ReadStream(ctx(t), id, "tenant", 1, 0)
	require.NoError(t, err)
	p, err := reg.DecodeEvent(&events[0])
	require.NoError(t, err)
	susp, ok := domain.Deref(p).(tenant.Suspended)
	require.True(t, ok, "%T", p)
	require.Equal(t, tenant.ReasonPaymentFailed, susp.Reason)
	require.Equal(t, 2, susp.SchemaVersion())
}

func TestRegistry_RefusesWhatItCannotRead(t *testing.T) {
	reg := registry(t)
	_, err := reg.Decode("tenant.teleported", 1, []byte(`{}`))
	require.ErrorIs(t, err, eventstore.ErrUnknownEventType)
	_, err = reg.Decode(tenant.TypeSuspended, 3, []byte(`{}`))
	require.ErrorIs(t, err, eventstore.ErrUnknownEventType, "a version newer than the code")
	_, err = reg.Decode(tenant.TypeSuspended, 0, []byte(`{}`))
	require.ErrorIs(t, err, eventstore.ErrUnknownEventType)
	_, err = reg.Decode(tenant.TypeSuspended, 2, []byte(`{"reason": `))
	require.Error(t, err)
	_, err = reg.Decode(tenant.TypeSuspended, 1, []byte(`[1, 2]`))
	require.Error(t, err)
	_, err = reg.Decode(tenant.TypeSuspended, 2, []byte(`{"reason": "payment_failed"} {}`))
	require.Error(t, err, "one value: trailing data is an error")
	_, err = reg.Decode(tenant.TypeSuspended, 2, []byte(" {\"reason\": \"payment_failed\"} \n"))
	require.NoError(t, err, "space around the value is not")

	_, err = reg.Encode(fakeEvent{}, eventstore.Metadata{})
	require.ErrorIs(t, err, eventstore.ErrUnknownEventType, "nothing unreadable is ever written")
	require.Error(t, reg.Register("fake.happened", 2, func() eventstore.Payload { return fakeEvent{} }), "type reports another version")
	require.Error(t, reg.Register(tenant.TypeCreated, 1, func() eventstore.Payload { return &tenant.Created{} }), "already registered")

	holes := eventstore.NewRegistry()
	require.NoError(t, holes.Register("fake.happened", 1, func() eventstore.Payload { return fakeEvent{} }))
	require.NoError(t, holes.Check())
	require.NoError(t, holes.Register("fake.moved", 3, func() eventstore.Payload { return fakeV3{} }))
	require.ErrorContains(t, holes.Check(), "no upcaster from v1")
}

type fakeEvent struct{}

func (fakeEvent) EventType() string  { return "fake.happened" }
func (fakeEvent) SchemaVersion() int { return 1 }

type fakeV3 struct{}

func (fakeV3) EventType() string  { return "fake.moved" }
func (fakeV3) SchemaVersion() int { return 3 }

// FuzzRegistry_Decode feeds arbitrary stored events to the registry: it must never panic,
// and whatever it accepts is the registered type at its current version.
func FuzzRegistry_Decode(f *testing.F) {
	reg := registry(f)
	f.Add(tenant.TypeSuspended, 1, []byte(`{"reason": "payment failed"}`))
	f.Add(tenant.TypeSuspended, 1, []byte(`{"reason": "fraud"}`))
	f.Add(tenant.TypeSuspended, 2, []byte(`{"reason": "operator", "note": "x"}`))
	f.Add(tenant.TypeCreated, 1, []byte(`{"tenant_id": "01a213e5-d90d-7b65-98a4-6c62339928c4", "name": "A", "slug": "acme", "plan": "free"}`))
	f.Add("usage.recorded", 1, []byte(`{"metric": "api_calls", "quantity": 3}`))
	f.Add("member.joined", 1, []byte(`null`))
	f.Add("nope.nope", 1, []byte(`{}`))
	f.Fuzz(func(t *testing.T, typ string, version int, data []byte) {
		p, err := reg.Decode(typ, version, data)
		if err != nil {
			return
		}
		require.Equal(t, typ, p.EventType())
		require.Equal(t, reg.Current(typ), domain.Deref(p).SchemaVersion(), "decoded at the current version")
	})
}
