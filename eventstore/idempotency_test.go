package eventstore_test

import (
	"crypto/sha256"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestIdempotencyKeys_ClaimRememberReleaseAndReplay(t *testing.T) {
	t.Parallel()
	s := appStore(t, 2)
	tenant := newTenant(t)
	lookup, request := digest("lookup "+uuid.NewString()), digest("request")

	claimed, _, err := s.ClaimIdempotencyKey(ctx(t), tenant, lookup, request)
	require.NoError(t, err)
	require.True(t, claimed, "an unknown key is claimed")

	claimed, rec, err := s.ClaimIdempotencyKey(ctx(t), tenant, lookup, digest("another request"))
	require.NoError(t, err)
	require.False(t, claimed, "a key held by a running request is not claimed again")
	require.Equal(t, request, rec.RequestHash, "the holder's fingerprint, to tell a reuse from a retry")
	require.Nil(t, rec.Status, "no answer yet: the first request is still running")

	require.NoError(t, s.RememberIdempotentAnswer(ctx(t), tenant, lookup, 201, []byte("nonce"), []byte("sealed")))
	claimed, rec, err = s.ClaimIdempotencyKey(ctx(t), tenant, lookup, request)
	require.NoError(t, err)
	require.False(t, claimed)
	require.NotNil(t, rec.Status)
	require.Equal(t, 201, *rec.Status)
	require.Equal(t, []byte("nonce"), rec.Nonce)
	require.Equal(t, []byte("sealed"), rec.Sealed)

	require.NoError(t, s.ReleaseIdempotencyKey(ctx(t), tenant, lookup))
	claimed, _, err = s.ClaimIdempotencyKey(ctx(t), tenant, lookup, request)
	require.NoError(t, err)
	require.True(t, claimed, "a released key (its request failed on our side) may be claimed again")
}

func TestIdempotencyKeys_OneScopeNeverSeesOrTouchesAnothersKeys(t *testing.T) {
	t.Parallel()
	s := appStore(t, 2)
	a, b := newTenant(t), newTenant(t)
	lookup := digest("lookup " + uuid.NewString())

	claimed, _, err := s.ClaimIdempotencyKey(ctx(t), b, lookup, digest("B's request"))
	require.NoError(t, err)
	require.True(t, claimed)
	require.NoError(t, s.RememberIdempotentAnswer(ctx(t), b, lookup, 200, []byte("n"), []byte("B's answer")))

	for _, scope := range []uuid.UUID{a, uuid.Nil} {
		// Forgetting or answering a key from another scope changes nothing of B's.
		require.NoError(t, s.ReleaseIdempotencyKey(ctx(t), scope, lookup))
		require.NoError(t, s.RememberIdempotentAnswer(ctx(t), scope, lookup, 500, []byte("x"), []byte("overwritten")))
		claimed, rec, err := s.ClaimIdempotencyKey(ctx(t), scope, lookup, digest("A's request"))
		require.NoError(t, err)
		require.True(t, claimed, "the same key in scope %s is its own", scope)
		require.Nil(t, rec.RequestHash, "and B's record is never returned")
	}

	claimed, rec, err := s.ClaimIdempotencyKey(ctx(t), b, lookup, digest("B's request"))
	require.NoError(t, err)
	require.False(t, claimed)
	require.NotNil(t, rec.Status)
	require.Equal(t, 200, *rec.Status)
	require.Equal(t, []byte("B's answer"), rec.Sealed)
}

// digest is a 32-byte value, the size of the key lookups and request fingerprints stored.
func digest(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}
