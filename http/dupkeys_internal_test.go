package httpapi

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// repeatedKey finds a key given twice in one object, compared without case and after
// unescaping, at any depth and in objects of any size; keys repeated across objects or
// inside strings are not repeats. Its common case allocates nothing.
func TestRepeatedKey_FindsRepeatsWithinOneObjectOnly(t *testing.T) {
	var many strings.Builder
	many.WriteString(`{`)
	for i := range 40 {
		many.WriteString(`"k` + strings.Repeat("x", i) + `":1,`)
	}
	for _, tc := range []struct {
		body, key string
	}{
		{`{"metric":"a","quantity":3}`, ""},
		{`{"metric":"a","metric":"b"}`, "metric"},
		{`{"metric":"a","Metric":"b"}`, "Metric"},
		{`{"n\u0061me":"a","name":"b"}`, "name"},
		{`{"\u212a":1,"k":2}`, "k"}, // the Kelvin sign folds to k, as encoding/json matches it
		{`{"a":{"k":1},"b":{"k":2}}`, ""},
		{`{"a":[{"k":1},{"k":2}],"k":3}`, ""},
		{`{"a":"\"k\":1,\"k\":2"}`, ""},
		{`{"a":{"k":1,"b":{"k":2},"K":3}}`, "K"},
		{many.String() + `"other":{"kx":1,"KX":2}}`, "KX"},
		{many.String() + `"KXXXXX":2}`, "KXXXXX"}, // beyond the pairwise keys
		{many.String() + `"last":2}`, ""},
	} {
		key, ok := repeatedKey([]byte(tc.body))
		require.Equal(t, tc.key != "", ok, "%.60s", tc.body)
		require.Equal(t, tc.key, key, "%.60s", tc.body)
	}
	body := []byte(`{"metric":"api_calls","quantity":3,"nested":{"metric":"x"}}`)
	require.Zero(t, testing.AllocsPerRun(100, func() { repeatedKey(body) }))
}
