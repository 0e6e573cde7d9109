package usage

import (
	"fmt"
	"math/big"
	"strings"
)

// Decimal is an exact decimal number of any size: Units × 10^-Scale. It is what usage
// adds up once quantities may carry decimals (a metric's Scale): sums, maxima and the
// values told to Stripe, never floating point. It is kept normalised (no trailing zero in
// its fraction, scale 0 for a whole number), so a whole Decimal is exactly its Amount, and
// it encodes as that Amount did (a JSON integer). The zero value is 0; a Decimal is
// immutable.
type Decimal struct {
	units Amount
	scale int
}

// maxDecimalScale bounds the fraction digits a stored decimal may have (a read model's
// numeric may show trailing zeros beyond a metric's scale).
const maxDecimalScale = 30

// DecimalOf returns the whole amount a as a decimal.
func DecimalOf(a Amount) Decimal { return Decimal{units: a} }

// NewDecimal returns units × 10^-scale (scale 0 to 30), normalised.
func NewDecimal(units Amount, scale int) Decimal {
	if scale < 0 || scale > maxDecimalScale {
		panic(fmt.Sprintf("usage: decimal scale %d out of range", scale))
	}
	return Decimal{units: units, scale: scale}.normal()
}

var bigTen = big.NewInt(10)

// normal strips trailing zeros of the fraction.
func (d Decimal) normal() Decimal {
	if d.scale == 0 {
		return d
	}
	if n, ok := d.units.Int64(); ok {
		for d.scale > 0 && n%10 == 0 {
			n /= 10
			d.scale--
		}
		d.units = AmountOf(n)
		return d
	}
	b := d.units.Big()
	m := new(big.Int)
	for d.scale > 0 {
		q, r := new(big.Int).QuoRem(b, bigTen, m)
		if r.Sign() != 0 {
			break
		}
		b = q
		d.scale--
	}
	d.units = AmountFromBig(b)
	return d
}

// ParseDecimal reads a decimal as written by String or by PostgreSQL for a numeric: an
// optional minus sign, digits without a leading zero, then optionally a point and 1 to 30
// digits (trailing zeros allowed; the value is normalised).
func ParseDecimal(s string) (Decimal, error) {
	whole, frac, dot := strings.Cut(s, ".")
	neg := strings.HasPrefix(whole, "-")
	if neg && whole == "-0" && dot {
		whole = "0" // "-0.5"
	}
	w, err := ParseAmount(whole)
	ok := err == nil && (!dot || len(frac) > 0 && len(frac) <= maxDecimalScale)
	for i := 0; i < len(frac) && ok; i++ {
		ok = frac[i] >= '0' && frac[i] <= '9'
	}
	if !ok {
		return Decimal{}, fmt.Errorf("decimal %.40q is not a plain decimal number", s)
	}
	if !dot {
		return Decimal{units: w}, nil
	}
	f, _ := new(big.Int).SetString(frac, 10)
	units := new(big.Int).Mul(new(big.Int).Abs(w.Big()), pow10(len(frac)))
	units.Add(units, f)
	if neg {
		units.Neg(units)
	}
	return NewDecimal(AmountFromBig(units), len(frac)), nil
}

// Scale returns how many fraction digits d has (0 for a whole number).
func (d Decimal) Scale() int { return d.scale }

// Amount returns d as a whole amount; ok is false when d has a fraction.
func (d Decimal) Amount() (a Amount, ok bool) { return d.units, d.scale == 0 }

// Units returns d × 10^scale and true when that is a whole number (scale ≥ d.Scale()).
func (d Decimal) Units(scale int) (Amount, bool) {
	if scale < d.scale {
		return Amount{}, false
	}
	if scale == d.scale {
		return d.units, true
	}
	return AmountFromBig(new(big.Int).Mul(d.units.Big(), pow10(scale-d.scale))), true
}

func pow10(n int) *big.Int { return new(big.Int).Exp(bigTen, big.NewInt(int64(n)), nil) }

// align returns both decimals' units at their common scale.
func align(a, b Decimal) (x, y Amount, scale int) {
	scale = max(a.scale, b.scale)
	x, _ = a.Units(scale)
	y, _ = b.Units(scale)
	return x, y, scale
}

// Add returns d+e, exactly.
func (d Decimal) Add(e Decimal) Decimal {
	if d.scale == e.scale {
		return Decimal{units: d.units.Add(e.units), scale: d.scale}.normal()
	}
	x, y, s := align(d, e)
	return Decimal{units: x.Add(y), scale: s}.normal()
}

// Sub returns d-e, exactly.
func (d Decimal) Sub(e Decimal) Decimal {
	x, y, s := align(d, e)
	return Decimal{units: x.Sub(y), scale: s}.normal()
}

// Cmp compares d and e: -1, 0 or +1.
func (d Decimal) Cmp(e Decimal) int {
	if d.scale == e.scale {
		return d.units.Cmp(e.units)
	}
	x, y, _ := align(d, e)
	return x.Cmp(y)
}

// Sign returns -1, 0 or +1.
func (d Decimal) Sign() int { return d.units.Sign() }

// Equal reports whether d and e are the same number.
func (d Decimal) Equal(e Decimal) bool { return d.Cmp(e) == 0 }

// String returns d in plain decimal notation, without trailing zeros ("1.25", "-0.5", "7").
func (d Decimal) String() string {
	s := d.units.String()
	if d.scale == 0 {
		return s
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if len(s) <= d.scale {
		s = strings.Repeat("0", d.scale-len(s)+1) + s
	}
	s = s[:len(s)-d.scale] + "." + s[len(s)-d.scale:]
	if neg {
		s = "-" + s
	}
	return s
}

// MarshalJSON writes d as a JSON number of as many digits as it takes (a whole decimal
// exactly as an Amount).
func (d Decimal) MarshalJSON() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalJSON reads a JSON number in ParseDecimal's form (no exponent).
func (d *Decimal) UnmarshalJSON(b []byte) error {
	v, err := ParseDecimal(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
