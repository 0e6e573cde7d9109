package api_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/http/api"
)

// A check's quantity is written as a JSON number (a generated client's and the Go client's
// request alike), left out when absent, and never written as something that is not a number.
func TestQuantity_IsWrittenAsAJSONNumber(t *testing.T) {
	b, err := json.Marshal(api.EntitlementCheckRequest{Metric: "api_calls", Quantity: "2.5"})
	require.NoError(t, err)
	require.Equal(t, `{"metric":"api_calls","quantity":2.5}`, string(b))
	b, err = json.Marshal(api.EntitlementCheckRequest{Feature: "sso"})
	require.NoError(t, err)
	require.Equal(t, `{"feature":"sso"}`, string(b))
	_, err = json.Marshal(api.EntitlementCheckRequest{Metric: "api_calls", Quantity: "lots"})
	require.Error(t, err)

	var back api.EntitlementCheckRequest
	require.NoError(t, json.Unmarshal([]byte(`{"metric":"m","quantity":-0.5e1}`), &back))
	require.Equal(t, api.Quantity("-0.5e1"), back.Quantity, "kept as written: the domain refuses what it must")
	var typeErr *json.UnmarshalTypeError
	require.ErrorAs(t, json.Unmarshal([]byte(`{"metric":"m","quantity":"3"}`), &back), &typeErr)
	require.Equal(t, "quantity", typeErr.Field)
}
