package plans

import (
	"fmt"

	"strings"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
)

// Interval is how often a subscription is billed.
type Interval struct{ s string }

// The billing intervals.
var (
	Monthly = Interval{"monthly"}
	Yearly  = Interval{"yearly"}
)

// Intervals lists every interval, shortest first.
func Intervals() []Interval { return []Interval{Monthly, Yearly} }

// ParseInterval accepts "monthly" or "yearly".
func ParseInterval(s string) (Interval, error) {
	for _, i := range Intervals() {
		if i.s == s {
			return i, nil
		}
	}
	return Interval{}, domain.Invalid("interval", "interval must be monthly or yearly")
}

// String returns the interval's name; empty for the zero value.
func (i Interval) String() string { return i.s }

// IsZero reports whether i is the unset value.
func (i Interval) IsZero() bool { return i.s == "" }

// OrMonthly is i, or Monthly when i is unset: an interval not given is monthly, as every
// subscription was before the catalog.
func (i Interval) OrMonthly() Interval {
	if i.IsZero() {
		return Monthly
	}
	return i
}

// MarshalText encodes the interval; an unset interval is an error.
func (i Interval) MarshalText() ([]byte, error) {
	if i.IsZero() {
		return nil, fmt.Errorf("cannot encode an unset interval")
	}
	return []byte(i.s), nil
}

// UnmarshalText decodes an interval.
func (i *Interval) UnmarshalText(b []byte) error {
	v, err := ParseInterval(string(b))
	if err != nil {
		return err
	}
	*i = v
	return nil
}

// Beyond says what happens to usage of a metric past its included quota: hard refuses it,
// soft allows it and alerts, overage allows it and bills it through the metric's meter.
type Beyond struct{ s string }

// The behaviours beyond a quota.
var (
	BeyondHard    = Beyond{"hard"}
	BeyondSoft    = Beyond{"soft"}
	BeyondOverage = Beyond{"overage"}
)

// ParseBeyond accepts "hard", "soft" or "overage".
func ParseBeyond(s string) (Beyond, error) {
	for _, b := range []Beyond{BeyondHard, BeyondSoft, BeyondOverage} {
		if b.s == s {
			return b, nil
		}
	}
	return Beyond{}, domain.Invalid("beyond", "beyond must be hard, soft or overage")
}

// String returns the behaviour's name; empty for the zero value.
func (b Beyond) String() string { return b.s }

// MarshalText encodes the behaviour; an unset one is an error.
func (b Beyond) MarshalText() ([]byte, error) {
	if b.s == "" {
		return nil, fmt.Errorf("cannot encode an unset beyond")
	}
	return []byte(b.s), nil
}

// UnmarshalText decodes a behaviour.
func (b *Beyond) UnmarshalText(t []byte) error {
	v, err := ParseBeyond(string(t))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// maxQuotaDigits bounds a quota's whole digits, so that its value in units of the
// metric's smallest step (Units) always fits an int64.
const maxQuotaDigits = 12

// Decimal is an exact non-negative decimal such as a quota ("1000", "2.5"): a usage.Decimal
// (the type usage sums are, so a quota compares with usage directly) written in the catalog's
// stricter form. Equal quantities are equal values, so a plan written "10.50" and "10.5" is
// the same plan.
type Decimal struct{ d usage.Decimal }

// ParseDecimal reads digits with an optional fractional part of at most maxScale digits
// once trailing zeros are dropped; no sign, exponent or spaces; leading zeros are allowed.
func ParseDecimal(s string, maxScale int) (Decimal, error) {
	whole, frac, hasPoint := strings.Cut(s, ".")
	if !digitsOnly(whole) || hasPoint && !digitsOnly(frac) {
		return Decimal{}, fmt.Errorf("%.40q is not a plain decimal number such as 1000 or 2.5", s)
	}
	whole = strings.TrimLeft(whole, "0")
	frac = strings.TrimRight(frac, "0")
	if len(whole) > maxQuotaDigits {
		return Decimal{}, fmt.Errorf("%.40q has more than %d digits before the point", s, maxQuotaDigits)
	}
	if len(frac) > maxScale {
		return Decimal{}, fmt.Errorf("%.40q has more decimal places than the metric's scale (%d)", s, maxScale)
	}
	if whole == "" {
		whole = "0"
	}
	canonical := whole
	if frac != "" {
		canonical += "." + frac
	}
	d, err := usage.ParseDecimal(canonical)
	if err != nil {
		return Decimal{}, fmt.Errorf("%.40q is not a plain decimal number such as 1000 or 2.5", s)
	}
	return Decimal{d}, nil
}

func digitsOnly(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String returns the canonical form; "0" for the zero value.
func (d Decimal) String() string { return d.d.String() }

// Usage returns d as the exact decimal usage is measured in.
func (d Decimal) Usage() usage.Decimal { return d.d }

// Units returns d in units of 10^-scale (d × 10^scale) and whether that is exact: 2.5 at
// scale 3 is 2500. Quotas parsed for a metric are exact at its scale (at most 6, and at
// most 12 whole digits: the units fit an int64).
func (d Decimal) Units(scale int) (int64, bool) {
	if scale > usage.MaxScale {
		return 0, false
	}
	a, ok := d.d.Units(scale)
	if !ok {
		return 0, false
	}
	return a.Int64()
}

// MarshalText encodes the canonical form.
func (d Decimal) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText decodes a canonical decimal of any scale up to 6 (stored events).
func (d *Decimal) UnmarshalText(b []byte) error {
	v, err := ParseDecimal(string(b), 6)
	if err != nil {
		return err
	}
	*d = v
	return nil
}
