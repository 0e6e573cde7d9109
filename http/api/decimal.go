package api

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
)

// ExactDecimal is an exact decimal number of any size in an answer (usage totals and
// readings of metrics that allow decimal places). A whole number is written as ExactInt
// writes it (a JSON number up to 2^53-1 either way, otherwise a string of digits); a
// number with a fraction is a JSON number while it has at most 15 significant digits (a
// double reads it back to the same 15 digits), otherwise a string ("123456789012.345678").
// The zero value is 0.
type ExactDecimal struct{ s string }

// MaxSafeJSONDigits is the most significant digits a number with a fraction keeps as a
// JSON number.
const MaxSafeJSONDigits = 15

// isPlainDecimal reports whether s is in plain decimal notation without redundant zeros:
// ^-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$ (FuzzPlainDecimal holds it to that expression). It
// sits under every decimal of every answer, so it is a loop rather than the regexp.
func isPlainDecimal(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i == len(s) || !isDigit(s[i]):
		return false
	case s[i] == '0':
		i++
	default:
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i == len(s) {
		return true
	}
	if s[i] != '.' || i+1 == len(s) || s[len(s)-1] == '0' {
		return false
	}
	for i++; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// Decimal is s (plain decimal notation without trailing fraction zeros, as
// usage.Decimal.String writes it) as an ExactDecimal; "" is 0.
func Decimal(s string) ExactDecimal { return ExactDecimal{s: s} }

// String returns the decimal in plain notation ("0" for the zero value).
func (e ExactDecimal) String() string {
	if e.s == "" {
		return "0"
	}
	return e.s
}

// Rat returns the value as a new big.Rat.
func (e ExactDecimal) Rat() *big.Rat {
	r, _ := new(big.Rat).SetString(e.String())
	if r == nil {
		return new(big.Rat)
	}
	return r
}

// MarshalJSON writes a number or a string (see ExactDecimal).
func (e ExactDecimal) MarshalJSON() ([]byte, error) {
	s := e.String()
	if !isPlainDecimal(s) {
		return nil, fmt.Errorf("api: %q is not a plain decimal", s)
	}
	whole, frac, dot := strings.Cut(s, ".")
	if !dot {
		if len(strings.TrimPrefix(whole, "-")) <= MaxSafeJSONDigits && s != "-0" { // below 2^53: no big.Int
			return []byte(s), nil
		}
		v, _ := new(big.Int).SetString(whole, 10)
		return Exact(v).MarshalJSON()
	}
	digits := strings.TrimLeft(strings.TrimPrefix(whole, "-")+frac, "0")
	if len(digits) <= MaxSafeJSONDigits {
		return []byte(s), nil
	}
	return json.Marshal(s)
}

// UnmarshalJSON reads a JSON number or string in plain decimal notation.
func (e *ExactDecimal) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	if !isPlainDecimal(s) {
		return fmt.Errorf("api: %q is not an exact decimal", b)
	}
	e.s = s
	return nil
}
