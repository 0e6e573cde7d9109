package eventstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

func TestClaimSlug_RefusesASlugAnotherTenantHolds_UntilItsHolderReleasesIt(t *testing.T) {
	t.Parallel()
	s := appStore(t, 2)
	a, b := newTenant(t), newTenant(t)
	slug, err := domain.ParseSlug(freshSlug())
	require.NoError(t, err)

	claimed, err := s.ClaimSlug(ctx(t), a, slug)
	require.NoError(t, err)
	require.True(t, claimed, "a free slug is claimed")
	claimed, err = s.ClaimSlug(ctx(t), b, slug)
	require.NoError(t, err)
	require.False(t, claimed, "B cannot claim what A holds, though it cannot see A's claim")

	require.NoError(t, s.ReleaseSlug(ctx(t), b), "releasing a tenant's nothing is no error")
	claimed, err = s.ClaimSlug(ctx(t), b, slug)
	require.NoError(t, err)
	require.False(t, claimed, "B's release never drops A's claim")

	require.NoError(t, s.ReleaseSlug(ctx(t), a))
	claimed, err = s.ClaimSlug(ctx(t), b, slug)
	require.NoError(t, err)
	require.True(t, claimed, "once A released it, the slug is free")
}
