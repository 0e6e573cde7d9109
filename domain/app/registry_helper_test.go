package app_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/catalog"
	"github.com/tenantry/tenantry/eventstore"
)

// catalogRegistry is a registry of every event the domain writes, as cmd builds it.
func catalogRegistry(t testing.TB) *eventstore.Registry {
	t.Helper()
	reg := eventstore.NewRegistry()
	require.NoError(t, catalog.Register(reg))
	return reg
}
