package domain_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tenantry/tenantry/domain"
)

func TestParseSlug_AcceptsCanonicalSlugs(t *testing.T) {
	for _, s := range []string{"abc", "acme", "a1b", "acme-corp", "a-b-c", "team-42", "a" + strings.Repeat("b", 39)} {
		t.Run(s, func(t *testing.T) {
			got, err := domain.ParseSlug(s)
			require.NoError(t, err)
			require.Equal(t, s, got.String())
		})
	}
}

func TestParseSlug_RejectsNonCanonicalInput(t *testing.T) {
	tests := []struct{ name, in string }{
		{"Empty", ""},
		{"TooShort", "ab"},
		{"TooLong", "a" + strings.Repeat("b", 40)},
		{"Uppercase", "Acme"},
		{"TrailingSpace", "acme "},
		{"LeadingSpace", " acme"},
		{"StartsWithDigit", "1abc"},
		{"StartsWithHyphen", "-abc"},
		{"EndsWithHyphen", "abc-"},
		{"DoubleHyphen", "ab--c"},
		{"Underscore", "ab_c"},
		{"Dot", "ab.c"},
		{"NonASCII", "café"},
		{"Newline", "abc\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := domain.ParseSlug(tt.in)
			requireInvalid(t, err, "slug")
			require.Contains(t, err.Error(), "lowercase letters, digits and single hyphens")
		})
	}
}

func TestParseSlug_RejectsReservedWords(t *testing.T) {
	for _, w := range []string{"www", "api", "app", "admin", "root", "static", "assets", "status", "help",
		"support", "billing", "docs", "mail", "tenantry", "system", "internal", "metrics", "healthz", "readyz", "v1"} {
		t.Run(w, func(t *testing.T) {
			require.True(t, domain.IsReservedSlug(w))
			_, err := domain.ParseSlug(w)
			requireInvalid(t, err, "slug")
		})
	}
	_, err := domain.ParseSlug("admin")
	require.Contains(t, err.Error(), "reserved")
}

func TestSlug_JSONRoundTripAndZeroRefusal(t *testing.T) {
	s, err := domain.ParseSlug("acme-corp")
	require.NoError(t, err)
	b, err := json.Marshal(s)
	require.NoError(t, err)
	require.JSONEq(t, `"acme-corp"`, string(b))
	var back domain.Slug
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, s, back)

	_, err = json.Marshal(domain.Slug{})
	require.Error(t, err, "an unset slug must never be written")
	require.Error(t, json.Unmarshal([]byte(`"Not-Valid"`), &back))
	require.Error(t, json.Unmarshal([]byte(`""`), &back))
}

func TestSlug_DecodingStoredHistoryIgnoresTheReservedList(t *testing.T) {
	// A word reserved after a tenant claimed it must not make that tenant's
	// history unreadable.
	var s domain.Slug
	require.NoError(t, json.Unmarshal([]byte(`"billing"`), &s))
	require.Equal(t, "billing", s.String())
}

// requireInvalid asserts err is a domain error with CodeInvalid on field.
func requireInvalid(t *testing.T, err error, field string) {
	t.Helper()
	require.Error(t, err)
	var de *domain.Error
	require.ErrorAs(t, err, &de)
	require.Equal(t, domain.CodeInvalid, de.Code, "message: %s", de.Message)
	require.Equal(t, field, de.Field)
	require.NotEmpty(t, de.Message)
}

// A tenant is named by slug or id everywhere, and a UUID is read as an id: a slug shaped
// like one could never be reached by name, so it cannot be claimed.
func TestParseSlug_RejectsUUIDShapedSlugs(t *testing.T) {
	for _, s := range []string{"abcdef01-2345-6789-abcd-ef0123456789", "abcdef0123456789abcdef0123456789"} {
		_, err := domain.ParseSlug(s)
		requireInvalid(t, err, "slug")
		require.Contains(t, err.Error(), "shaped like a tenant id")
	}
	_, err := domain.ParseSlug("abcdef01-2345-6789-abcd-ef012345678x")
	require.NoError(t, err, "not a UUID: an ordinary slug")
}
