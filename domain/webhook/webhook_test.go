package webhook_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/webhook"
)

func TestSeal_OpensOnlyForItsEndpointAndNeverHoldsThePlaintext(t *testing.T) {
	key, err := webhook.ParseKey(strings.Repeat("ab", 32))
	require.NoError(t, err)
	secret, err := webhook.NewSecret()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(secret, "whsec_"))
	ep := uuid.New()
	sealed, err := key.Seal(ep, secret)
	require.NoError(t, err)
	require.NotContains(t, string(sealed), secret[len("whsec_"):])
	got, err := key.Open(ep, sealed)
	require.NoError(t, err)
	require.Equal(t, secret, got)
	_, err = key.Open(uuid.New(), sealed)
	require.Error(t, err, "a sealed secret copied to another endpoint must not open")
	var none *webhook.Key
	_, err = none.Seal(ep, secret)
	require.ErrorIs(t, err, webhook.ErrNoKey)
}

func TestParseKey_AcceptsHexAndBase64Of32BytesOnly(t *testing.T) {
	for _, s := range []string{strings.Repeat("0f", 32), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"} {
		_, err := webhook.ParseKey(s)
		require.NoError(t, err, s)
	}
	for _, s := range []string{"", "short", strings.Repeat("0f", 31), strings.Repeat("zz", 32)} {
		_, err := webhook.ParseKey(s)
		require.Error(t, err, s)
	}
}

func TestSign_VerifiesWithEitherSecretWithinTolerance(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"id":"x"}`)
	h := webhook.Sign(now, body, "whsec_new", "whsec_old")
	require.Regexp(t, `^t=1700000000,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$`, h)
	require.NoError(t, webhook.Verify(h, body, "whsec_new", webhook.Tolerance, now))
	require.NoError(t, webhook.Verify(h, body, "whsec_old", webhook.Tolerance, now.Add(299*time.Second)))
	require.Error(t, webhook.Verify(h, body, "whsec_other", webhook.Tolerance, now))
	require.Error(t, webhook.Verify(h, []byte(`{"id":"y"}`), "whsec_new", webhook.Tolerance, now))
	require.Error(t, webhook.Verify(h, body, "whsec_new", webhook.Tolerance, now.Add(301*time.Second)))
}

func TestValidateURL_HTTPSOnlyOutsideLoopbackUnlessAllowed(t *testing.T) {
	for _, ok := range []string{"https://example.com/hook", "http://127.0.0.1:9000/x", "http://localhost/x", "http://[::1]:80/"} {
		require.NoError(t, webhook.ValidateURL(ok, false), ok)
	}
	for _, bad := range []string{"http://example.com/", "ftp://example.com/", "/relative", "https://user:pw@example.com/", "https://example.com/#frag", "", "https://"} {
		err := webhook.ValidateURL(bad, false)
		require.Error(t, err, bad)
		require.Equal(t, domain.CodeInvalid, domain.ErrorCode(err))
	}
	require.NoError(t, webhook.ValidateURL("http://example.com/", true))
}

func TestValidateTypes_KnownTypesOrStar(t *testing.T) {
	known := func(s string) bool { return s == "tenant.suspended" }
	require.NoError(t, webhook.ValidateTypes([]string{"tenant.suspended"}, known))
	require.NoError(t, webhook.ValidateTypes([]string{"*"}, known))
	require.Error(t, webhook.ValidateTypes(nil, known))
	require.Error(t, webhook.ValidateTypes([]string{"tenant.nope"}, known))
	require.Error(t, webhook.ValidateTypes([]string{"tenant.suspended", "tenant.suspended"}, known))
	require.True(t, webhook.Matches([]string{"*"}, "x.y"))
	require.False(t, webhook.Matches([]string{"a.b"}, "x.y"))
}

func TestBackoff_GrowsWithinMinAndMaxWithJitter(t *testing.T) {
	r := webhook.DefaultRetry
	for attempt := 1; attempt < 40; attempt++ {
		for range 50 {
			d := r.Backoff(attempt)
			require.GreaterOrEqual(t, d, r.Min/2)
			require.LessOrEqual(t, d, r.Max)
		}
	}
	var late time.Duration
	for range 200 {
		late = max(late, r.Backoff(30))
	}
	require.Greater(t, late, time.Hour, "late attempts wait hours")
}
