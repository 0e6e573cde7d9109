package catalog_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/catalog"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/eventstore"
)

func TestRegister_FillsTheEventStoreRegistryWithEveryEventAndUpcaster(t *testing.T) {
	r := eventstore.NewRegistry()
	require.NoError(t, catalog.Register(r))
	for _, s := range catalog.Events() {
		require.Equal(t, s.Version, r.Current(s.Type), s.Type)
	}
	// A v1 tenant.suspended is stored history: it decodes only through its upcaster.
	p, err := r.Decode(tenant.TypeSuspended, 1, []byte(`{"reason":"payment_failed"}`))
	require.NoError(t, err)
	require.Equal(t, tenant.TypeSuspended, p.EventType())
}

func TestRegister_RefusesARegistryThatAlreadyHoldsTheCatalog(t *testing.T) {
	r := eventstore.NewRegistry()
	require.NoError(t, catalog.Register(r))
	require.ErrorContains(t, catalog.Register(r), "already registered")
}
