package eventstore_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
)

// provisioned appends the tenant's tenant.created event and gives the tenant read models,
// as the projector does on that event (as tenantry_worker: lock, provision), then lets fn
// write rows into them, in the same transaction.
func provisioned(t *testing.T, worker *eventstore.Store, tenant uuid.UUID, fn func(*eventstore.ProjectionTx) error) {
	t.Helper()
	_, err := worker.Append(ctx(t), tenant, "tenant", eventstore.NoStream, ev("tenant.created", 0))
	require.NoError(t, err)
	require.NoError(t, worker.InProjection(ctx(t), tenant, func(tx *eventstore.ProjectionTx) error {
		if _, _, _, err := tx.Lock(ctx(t), eventstore.ProjectionAuth, ""); err != nil {
			return err
		}
		if err := tx.Provision(ctx(t)); err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		return tx.Flush(ctx(t))
	}))
}

// freshSlug is a slug no other test uses.
func freshSlug() string { return "t" + hexOf(uuid.New())[:20] }

// hexOf is the tenant id as its schema name spells it.
func hexOf(id uuid.UUID) string { return strings.ReplaceAll(id.String(), "-", "") }
