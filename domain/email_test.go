package domain_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tenantry/tenantry/domain"
)

func TestParseEmail_AcceptsPlainAddressesAndLowercasesThem(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ana@example.com", "ana@example.com"},
		{"Ana@Example.COM", "ana@example.com"},
		{"  ana@example.com\t", "ana@example.com"},
		{"first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"},
		{"o'brien@example.ie", "o'brien@example.ie"},
		{"a@b-c.io", "a@b-c.io"},
		{strings.Repeat("a", 64) + "@example.com", strings.Repeat("a", 64) + "@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := domain.ParseEmail(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got.String())
		})
	}
}

func TestParseEmail_RejectsAnythingButABareAddress(t *testing.T) {
	longDomain := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 50) + ".com"
	tests := []struct{ name, in string }{
		{"Empty", ""},
		{"Spaces", "   "},
		{"NoAt", "ana"},
		{"NoLocal", "@example.com"},
		{"NoDomain", "ana@"},
		{"DomainWithoutDot", "ana@localhost"},
		{"DisplayName", "Ana <ana@example.com>"},
		{"AngleBrackets", "<ana@example.com>"},
		{"Comment", "ana@example.com (home)"},
		{"QuotedLocal", `"ana"@example.com`},
		{"QuotedLocalWithSpace", `"ana b"@example.com`},
		{"TwoAts", "ana@@example.com"},
		{"AtInLocal", "a@b@example.com"},
		{"DomainLiteral", "ana@[127.0.0.1]"},
		{"LabelStartsWithHyphen", "ana@-example.com"},
		{"EmptyLabel", "ana@example..com"},
		{"LeadingDot", "ana@.example.com"},
		{"TrailingDotLocal", "ana.@example.com"},
		{"UnderscoreInDomain", "ana@exam_ple.com"},
		{"NonASCII", "anä@example.com"},
		{"InnerSpace", "ana @example.com"},
		{"LocalTooLong", strings.Repeat("a", 65) + "@example.com"},
		{"TooLong", "a@" + longDomain + strings.Repeat("e", 254-len(longDomain))},
		{"TwoAddresses", "a@example.com, b@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := domain.ParseEmail(tt.in)
			requireInvalid(t, err, "email")
		})
	}
}

func TestEmail_JSONRoundTripAndStoredDecoding(t *testing.T) {
	e, err := domain.ParseEmail("Ana@Example.com")
	require.NoError(t, err)
	b, err := json.Marshal(e)
	require.NoError(t, err)
	require.Equal(t, `"ana@example.com"`, string(b))
	var back domain.Email
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, e, back)

	_, err = json.Marshal(domain.Email{})
	require.Error(t, err)
	for _, bad := range []string{`""`, `"Ana@example.com"`, `"ana"`, `"ana@example"`, `"a b@example.com"`} {
		require.Error(t, json.Unmarshal([]byte(bad), &back), bad)
	}
}
