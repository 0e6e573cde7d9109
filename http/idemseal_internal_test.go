package httpapi

import (
	"bytes"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestIdemSeal_OnlyTheSameKeyAndOwnerOpenAnAnswer(t *testing.T) {
	tenant := uuid.New()
	mine, err := deriveIdemSecrets(tenant, "key:1", "idem-1")
	require.NoError(t, err)
	body := []byte(`{"api_key":{"key":"tk_secret"}}`)
	nonce, sealed, err := mine.sealAnswer("application/json; charset=utf-8", body)
	require.NoError(t, err)
	require.False(t, bytes.Contains(sealed, []byte("tk_secret")))

	ct, got, err := mine.openAnswer(nonce, sealed)
	require.NoError(t, err)
	require.Equal(t, "application/json; charset=utf-8", ct)
	require.Equal(t, body, got)

	for name, other := range map[string][3]string{
		"AnotherKey":       {tenant.String(), "key:1", "idem-2"},
		"AnotherPrincipal": {tenant.String(), "key:2", "idem-1"},
		"AnotherTenant":    {uuid.NewString(), "key:1", "idem-1"},
		"ShiftedBoundary":  {tenant.String(), "key:1i", "dem-1"},
	} {
		t.Run(name, func(t *testing.T) {
			k, err := deriveIdemSecrets(uuid.MustParse(other[0]), other[1], other[2])
			require.NoError(t, err)
			require.NotEqual(t, mine.lookup, k.lookup, "another row")
			require.NotEqual(t, mine.requestMAC("POST", "/v1/api-keys", nil), k.requestMAC("POST", "/v1/api-keys", nil))
			_, _, err = k.openAnswer(nonce, sealed)
			require.ErrorIs(t, err, errUnsealed)
		})
	}

	// Labels separate the three derived values, and none is the raw key.
	require.NotEqual(t, mine.mac, mine.seal)
	require.NotContains(t, string(mine.lookup), "idem-1")

	// A sealed answer is bound to its row: altered bytes or another nonce do not open.
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	_, _, err = mine.openAnswer(nonce, tampered)
	require.ErrorIs(t, err, errUnsealed)
	_, _, err = mine.openAnswer(nonce[:4], sealed)
	require.ErrorIs(t, err, errUnsealed)
	nonce2, sealed2, err := mine.sealAnswer("application/json", body)
	require.NoError(t, err)
	require.NotEqual(t, nonce, nonce2, "a fresh nonce per answer")
	require.NotEqual(t, sealed, sealed2)
}

// FuzzIdempotencyKeyHeader checks the header's validation: accepted keys are 1 to 255
// visible ASCII bytes, and any accepted key derives and round-trips a sealed answer.
func FuzzIdempotencyKeyHeader(f *testing.F) {
	for _, seed := range []string{"", "k", "idem-1", " ", "a b", "\x00", "é", "\x7f", string(bytes.Repeat([]byte("k"), 255)), string(bytes.Repeat([]byte("k"), 256))} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, key string) {
		ok := validIdempotencyKey(key)
		want := len(key) >= 1 && len(key) <= 255
		for _, b := range []byte(key) {
			want = want && b > ' ' && b < 0x7f
		}
		if ok != want {
			t.Fatalf("validIdempotencyKey(%q) = %v, want %v", key, ok, want)
		}
		if !ok {
			return
		}
		k, err := deriveIdemSecrets(uuid.Nil, "anonymous:127.0.0.1", key)
		if err != nil {
			t.Fatal(err)
		}
		nonce, sealed, err := k.sealAnswer("text/plain", []byte(key))
		if err != nil {
			t.Fatal(err)
		}
		if _, body, err := k.openAnswer(nonce, sealed); err != nil || string(body) != key {
			t.Fatalf("round trip of %q: %q, %v", key, body, err)
		}
	})
}
