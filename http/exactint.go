package httpapi

import (
	"math/big"
	"strconv"
)

// exactInt is an integer of any size in an answer: a JSON number while every JSON parser
// reads it exactly (at most 2^53-1 either way, I-JSON, RFC 7493), otherwise a JSON string of
// its decimal digits, which no parser rounds. Usage totals have no bound (a window's, a
// day's or a month's), and a JavaScript client would silently read 2^53+1 as 2^53.
type exactInt struct{ v *big.Int }

// maxSafeJSONInt is 2^53-1, the largest integer a double holds with all its neighbours.
const maxSafeJSONInt = 1<<53 - 1

var (
	safeMax = big.NewInt(maxSafeJSONInt)
	safeMin = big.NewInt(-maxSafeJSONInt)
)

func exact(v *big.Int) exactInt { return exactInt{v: v} }

// MarshalJSON writes a number or a string of digits (see exactInt); nil is 0.
func (e exactInt) MarshalJSON() ([]byte, error) {
	if e.v == nil {
		return []byte("0"), nil
	}
	if e.v.Cmp(safeMax) <= 0 && e.v.Cmp(safeMin) >= 0 {
		return strconv.AppendInt(nil, e.v.Int64(), 10), nil
	}
	return strconv.AppendQuote(nil, e.v.String()), nil
}
