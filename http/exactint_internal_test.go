package httpapi

import (
	"encoding/json"
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"
)

// An exactInt is a JSON number while a double holds it and its neighbours (up to 2^53-1
// either way), a string of digits beyond; nil (no usage) is 0, not null.
func TestExactInt_NumberUpTo2To53Minus1ThenAStringOfDigits(t *testing.T) {
	beyond := new(big.Int).Lsh(big.NewInt(1), 53)
	for v, want := range map[string]string{"0": "0", "9007199254740991": "9007199254740991",
		"-9007199254740991": "-9007199254740991", beyond.String(): `"9007199254740992"`, "-" + beyond.String(): `"-9007199254740992"`} {
		n, ok := new(big.Int).SetString(v, 10)
		require.True(t, ok)
		b, err := json.Marshal(exact(n))
		require.NoError(t, err)
		require.Equal(t, want, string(b))
	}
	b, err := json.Marshal(exactInt{})
	require.NoError(t, err)
	require.Equal(t, "0", string(b), "no usage is 0, not null")
}
