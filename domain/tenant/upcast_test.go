package tenant_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tenantry/tenantry/domain/tenant"
)

func TestUpcastSuspendedV1_MapsKnownTextsAndKeepsTheRest(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"PaymentFailedWords", `{"reason":"payment failed"}`, `{"reason":"payment_failed","note":""}`},
		{"PaymentFailedCode", `{"reason":"payment_failed"}`, `{"reason":"payment_failed","note":""}`},
		{"PaymentFailedShouting", `{"reason":"  Payment-Failed "}`, `{"reason":"payment_failed","note":""}`},
		{"TermsViolation", `{"reason":"terms violation"}`, `{"reason":"terms_violation","note":""}`},
		{"Operator", `{"reason":"operator"}`, `{"reason":"operator","note":""}`},
		{"FreeTextKeptInNote", `{"reason":"customer asked to pause"}`, `{"reason":"operator","note":"customer asked to pause"}`},
		{"EmptyText", `{"reason":""}`, `{"reason":"operator","note":""}`},
		{"MissingReason", `{}`, `{"reason":"operator","note":""}`},
		{"NullReason", `{"reason":null}`, `{"reason":"operator","note":""}`},
		{"UnknownFieldsIgnored", `{"reason":"fraud","by":"ops"}`, `{"reason":"operator","note":"fraud"}`},
		{"Whitespace", " \n{\"reason\":\"payment failed\"}\n", `{"reason":"payment_failed","note":""}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tenant.UpcastSuspendedV1([]byte(tt.in))
			require.NoError(t, err)
			require.JSONEq(t, tt.want, string(out))

			var v2 tenant.Suspended
			require.NoError(t, json.Unmarshal(out, &v2))
			tn := given(t, created(t), &v2)
			require.Equal(t, tenant.StatusSuspended, tn.Status())
			require.False(t, tn.SuspendReason().IsZero())
		})
	}
}

func TestUpcastSuspendedV1_RejectsMalformedPayloads(t *testing.T) {
	for _, in := range []string{``, `not json`, `null`, `[]`, `"payment failed"`, `{"reason":5}`, `{"reason":"x"`, `{"reason":"x"} trailing`} {
		t.Run(in, func(t *testing.T) {
			out, err := tenant.UpcastSuspendedV1([]byte(in))
			require.Error(t, err)
			require.Nil(t, out)
			require.Contains(t, err.Error(), "tenant.suspended v1")
		})
	}
}
