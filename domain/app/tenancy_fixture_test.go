package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// tenancy is a fresh database (as the API's runtime role) with the tenants and membership
// use cases over it, wired as the API wires them.
type tenancy struct {
	store   *eventstore.Store
	events  eventstore.DomainStore
	signUp  app.SignUp
	members app.Members
	keys    app.APIKeys
	tenants app.Tenants
	now     time.Time
}

func newTenancy(t *testing.T) *tenancy {
	t.Helper()
	db := pgtest.New(t)
	store := eventstore.New(pgtest.Pool(t, db.AppURL, 4))
	reg := catalogRegistry(t)
	f := &tenancy{store: store, events: eventstore.DomainStore{Store: store, Registry: reg}, now: time.Now().UTC()}
	clock := func() time.Time { return f.now }
	f.signUp = app.SignUp{Events: f.events, Slugs: store, Now: clock}
	f.members = app.Members{Events: f.events, Now: clock, Plans: app.DefaultLimits(domain.DefaultPlans()), InvitationTTL: time.Hour}
	f.keys = app.APIKeys{Events: f.events, Now: clock}
	f.tenants = app.Tenants{Events: f.events, Now: clock}
	return f
}

var byTest = domain.Metadata{Actor: "test"}

// signUpInput is a valid sign-up for slug on plan.
func signUpInput(t *testing.T, slug, plan string) app.SignUpInput {
	t.Helper()
	in, invalid := app.ParseSignUp("Acme "+slug, slug, plan, "", "admin@"+slug+".example")
	require.Empty(t, invalid)
	in.Meta = byTest
	return in
}

// signedUp signs a tenant up and returns it.
func (f *tenancy) signedUp(t *testing.T, slug string) app.SignedUp {
	t.Helper()
	out, err := f.signUp.Run(context.Background(), signUpInput(t, slug, "free"))
	require.NoError(t, err)
	return out
}

// stream returns the decoded events of one stream of a tenant.
func (f *tenancy) stream(t *testing.T, tenant uuid.UUID, stream string) []domain.Event {
	t.Helper()
	recs, err := f.events.ReadStream(context.Background(), tenant, stream, 1, 1000)
	require.NoError(t, err)
	out := make([]domain.Event, len(recs))
	for i, r := range recs {
		out[i] = r.Event
	}
	return out
}

// requireRefused asserts err is a domain error with code.
func requireRefused(t *testing.T, err error, code domain.Code) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, domain.ErrorCode(err), "error: %v", err)
}
