package eventstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
)

func TestInShadow_RefusesASchemaOtherThanTheTenantsOwnRebuild(t *testing.T) {
	t.Parallel()
	worker := workerStore(t, 1)
	a, b := newTenant(t), newTenant(t)
	provisioned(t, worker, a, func(*eventstore.ProjectionTx) error { return nil })
	provisioned(t, worker, b, func(*eventstore.ProjectionTx) error { return nil })
	shadowB, _, err := worker.StartRebuild(ctx(t), b)
	require.NoError(t, err)

	ran := false
	for _, shadow := range []string{shadowB, "public", "tenantry", `x", tenantry`} {
		err = worker.InShadow(ctx(t), a, shadow, func(*eventstore.ProjectionTx) error { ran = true; return nil })
		require.ErrorIs(t, err, eventstore.ErrForeignShadow, "shadow %q for tenant A", shadow)
		err = worker.InProjection(ctx(t), a, func(tx *eventstore.ProjectionTx) error { return tx.UseShadow(ctx(t), shadow) })
		require.ErrorIs(t, err, eventstore.ErrForeignShadow, "UseShadow(%q) for tenant A", shadow)
	}
	require.False(t, ran, "nothing runs against another tenant's shadow")

	require.NoError(t, worker.InShadow(ctx(t), b, shadowB, func(*eventstore.ProjectionTx) error { ran = true; return nil }))
	require.True(t, ran, "the tenant's own shadow is used")
}
