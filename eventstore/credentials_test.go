package eventstore_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
)

// keyedTenant provisions a tenant with a profile, one member and two API keys (the second
// revoked), and returns the keys' ids.
func keyedTenant(t *testing.T, worker *eventstore.Store, tenant uuid.UUID, slug string) (live, revoked uuid.UUID) {
	t.Helper()
	live, revoked = uuid.New(), uuid.New()
	member := uuid.New()
	now := time.Now().UTC().Truncate(time.Microsecond)
	provisioned(t, worker, tenant, func(tx *eventstore.ProjectionTx) error {
		if err := tx.CreateTenant(ctx(t), "Tenant "+slug, slug, eventstore.PlanOn{Plan: "pro", PlanVersion: 1, Interval: "monthly"}, now); err != nil {
			return err
		}
		if err := tx.AddMember(ctx(t), member, slug+"@example.com", "admin", uuid.Nil, now); err != nil {
			return err
		}
		for _, k := range []uuid.UUID{live, revoked} {
			if err := tx.AddAPIKey(ctx(t), eventstore.NewAPIKey{ID: k, Member: member, Name: "k", Prefix: "tnt_" + hexOf(k)[:12],
				Role: "editor", Hash: []byte("hash-" + k.String()), CreatedAt: now}); err != nil {
				return err
			}
		}
		return tx.RevokeAPIKey(ctx(t), revoked, "test", now)
	})
	return live, revoked
}

func credentialOf(t *testing.T, s *eventstore.Store, tenant, key uuid.UUID) (eventstore.Credential, error) {
	t.Helper()
	var c eventstore.Credential
	err := s.InTenant(ctx(t), tenant, true, func(tx *eventstore.Tx) error {
		var err error
		c, err = tx.Credential(ctx(t), key)
		return err
	})
	return c, err
}

func TestCredential_ReadsAKeyWithItsTenant_AndSaysWhenItIsRevoked(t *testing.T) {
	t.Parallel()
	worker, app := workerStore(t, 1), appStore(t, 1)
	tenant := newTenant(t)
	slug := freshSlug()
	live, revoked := keyedTenant(t, worker, tenant, slug)

	c, err := credentialOf(t, app, tenant, live)
	require.NoError(t, err)
	require.False(t, c.Revoked)
	require.Equal(t, []byte("hash-"+live.String()), c.KeyHash)
	require.Equal(t, "editor", c.Role)
	require.Equal(t, "active", c.TenantStatus)
	require.Equal(t, "pro", c.Plan)
	require.Equal(t, slug, c.Slug)

	c, err = credentialOf(t, app, tenant, revoked)
	require.NoError(t, err, "a revoked key is read, so that it is refused as revoked")
	require.True(t, c.Revoked)

	_, err = credentialOf(t, app, tenant, uuid.New())
	require.ErrorIs(t, err, eventstore.ErrNoCredential)
	_, err = credentialOf(t, app, newTenant(t), live)
	require.ErrorIs(t, err, eventstore.ErrNotProvisioned, "a tenant without read models")
}

func TestCredential_NeverFindsAnotherTenantsKey(t *testing.T) {
	t.Parallel()
	worker, app := workerStore(t, 1), appStore(t, 1)
	a, b := newTenant(t), newTenant(t)
	keyedTenant(t, worker, a, freshSlug())
	bKey, _ := keyedTenant(t, worker, b, freshSlug())

	_, err := credentialOf(t, app, a, bKey)
	require.ErrorIs(t, err, eventstore.ErrNoCredential, "B's key asked for in A's context")
	require.NoError(t, app.InTenant(ctx(t), a, true, func(tx *eventstore.Tx) error {
		keys, err := tx.APIKeys(ctx(t), uuid.Nil, 10)
		require.NoError(t, err)
		require.Len(t, keys, 2)
		for _, k := range keys {
			require.NotEqual(t, bKey, k.KeyID)
		}
		return nil
	}))
}
