package api_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/http/api"
)

// A list answer always carries its items, next_cursor (null on the last page) and has_more:
// the API's lists and `tenantry tenants list --json` embed the same Page.
func TestPage_AListAnswerAlwaysCarriesItsThreeKeys(t *testing.T) {
	b, err := json.Marshal(api.MemberList{Members: []api.Member{}})
	require.NoError(t, err)
	require.JSONEq(t, `{"members":[],"next_cursor":null,"has_more":false}`, string(b))

	next := "Y3Vyc29y"
	b, err = json.Marshal(api.MemberList{Members: []api.Member{}, Page: api.Page{NextCursor: &next, HasMore: true}})
	require.NoError(t, err)
	require.JSONEq(t, `{"members":[],"next_cursor":"Y3Vyc29y","has_more":true}`, string(b))
}
