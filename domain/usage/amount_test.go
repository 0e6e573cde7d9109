package usage_test

import (
	"encoding/json"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/usage"
)

func TestAmount_SumsExactlyBeyondAnInt64AndEqualValuesAreEqual(t *testing.T) {
	max := usage.AmountOf(math.MaxInt64)
	two := max.Add(max)
	require.Equal(t, "18446744073709551614", two.String())
	_, fits := two.Int64()
	require.False(t, fits)
	require.Equal(t, max, two.Sub(max), "back within an int64, an amount is the plain value again")
	require.Equal(t, usage.AmountOf(0), two.Sub(two))
	require.Equal(t, usage.Amount{}, usage.AmountOf(0), "the zero value is 0")
	require.Equal(t, 1, two.Cmp(max))
	require.Equal(t, -1, max.Cmp(two))
	require.Equal(t, 0, two.Cmp(usage.AmountFromBig(new(big.Int).Lsh(big.NewInt(1), 64)).Sub(usage.AmountOf(2))))
	require.Equal(t, -1, usage.AmountOf(-5).Sign())
	p, err := usage.ParseAmount("18446744073709551614")
	require.NoError(t, err)
	require.Equal(t, two, p, "a parsed amount equals the computed one")
}

func TestAmount_JSONIsAnIntegerOfAnySizeAndStrict(t *testing.T) {
	for _, s := range []string{"0", "7", "-3", "9223372036854775807", "18446744073709551619", strings.Repeat("9", 100)} {
		var a usage.Amount
		require.NoError(t, json.Unmarshal([]byte(s), &a), s)
		b, err := json.Marshal(a)
		require.NoError(t, err)
		require.Equal(t, s, string(b), "written back as it was read")
	}
	for _, s := range []string{"", "-", "-0", "01", "1.0", "1e3", `"5"`, "+1", "null", strings.Repeat("9", 101)} {
		var a usage.Amount
		require.Error(t, json.Unmarshal([]byte(s), &a), "%q", s)
	}
}

func TestAmount_SplitEvenlyAddsUpAndDiffersByOneAtMost(t *testing.T) {
	a, err := usage.ParseAmount("9223372036854775808")
	require.NoError(t, err)
	parts := a.SplitEvenly(9224)
	require.Len(t, parts, 9224)
	sum := usage.Amount{}
	for i, p := range parts {
		sum = sum.Add(p)
		require.True(t, p.Cmp(parts[0]) <= 0 && parts[len(parts)-1].Cmp(p) <= 0, "larger parts first (%d)", i)
	}
	require.Equal(t, a, sum)
	require.True(t, parts[0].Sub(parts[len(parts)-1]).Cmp(usage.AmountOf(1)) <= 0)
	require.Equal(t, []usage.Amount{usage.AmountOf(4), usage.AmountOf(3), usage.AmountOf(3)}, usage.AmountOf(10).SplitEvenly(3))
	require.Nil(t, usage.AmountOf(0).SplitEvenly(2))
	require.Nil(t, usage.AmountOf(5).SplitEvenly(0))
}

// Sum and difference of int64 amounts take a fast path without big.Int; at and beyond the
// int64 edges they must still equal big.Int arithmetic, and a result back within an int64
// must be the plain value (Amount equality).
func TestAmount_AddAndSubEqualBigArithmeticAtTheInt64Edges(t *testing.T) {
	edges := []int64{math.MinInt64, math.MinInt64 + 1, -2, -1, 0, 1, 2, math.MaxInt64 - 1, math.MaxInt64}
	for _, a := range edges {
		for _, b := range edges {
			x, y := usage.AmountOf(a), usage.AmountOf(b)
			wantSum := new(big.Int).Add(big.NewInt(a), big.NewInt(b))
			wantDiff := new(big.Int).Sub(big.NewInt(a), big.NewInt(b))
			require.Equal(t, usage.AmountFromBig(wantSum), x.Add(y), "%d + %d", a, b)
			require.Equal(t, usage.AmountFromBig(wantDiff), x.Sub(y), "%d - %d", a, b)
			require.Equal(t, wantDiff.String(), x.Sub(y).String(), "%d - %d", a, b)
		}
	}
}
