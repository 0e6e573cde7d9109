package usage

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tenantry/tenantry/domain"
)

// Metric names what is being metered, such as "api_calls" or "storage_gb".
type Metric struct{ s string }

// ParseMetric accepts a lowercase identifier of 1 to 63 characters.
func ParseMetric(s string) (Metric, error) {
	if !domain.IsKey(s) {
		return Metric{}, domain.Invalid("metric",
			"metric must be 1 to 63 characters of lowercase letters, digits and underscores, starting with a letter")
	}
	return Metric{s: s}, nil
}

// String returns the metric name; empty for the zero value.
func (m Metric) String() string { return m.s }

// IsZero reports whether m is the unset value.
func (m Metric) IsZero() bool { return m.s == "" }

// MarshalText encodes the metric; an unset metric is an error.
func (m Metric) MarshalText() ([]byte, error) {
	if m.IsZero() {
		return nil, fmt.Errorf("cannot encode an unset metric")
	}
	return []byte(m.s), nil
}

// UnmarshalText decodes a metric name.
func (m *Metric) UnmarshalText(b []byte) error {
	v, err := ParseMetric(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Quantity is a positive amount of a metric, at most MaxQuantity, with up to MaxScale
// decimal places where the metric's definition allows them ("1.25" GB). It is exact: n
// units of 10^-scale (at most 10^18, within an int64), normalised (no trailing zero in
// the fraction), so equal quantities are equal values.
type Quantity struct {
	n     int64
	scale int
}

// MaxQuantity is the largest quantity one record may carry: 10^12. It is far above any
// real per-record count (a terabyte in bytes, a trillion calls), and small enough that no
// sum within one request or one event overflows an int64 (a request holds at most a few
// thousand records: 10^15 at most). Sums across requests have no bound (a usage window
// reaches 2^63 after some nine million maximal records): they are Amounts, exact at any
// size, in the read models (numerics), the answers and the billing ledger.
const MaxQuantity int64 = 1_000_000_000_000

func errQuantity() *domain.Error {
	return domain.Invalid("quantity", "quantity must be a whole number from 1 to 1000000000000, written as plain digits")
}

func errDecimalQuantity(scale int) *domain.Error {
	return domain.Invalid("quantity",
		"quantity must be a positive number up to 1000000000000 with at most %d decimal places, written as plain digits (like 1.25)", scale)
}

func errQuantityTooLarge() *domain.Error {
	return domain.LimitExceeded("quantity", "quantity may be at most %d per record; split larger amounts over several records", MaxQuantity)
}

// ParseQuantity accepts the text of a JSON number, as held by json.Number, or
// a string of digits. It is strict: digits only, no sign, fraction, exponent
// or leading zero, and zero is rejected because a record must count something.
// Above MaxQuantity it is a limit error (the HTTP API answers 422). It is
// ParseQuantityScale for a metric of scale 0 (every undeclared metric).
func ParseQuantity(s string) (Quantity, error) {
	n, err := parseDigits(s)
	if err != nil {
		return Quantity{}, err
	}
	return NewQuantity(n)
}

// ParseQuantityScale accepts a quantity of a metric whose definition allows scale decimal
// places (0 to MaxScale): ParseQuantity's form, optionally followed by a point and 1 to
// scale digits ("0.5", "1.25"; "1.50" is 1.5). More places than scale, an exponent, a sign,
// a leading zero or a value of 0 are refused (scale 0: exactly as ParseQuantity); above
// MaxQuantity it is a limit error.
func ParseQuantityScale(s string, scale int) (Quantity, error) {
	if scale <= 0 {
		return ParseQuantity(s)
	}
	if scale > MaxScale {
		scale = MaxScale
	}
	whole, frac, dot := strings.Cut(s, ".")
	if !dot {
		q, err := ParseQuantity(s)
		if err != nil && domain.ErrorCode(err) == domain.CodeInvalid {
			return Quantity{}, errDecimalQuantity(scale) // the message this metric's quantities need
		}
		return q, err
	}
	bad := len(frac) == 0 || len(frac) > scale || whole == "" || len(whole) > 1 && whole[0] == '0'
	for i := 0; i < len(whole) && !bad; i++ {
		bad = whole[i] < '0' || whole[i] > '9'
	}
	for i := 0; i < len(frac) && !bad; i++ {
		bad = frac[i] < '0' || frac[i] > '9'
	}
	if bad {
		return Quantity{}, errDecimalQuantity(scale)
	}
	if len(whole) > 13 { // beyond MaxQuantity whatever its digits
		return Quantity{}, errQuantityTooLarge()
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	f, _ := strconv.ParseInt(frac, 10, 64)
	n := w*pow10Int(len(frac)) + f
	if n == 0 {
		return Quantity{}, errDecimalQuantity(scale)
	}
	if w > MaxQuantity || w == MaxQuantity && f > 0 {
		return Quantity{}, errQuantityTooLarge()
	}
	return Quantity{n: n, scale: len(frac)}.normal(), nil
}

func pow10Int(n int) int64 {
	p := int64(1)
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}

func (q Quantity) normal() Quantity {
	for q.scale > 0 && q.n%10 == 0 {
		q.n /= 10
		q.scale--
	}
	return q
}

// parseDigits reads a canonical positive integer; anything beyond int64 is too large.
func parseDigits(s string) (int64, error) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, errQuantity()
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errQuantity()
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errQuantityTooLarge()
	}
	return n, nil
}

// NewQuantity accepts a positive count computed in code, such as a worker's
// storage measurement, up to MaxQuantity.
func NewQuantity(n int64) (Quantity, error) {
	if n < 1 {
		return Quantity{}, errQuantity()
	}
	if n > MaxQuantity {
		return Quantity{}, errQuantityTooLarge()
	}
	return Quantity{n: n}, nil
}

// AddQuantities is a checked sum of quantities (or of sums of them): ok is false when
// a+b would not fit an int64, so a caller refuses the input instead of wrapping around.
func AddQuantities(a, b int64) (sum int64, ok bool) {
	sum = a + b
	if (b > 0 && sum < a) || (b < 0 && sum > a) {
		return 0, false
	}
	return sum, true
}

// Int64 returns the quantity in whole units, a fraction rounded up (so it bounds the
// quantity from above, for checks of sums); exact for whole quantities, every quantity of
// a metric of scale 0. 0 for the zero value. Exact arithmetic uses Decimal.
func (q Quantity) Int64() int64 {
	if q.scale == 0 {
		return q.n
	}
	p := pow10Int(q.scale)
	return (q.n + p - 1) / p
}

// Decimal returns the quantity exactly.
func (q Quantity) Decimal() Decimal { return NewDecimal(AmountOf(q.n), q.scale) }

// Scale returns how many decimal places the quantity has (0 for a whole number).
func (q Quantity) Scale() int { return q.scale }

// String returns the quantity in plain decimal notation ("12", "1.25").
func (q Quantity) String() string {
	if q.scale == 0 {
		return strconv.FormatInt(q.n, 10)
	}
	return q.Decimal().String()
}

// IsZero reports whether q is the unset value.
func (q Quantity) IsZero() bool { return q.n == 0 }

// MarshalJSON encodes the quantity as a JSON number (a fraction only when it has one); an
// unset quantity is an error.
func (q Quantity) MarshalJSON() ([]byte, error) {
	if q.IsZero() {
		return nil, fmt.Errorf("cannot encode an unset quantity")
	}
	if q.scale == 0 {
		return strconv.AppendInt(nil, q.n, 10), nil
	}
	return []byte(q.String()), nil
}

// UnmarshalJSON decodes a stored quantity: a canonical positive integer that fits an int64,
// or a canonical decimal of up to MaxScale places (no trailing zero). It does not apply
// MaxQuantity to whole numbers, which came later: events are immutable, and records stored
// before it must still replay. Input is parsed with ParseQuantityScale, which applies it.
func (q *Quantity) UnmarshalJSON(b []byte) error {
	s := string(b)
	if strings.IndexByte(s, '.') >= 0 {
		v, err := ParseQuantityScale(s, MaxScale)
		if err != nil || v.String() != s {
			return errDecimalQuantity(MaxScale)
		}
		*q = v
		return nil
	}
	n, err := parseDigits(s)
	if err != nil {
		return err
	}
	*q = Quantity{n: n}
	return nil
}

const maxKeyLen = 255

// IdempotencyKey is chosen by the client per record; retrying a record with
// the same key never counts it twice.
type IdempotencyKey struct{ s string }

// ParseIdempotencyKey accepts 1 to 255 bytes of printable ASCII without
// spaces (0x21 to 0x7E).
func ParseIdempotencyKey(s string) (IdempotencyKey, error) {
	bad := len(s) == 0 || len(s) > maxKeyLen
	for i := 0; i < len(s) && !bad; i++ {
		bad = s[i] < 0x21 || s[i] > 0x7e
	}
	if bad {
		return IdempotencyKey{}, domain.Invalid("idempotency_key",
			"idempotency key must be 1 to %d printable ASCII characters without spaces", maxKeyLen)
	}
	return IdempotencyKey{s: s}, nil
}

// String returns the key; empty for the zero value.
func (k IdempotencyKey) String() string { return k.s }

// IsZero reports whether k is the unset value.
func (k IdempotencyKey) IsZero() bool { return k.s == "" }

// MarshalText encodes the key; an unset key is an error.
func (k IdempotencyKey) MarshalText() ([]byte, error) {
	if k.IsZero() {
		return nil, fmt.Errorf("cannot encode an unset idempotency key")
	}
	return []byte(k.s), nil
}

// UnmarshalText decodes a key.
func (k *IdempotencyKey) UnmarshalText(b []byte) error {
	v, err := ParseIdempotencyKey(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}
