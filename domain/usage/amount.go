package usage

import (
	"fmt"
	"math/big"
	"strconv"
)

// Amount is an exact whole number of units of any size: a sum of quantities, such as a
// usage window's total, or what Stripe was told of it. Each record is bounded
// (MaxQuantity) and so is each request, but nothing bounds how many requests add to one
// window, so such sums are never held in an int64. The zero value is 0; an Amount is
// immutable (every operation returns a new one), and two equal amounts are equal Go values.
type Amount struct {
	n   int64
	big *big.Int // set only when the value does not fit an int64
}

// maxAmountDigits bounds the decimal digits of a stored amount (far beyond any sum of
// quantities), so decoding one costs bounded work whatever a document holds.
const maxAmountDigits = 100

// AmountOf returns n as an amount.
func AmountOf(n int64) Amount { return Amount{n: n} }

// AmountFromBig returns b as an amount (b is not retained); nil is 0.
func AmountFromBig(b *big.Int) Amount {
	if b == nil {
		return Amount{}
	}
	if b.IsInt64() {
		return Amount{n: b.Int64()}
	}
	return Amount{big: new(big.Int).Set(b)}
}

// ParseAmount reads a canonical decimal integer: an optional minus sign, then digits
// without a leading zero (at most 100).
func ParseAmount(s string) (Amount, error) {
	digits := s
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	ok := len(digits) > 0 && len(digits) <= maxAmountDigits && (digits[0] != '0' || len(digits) == 1) && s != "-0"
	for i := 0; i < len(digits) && ok; i++ {
		ok = digits[i] >= '0' && digits[i] <= '9'
	}
	if !ok {
		return Amount{}, fmt.Errorf("amount %.40q is not a whole number written as plain digits", s)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return Amount{n: n}, nil
	}
	b, _ := new(big.Int).SetString(s, 10)
	return Amount{big: b}, nil
}

// Big returns the amount as a new big.Int.
func (a Amount) Big() *big.Int {
	if a.big != nil {
		return new(big.Int).Set(a.big)
	}
	return big.NewInt(a.n)
}

// Int64 returns the amount and true when it fits an int64.
func (a Amount) Int64() (int64, bool) { return a.n, a.big == nil }

// Add returns a+b, exactly.
func (a Amount) Add(b Amount) Amount {
	if a.big == nil && b.big == nil {
		if s, ok := AddQuantities(a.n, b.n); ok {
			return Amount{n: s}
		}
	}
	return AmountFromBig(new(big.Int).Add(a.Big(), b.Big()))
}

// Sub returns a-b, exactly.
func (a Amount) Sub(b Amount) Amount {
	if a.big == nil && b.big == nil {
		if d := a.n - b.n; (b.n >= 0 && d <= a.n) || (b.n < 0 && d > a.n) {
			return Amount{n: d}
		}
	}
	return AmountFromBig(new(big.Int).Sub(a.Big(), b.Big()))
}

// Cmp compares a and b: -1, 0 or +1.
func (a Amount) Cmp(b Amount) int {
	if a.big == nil && b.big == nil {
		switch {
		case a.n < b.n:
			return -1
		case a.n > b.n:
			return 1
		}
		return 0
	}
	return a.Big().Cmp(b.Big())
}

// Sign returns -1, 0 or +1.
func (a Amount) Sign() int {
	if a.big != nil {
		return a.big.Sign()
	}
	switch {
	case a.n < 0:
		return -1
	case a.n > 0:
		return 1
	}
	return 0
}

// String returns the amount in decimal.
func (a Amount) String() string {
	if a.big != nil {
		return a.big.String()
	}
	return strconv.FormatInt(a.n, 10)
}

// MarshalJSON writes the amount as a JSON integer of as many digits as it takes (an
// amount within an int64 is written exactly as an int64 field was).
func (a Amount) MarshalJSON() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalJSON reads a JSON integer of any size (ParseAmount's form).
func (a *Amount) UnmarshalJSON(b []byte) error {
	v, err := ParseAmount(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// SplitEvenly splits a positive amount into n parts as equal as possible, the larger ones
// first: every part is floor(a/n) or one more, and they add up to a. Each part fits an
// int64 when n ≥ a/2^63. Nil when a is not positive or n < 1.
func (a Amount) SplitEvenly(n int) []Amount {
	if a.Sign() <= 0 || n < 1 {
		return nil
	}
	q, r := new(big.Int).QuoRem(a.Big(), big.NewInt(int64(n)), new(big.Int))
	extra := int(r.Int64()) // r < n
	out := make([]Amount, n)
	base := AmountFromBig(q)
	for i := range out {
		out[i] = base
		if i < extra {
			out[i] = base.Add(AmountOf(1))
		}
	}
	return out
}
